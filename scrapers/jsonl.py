"""Documents a user already has: one JSON object a line (``mkb-monitor import FILE.jsonl``).

Fields: ``id`` or ``url`` (at least one), ``title``, ``text``, and optionally ``published``
(ISO 8601), ``kind`` (default "document"), ``source`` (default: this source's name),
``dossiers``, ``meta``. A bad line is a per-item failure that names its line number; the good
lines around it are stored all the same.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from monitor.errors import ConfigError, ParseError
from scrapers.base import Batch, Document, Fetcher, Item, Response

BATCH_LINES = 500
FIELDS = {"id", "url", "title", "text", "published", "kind", "source", "dossiers", "meta"}


class JsonlSource:
    kind: ClassVar[str] = "jsonl"

    @dataclass(frozen=True)
    class Options:
        path: str

    def __init__(self, name: str, options: "JsonlSource.Options") -> None:
        self.name = name
        self.options = options

    def discover(self, fetcher: Fetcher | None, cursor: str | None) -> Iterator[Batch]:
        path = Path(self.options.path)
        try:
            handle = path.open(encoding="utf-8", errors="strict", newline="")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        items: list[Item] = []
        with handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    items.append(_item(number, line))
                if len(items) >= BATCH_LINES:
                    yield Batch(items)
                    items = []
        if items:
            yield Batch(items)

    def fetch(self, fetcher: Fetcher | None, item: Item) -> list[Response]:
        return []

    def parse(self, item: Item, responses: list[Response]) -> Document:
        line = item.data["line"]
        if "error" in item.data:
            raise ParseError(f"line {line}: {item.data['error']}")
        obj = item.data["record"]
        unknown = sorted(set(obj) - FIELDS)
        if unknown:
            raise ParseError(f"line {line}: unknown field {unknown[0]!r} (known: {', '.join(sorted(FIELDS))})")
        if not (obj.get("id") or obj.get("url")):
            raise ParseError(f"line {line}: needs an 'id' or a 'url'")
        for name in ("title", "text"):
            if not isinstance(obj.get(name), str) or not obj[name].strip():
                raise ParseError(f"line {line}: '{name}' must be a non-empty string")
        published = obj.get("published")
        if published is not None:
            try:
                datetime.fromisoformat(str(published).replace("Z", "+00:00"))
            except ValueError:
                raise ParseError(f"line {line}: 'published' is not an ISO 8601 date: {published!r}") from None
        return Document(source=obj.get("source") or self.name, source_key=item.key, url=obj.get("url"),
                        title=obj["title"].strip(), text=obj["text"], kind=obj.get("kind") or "document",
                        published=published, id=obj.get("id"), dossiers=[str(d) for d in obj.get("dossiers", [])],
                        meta=obj.get("meta") or {})


def _item(number: int, line: str) -> Item:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return Item(key=f"line:{number}", data={"line": number, "error": f"not valid JSON ({exc.msg}, column {exc.colno})"})
    if not isinstance(obj, dict):
        return Item(key=f"line:{number}", data={"line": number, "error": "not a JSON object"})
    digest = hashlib.sha256(line.strip().encode()).hexdigest()[:16]
    key = str(obj.get("id") or obj.get("url") or digest)
    return Item(key=key, url=obj.get("url") if isinstance(obj.get("url"), str) else None,
                data={"line": number, "record": obj}, version=digest)
