"""`mkb-monitor doctor`: ask each enabled source for its first page and say what answered and how.

For a first live run: one command, and a readable account per source of every request it made
(status, content type, bytes, time), how many entries its first batch held and the newest date
among them, or the error that stopped it. Nothing is stored: each source starts as on a first
run (no cursor) and only its first batch is read; the articles behind it are not fetched. With
``record``, the exchanges are kept as a recording (``monitor.recording``), which ``run --replay``
and the tests replay as fixtures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from monitor.config import Config, SourceConfig
from monitor.errors import MonitorError
from scrapers.base import Fetcher, Response
from scrapers.dates import parse_date


@dataclass
class Exchange:
    url: str
    status: int | None
    content_type: str | None
    bytes: int
    seconds: float
    error: str | None = None


@dataclass
class SourceCheck:
    source: str
    kind: str
    ok: bool = False
    entries: int = 0  # items in the first batch
    newest: str | None = None  # the newest date among them, ISO 8601
    seconds: float = 0.0
    error_code: str | None = None
    error: str | None = None
    requests: list[Exchange] = field(default_factory=list)

    def asdict(self) -> dict[str, Any]:
        return asdict(self)


class _Watched:
    """The source's fetcher, with every exchange written down."""

    def __init__(self, fetcher: Fetcher, log: list[Exchange]) -> None:
        self._fetcher, self._log = fetcher, log

    def now(self) -> Any:
        return self._fetcher.now()

    def get(self, url: str, **kwargs: Any) -> Response:
        started = time.monotonic()
        try:
            response = self._fetcher.get(url, **kwargs)
        except MonitorError as exc:
            self._log.append(Exchange(getattr(exc, "url", None) or url, getattr(exc, "status", None), None, 0,
                                      time.monotonic() - started, exc.code))
            raise
        self._log.append(Exchange(response.url, response.status, response.content_type or None,
                                  len(response.content), time.monotonic() - started))
        return response

    def __getattr__(self, name: str) -> Any:  # close, stats, validators: the real fetcher's
        return getattr(self._fetcher, name)


def check(config: Config, fetcher_for: Callable[[SourceConfig], Fetcher],
          names: Iterable[str] | None = None) -> list[SourceCheck]:
    """One SourceCheck per source (the enabled ones, or those named), in config order."""
    from monitor.pipeline import build_source

    wanted = list(names or [])
    configs = [config.source(n) for n in wanted] if wanted else config.sources(enabled_only=True)
    return [_check(sc, build_source, fetcher_for) for sc in configs]


def _check(sc: SourceConfig, build_source: Callable[[SourceConfig], Any],
           fetcher_for: Callable[[SourceConfig], Fetcher]) -> SourceCheck:
    result = SourceCheck(source=sc.name, kind=sc.kind)
    started = time.monotonic()
    fetcher = fetcher_for(sc)
    try:
        source = build_source(sc)
        first = next(iter(source.discover(_Watched(fetcher, result.requests), None)), None)
        items = first.items if first else []
        dates = [parse_date(i.data.get("published_raw") or i.data.get("modified_raw")) for i in items]
        known = [d for d in dates if d is not None]
        result.entries, result.newest = len(items), max(known).isoformat() if known else None
        result.ok = True
    except MonitorError as exc:
        result.error_code, result.error = exc.code, exc.message
    except Exception as exc:  # noqa: BLE001 - a doctor reports what broke, whatever it was
        result.error_code, result.error = type(exc).__name__, str(exc)
    finally:
        close = getattr(fetcher, "close", None)
        if close is not None:
            close()
    result.seconds = round(time.monotonic() - started, 3)
    return result


def summary(results: list[SourceCheck]) -> Mapping[str, Any]:
    return {"ok": all(r.ok for r in results), "sources": [r.asdict() for r in results]}
