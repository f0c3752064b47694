"""JSON lines from a file or a pipe, one record or one error a line (``extract --jsonl``, ``eval``).

A line that cannot be read (not UTF-8, not JSON, not an object with a 'text') is that line's
error, never the whole input's; from a pipe, what has arrived is answered before the reader
waits for more.
"""

from __future__ import annotations

import json
import os
import select
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import Any

JSONL_BATCH = 32  # lines extracted together: output follows input closely, and spaCy still batches


def extracted(extract_many: Callable[[list[dict[str, Any]]], Iterable[Any]], source: Any,
              name: str) -> Iterator[dict[str, Any]]:
    """One output record per non-empty input line, in input order, a batch at a time."""
    pending: list[dict[str, Any]] = []

    def flush() -> Iterator[dict[str, Any]]:
        if pending:
            for line, extraction in zip(pending, extract_many(pending), strict=True):
                yield {**{k: v for k, v in line.items() if k not in ("text", "published")}, **extraction.asdict()}
            pending.clear()

    number_ = 0
    for raw in lines(source):
        if raw is None:  # a pipe with nothing more for now: answer what has come
            yield from flush()
            continue
        number_ += 1
        found, problem = record(raw)
        if problem is None and found is None:
            continue  # an empty line
        if problem is not None:
            yield from flush()
            yield {"error": problem, "line": number_, "file": name}
            continue
        pending.append(found)
        if len(pending) >= JSONL_BATCH:
            yield from flush()
    yield from flush()


def lines(stream: Any) -> Iterator[bytes | None]:
    """The lines of a binary stream; from a pipe or a terminal also None whenever no further
    input is ready yet, so what has come is answered before the reader waits for more."""
    try:
        fd = stream.fileno()
        waits = not stat.S_ISREG(os.fstat(fd).st_mode)
    except (AttributeError, OSError, ValueError):
        waits = False
    if not waits:
        yield from stream
        return
    pending = b""
    while True:
        if not select.select([fd], [], [], 0)[0]:
            yield None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        *complete, pending = (pending + chunk).split(b"\n")
        yield from (line + b"\n" for line in complete)
    if pending:
        yield pending


def record(raw: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """A line's JSON object with a 'text' string, or what is wrong with it; (None, None) for a blank line."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
    if not line.strip():
        return None, None
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg})"
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None, "needs a JSON object with a 'text' string"
    return value, None


def gold_documents(path: str) -> list[dict[str, Any]]:
    """The gold file's documents, or a ValueError that says what is wrong with it: a score
    against a file without annotations would be 0.000 everywhere, and mean nothing."""
    documents = []
    with open(path, "rb") as stream:
        for number_, raw in enumerate(stream, start=1):
            found, problem = record(raw)
            if problem is not None:
                raise ValueError(f"{path}, line {number_}: {problem}: not a gold file")
            if found is not None:
                for key in ("figures", "organisations"):
                    if key in found and not isinstance(found[key], list):
                        raise ValueError(f"{path}, line {number_}: {key!r} must be a list: not a gold file")
                documents.append(found)
    if not documents:
        raise ValueError(f"{path} has no documents: not a gold file")
    if not any("figures" in d or "organisations" in d for d in documents):
        raise ValueError(f"{path} has no annotations (no document has 'figures' or 'organisations'): "
                         "not a gold file")
    return documents
