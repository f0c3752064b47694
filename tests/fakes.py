"""A Fetcher that replays recorded responses through a real httpx.Client and MockTransport.

Sources get it where production hands them ``monitor.http.Client``: the request is built and
sent by httpx exactly as it would be on the wire (query encoding included), and the answer is
looked up among the routes. A route is a URL; its query parameters must all be present in the
request (others may be, too), and the route naming the most parameters wins, so one test can
serve ``...sru`` page 1 and ``...sru?startRecord=11`` page 2.

    fetcher = MockFetcher({
        "https://repository.overheid.nl/sru": Reply.file(FIXTURES / "page1.xml"),
        "https://repository.overheid.nl/sru?startRecord=11": Reply.file(FIXTURES / "page2.xml"),
    })
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx

from monitor.errors import HTTPStatus, NoRecording, RateLimited, TooLarge
from scrapers.base import Response


@dataclass(frozen=True)
class Reply:
    content: bytes
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=lambda: {"content-type": "application/xml"})

    @classmethod
    def file(cls, path: Path, *, status: int = 200, content_type: str = "application/xml") -> "Reply":
        return cls(path.read_bytes(), status=status, headers={"content-type": content_type})


class MockFetcher:
    """Implements ``scrapers.base.Fetcher``; ``requests`` lists every request it was asked."""

    def __init__(self, routes: Mapping[str, Reply], *, now: datetime | None = None) -> None:
        self.routes = dict(routes)
        self.requests: list[httpx.Request] = []
        self._client = httpx.Client(transport=httpx.MockTransport(self._answer))
        self._now = now

    def now(self) -> datetime:
        return self._now or datetime.now(timezone.utc)

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, conditional: bool = False,
            max_bytes: int | None = None) -> Response:
        answer = self._client.get(url, params=params, headers=headers)
        if answer.status_code == 304:
            return Response(url=str(answer.url), status=304, headers=_lower(answer.headers), content=b"",
                            not_modified=True)
        if answer.status_code == 429:
            raise RateLimited(f"HTTP 429 from {answer.url}", url=str(answer.url), status=429)
        if not 200 <= answer.status_code < 300:
            raise HTTPStatus(f"HTTP {answer.status_code} from {answer.url}", url=str(answer.url),
                             status=answer.status_code)
        if max_bytes is not None and len(answer.content) > max_bytes:
            raise TooLarge(f"{len(answer.content)} bytes from {answer.url}", url=str(answer.url))
        return Response(url=str(answer.url), status=answer.status_code, headers=_lower(answer.headers),
                        content=answer.content)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self._route(request.url)
        return httpx.Response(reply.status, headers=dict(reply.headers), content=reply.content)

    def _route(self, url: httpx.URL) -> Reply:
        asked = set(url.params.multi_items())
        best: tuple[int, Reply] | None = None
        for route, reply in self.routes.items():
            parts = urlsplit(route)
            wanted = set(parse_qsl(parts.query, keep_blank_values=True))
            if ((parts.scheme, parts.netloc, parts.path) == (url.scheme, url.netloc.decode(), url.path)
                    and wanted <= asked and (best is None or len(wanted) > best[0])):
                best = (len(wanted), reply)
        if best is None:
            raise NoRecording(f"no recorded answer for {url}", url=str(url))
        return best[1]

    def urls(self) -> list[str]:
        return [str(request.url) for request in self.requests]


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
