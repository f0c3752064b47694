"""What every source is: the records it yields and the one network interface it is handed.

A source never touches the database and never makes its own HTTP client: the pipeline hands
it a ``Fetcher`` (``monitor.http.Client`` in production, a replaying client in tests) and
stores what it yields. The stages a source implements are the middle three of the pipeline:

    discover(fetcher, cursor) -> Batch*       what is new or changed since the cursor
    fetch(fetcher, item)      -> [Response]   the item's content (often already in the Batch)
    parse(item, responses)    -> Document     bytes to a record; no network here, so a parser
                                              fix can be re-run over stored raw responses

A Batch carries the cursor that is safe to commit once all its items are stored (I1: the
cursor covers exactly what was committed with it).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from datetime import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

# The error vocabulary is the one leaf module every floor shares (it imports nothing).
from monitor.errors import ConfigError


@dataclass(frozen=True)
class Response:
    """One HTTP exchange as received: the body already decoded from its Content-Encoding
    (bounded), but not from its charset; that is the parser's job, per source."""

    url: str
    status: int
    headers: Mapping[str, str]  # lower-case names
    content: bytes
    not_modified: bool = False  # a 304: content is empty, nothing changed since last time

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The charset the Content-Type header declares, if any."""
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.partition("=")
            if key.strip().lower() == "charset" and value.strip():
                return value.strip().strip("\"'").lower()
        return None


@runtime_checkable
class Fetcher(Protocol):
    """The small interface a source gets for the network (monitor.http.Client implements it)."""

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, conditional: bool = False,
            max_bytes: int | None = None) -> Response:
        """GET a URL politely. ``conditional`` sends If-None-Match/If-Modified-Since remembered
        for this URL, and a 304 comes back as ``Response(not_modified=True)``. Raises a
        ``monitor.errors.FetchError`` subclass on any failure, never returns an error page
        as if it were content (a non-2xx status raises ``HTTPStatus``)."""
        ...

    def now(self) -> datetime:
        """The run's time (timezone-aware). Sources take "today" and "the last 14 days" from
        here, not from the system clock, so a recorded run replays with the same URLs."""
        ...


@dataclass
class Item:
    """A reference to one publication found by ``discover``: enough to fetch and parse it.

    ``key`` is the source's own id for it (KOOP identifier, SyncFeed GUID, feed guid or URL).
    ``data`` holds what discovery already knows (metadata, an inline entry body); it must be
    JSON-serialisable, because it is stored so that ``parse`` can be re-run later.
    ``responses`` holds responses discovery already has for the item (a feed entry's page).
    ``version`` is a change marker discovery can read cheaply (KOOP's modification timestamp, a
    SyncFeed entry's hash): an item whose version is already stored is not fetched again, so
    re-reading an overlapping window costs one request per page, not one per item.
    """

    key: str
    url: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    responses: list[Response] = field(default_factory=list, repr=False)
    version: str | None = None

    def to_json(self) -> str:
        return json.dumps({"key": self.key, "url": self.url, "data": self.data, "version": self.version},
                          ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Item":
        obj = json.loads(text)
        return cls(key=obj["key"], url=obj.get("url"), data=obj.get("data") or {}, version=obj.get("version"))


@dataclass
class Batch:
    """Items discovered together, and the cursor to commit once they are all stored.

    ``cursor`` None means "do not move the cursor for this batch".
    ``complete`` False means the source knows it stopped early (a page failed): the pipeline
    records the run as partial and does not treat the absence of items as "nothing new".
    """

    items: list[Item]
    cursor: str | None = None
    complete: bool = True


@dataclass
class Document:
    """One publication, as a source parsed it. The corpus key is ``id``.

    ``id`` is stable across sources where the publication has an official identifier
    (``kst-32637-428``, ``ah-tk-20202021-3235``); otherwise the source leaves it None and the
    store derives it from the canonical URL. ``aliases`` are other keys under which the same
    publication may arrive (a TK document's ``kst-`` id before KOOP publishes it, a feed guid).
    ``text_quality`` lets a better text replace a worse one:
    metadata < excerpt < extracted (from a PDF or DOCX) < full (the publisher's own clean text).
    ``deleted`` marks a tombstone the source itself declared (never inferred from absence).
    """

    source: str
    source_key: str
    url: str | None
    title: str
    text: str
    kind: str
    published: str | None = None  # ISO 8601 with offset, Europe/Amsterdam where the source gave no zone
    id: str | None = None
    aliases: list[str] = field(default_factory=list)
    published_raw: str | None = None  # the date exactly as the source wrote it
    modified: str | None = None  # the source's own change time, ISO 8601
    language: str | None = "nl"
    dossiers: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # source-specific fields, JSON-serialisable
    text_quality: str = "full"  # one of TEXT_QUALITIES
    deleted: bool = False

    # Worst to best. A text replaces the stored one only if it is at least as good, so a letter
    # first seen in the SyncFeed (text pulled from its PDF) is upgraded when KOOP publishes it.
    TEXT_QUALITIES: ClassVar[tuple[str, ...]] = ("metadata", "excerpt", "extracted", "full")

    def __post_init__(self) -> None:
        if self.text_quality not in self.TEXT_QUALITIES:
            raise ValueError(f"text_quality must be one of {self.TEXT_QUALITIES}, not {self.text_quality!r}")

    def asdict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@runtime_checkable
class Source(Protocol):
    """A configured source. ``kind`` names the implementation, ``name`` the configured instance.

    A source that leaves out entries of its answers it cannot read (rather than failing the
    whole answer) lists them, with why, in an attribute ``skipped: list[str]``; the run report
    counts them (``SourceReport.unreadable``)."""

    kind: ClassVar[str]
    name: str

    def discover(self, fetcher: Fetcher, cursor: str | None) -> Iterator[Batch]:
        """Yield batches of what is new or changed since ``cursor``, oldest first where the
        source allows. Raising is a per-run failure: the cursor stays where it was."""
        ...

    def fetch(self, fetcher: Fetcher, item: Item) -> list[Response]:
        """Fetch what ``parse`` needs for one item (may return ``item.responses`` unchanged).
        Raising a FetchError is a per-item failure, recorded and counted."""
        ...

    def parse(self, item: Item, responses: list[Response]) -> Document | None:
        """Turn an item and its responses into a Document, without any network. None means
        "not for the corpus" (skipped, with the reason given by raising NotAnArticle instead
        where the reason matters). Raising a ParseError is a per-item failure."""
        ...


def options_from(cls: type, name: str, values: Mapping[str, Any]) -> Any:
    """Build a source's options dataclass from a config table, naming any unknown or missing key.

    Every source module declares ``Options`` (a dataclass without defaults: the defaults live in
    ``monitor/defaults.toml`` only) and gets its values through this function.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"[sources.{name}]: unknown key {unknown[0]!r} (known: {', '.join(sorted(names))})")
    missing = sorted(f.name for f in dataclasses.fields(cls)
                     if f.name not in values and f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    if missing:
        raise ConfigError(f"[sources.{name}]: missing key {missing[0]!r}")
    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        if not _has_type(value, hints[key]):
            raise ConfigError(f"[sources.{name}]: {key!r} must be {_type_name(hints[key])}, "
                              f"not {value!r} ({_type_name(type(value))})")
    return cls(**values)


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a config value fits an option's annotation (str, int, float, bool, list[str], ...).
    A TOML integer is a fine float; a bool is never a number."""
    origin = typing.get_origin(hint)
    if origin is list:
        (inner,) = typing.get_args(hint) or (Any,)
        return isinstance(value, list) and all(_has_type(v, inner) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, arm) for arm in typing.get_args(hint))
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    if typing.get_origin(hint) is list:
        (inner,) = typing.get_args(hint) or (Any,)
        return f"a list of {_type_name(inner).removeprefix('a ').removeprefix('an ')}s"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


# Query parameters that only track a click; they never change what a page is.
TRACKING_PARAMS = ("utm_", "at_", "mc_", "fbclid", "gclid", "msclkid", "_hsenc", "_hsmi", "xtor", "ns_")


def canonical_url(url: str) -> str:
    """The identity of a web page: https, lower-case host without ``www.``, the path without a
    trailing slash, the query without tracking parameters (sorted), no fragment.

    Two URLs that differ only in what this drops are the same article (RELIABILITY T1).
    """
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    netloc = host if parts.port in (None, 80, 443) else f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or "/"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not k.lower().startswith(TRACKING_PARAMS))
    scheme = "https" if parts.scheme in ("http", "https") else parts.scheme
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))
