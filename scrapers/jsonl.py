"""Documents a user already has: one JSON object a line (``mkb-monitor import FILE.jsonl``).

Fields: ``id`` or ``url`` (at least one), ``title``, ``text``, and optionally ``published`` (a
date as ``scrapers.dates`` reads it; ISO 8601 is kept as written), ``kind`` (default
"document"), ``source`` (default: this source's name), ``dossiers``, ``meta``.

Every line stands on its own: a line that is not UTF-8, not JSON, longer than ``max_line_bytes``
or not a valid record is a per-item failure naming the file and the line, and the good lines
around it are stored all the same (a whole file in Latin-1 gives one error per line that is not
also valid UTF-8).

One id, one line: the first line that gives an id (or url) is the record; a later line in the
same file with the same id is an error naming the first. So importing a file again never adds a
version and never changes which text is current.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from monitor.errors import ConfigError, ParseError
from scrapers.base import Batch, Document, Fetcher, Item, Response
from scrapers.dates import DateError, read_date

BATCH_LINES = 500
FIELDS = {"id", "url", "title", "text", "published", "kind", "source", "dossiers", "meta"}


class JsonlSource:
    kind: ClassVar[str] = "jsonl"

    @dataclass(frozen=True)
    class Options:
        path: str
        max_line_bytes: int  # a longer line is that line's error, not read into memory

    def __init__(self, name: str, options: "JsonlSource.Options") -> None:
        self.name = name
        self.options = options

    def discover(self, fetcher: Fetcher | None, cursor: str | None) -> Iterator[Batch]:
        path = Path(self.options.path)
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
        first_line: dict[str, int] = {}  # id -> the line that gave it
        items: list[Item] = []
        with handle:
            for number, raw in _lines(handle, self.options.max_line_bytes):
                item = _item(path.name, number, raw, self.options.max_line_bytes)
                if item is None:
                    continue
                if "record" in item.data:
                    if item.key in first_line:
                        item = _error(path.name, number, f"id {item.key!r} was already given on line "
                                                         f"{first_line[item.key]} of this file")
                    else:
                        first_line[item.key] = number
                items.append(item)
                if len(items) >= BATCH_LINES:
                    yield Batch(items)
                    items = []
        if items:
            yield Batch(items)

    def fetch(self, fetcher: Fetcher | None, item: Item) -> list[Response]:
        return []

    def parse(self, item: Item, responses: list[Response]) -> Document:
        where = item.data.get("where") or f"line {item.data['line']}"
        if "error" in item.data:
            raise ParseError(f"{where}: {item.data['error']}")
        obj = item.data["record"]
        unknown = sorted(set(obj) - FIELDS)
        if unknown:
            raise ParseError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(sorted(FIELDS))})")
        if not (obj.get("id") or obj.get("url")):
            raise ParseError(f"{where}: needs an 'id' or a 'url'")
        for name in ("title", "text"):
            if not isinstance(obj.get(name), str) or not obj[name].strip():
                raise ParseError(f"{where}: '{name}' must be a non-empty string")
        published = obj.get("published")
        if published is not None:
            try:
                moment = read_date(published)
            except DateError as exc:
                raise ParseError(f"{where}: 'published' is refused: {exc}") from None
            # ISO 8601 is stored as written (a bare date stays a date); anything else as ISO.
            if not re.match(r"\d{4}-\d{2}-\d{2}", str(published)):
                published = moment.isoformat(timespec="seconds")
        return Document(source=obj.get("source") or self.name, source_key=item.key, url=obj.get("url"),
                        title=obj["title"].strip(), text=obj["text"], kind=obj.get("kind") or "document",
                        published=published, id=obj.get("id"), dossiers=[str(d) for d in obj.get("dossiers", [])],
                        meta=obj.get("meta") or {})


def _lines(handle: BinaryIO, cap: int) -> Iterator[tuple[int, bytes | None]]:
    """(number, bytes) of each line; None for a line longer than ``cap`` bytes, which is skipped
    a block at a time, never held whole."""
    number = 0
    while chunk := handle.readline(cap + 1):
        number += 1
        if len(chunk) <= cap or chunk.endswith(b"\n"):
            yield number, chunk
            continue
        while chunk and not chunk.endswith(b"\n"):
            chunk = handle.readline(1 << 20)
        yield number, None


def _error(file: str, number: int, message: str) -> Item:
    return Item(key=f"line:{number}", data={"line": number, "where": f"{file} line {number}", "error": message})


def _item(file: str, number: int, raw: bytes | None, cap: int) -> Item | None:
    if raw is None:
        return _error(file, number, f"longer than {cap} bytes (max_line_bytes)")
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _error(file, number, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                                    "save the file as UTF-8")
    if not line.strip():
        return None
    try:
        obj: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        return _error(file, number, f"not valid JSON ({exc.msg}, column {exc.colno})")
    if not isinstance(obj, dict):
        return _error(file, number, "not a JSON object")
    digest = hashlib.sha256(line.strip().encode()).hexdigest()[:16]
    key = str(obj.get("id") or obj.get("url") or digest)
    return Item(key=key, url=obj.get("url") if isinstance(obj.get("url"), str) else None,
                data={"line": number, "where": f"{file} line {number}", "record": obj}, version=digest)
