"""Record the HTTP exchanges of a live run, and replay them later without the network.

Both are httpx transports, so they slot under ``monitor.http.Client`` and everything above the
transport (caps, retries, redirects, robots.txt, decoding) runs exactly as it does live::

    Client(settings, transport=RecordingTransport(default_transport(settings), "runs/1"))  # live, recorded
    Client(settings, transport=ReplayTransport("runs/1"))                                  # offline

Record each run into a new directory. Several transports may append to one directory in turn
(one client per source, say); lines are appended under an exclusive ``flock``.

The recording format
--------------------

A recording is a directory::

    index.jsonl          one JSON object per exchange, in the order the exchanges ended
    bodies/<sha256>      one file per distinct body, named by the SHA-256 of its bytes

Each line of ``index.jsonl`` has these keys:

``method``, ``url``
    The request, with the query string exactly as sent.
``status``
    The response status, or ``null`` when the request failed before any response arrived
    (connection refused, a timeout before the headers).
``headers``
    The response headers as ``[name, value]`` pairs, names in lower case, in the order received,
    repeated headers (``set-cookie``) kept.
``body``, ``sha256``, ``size``
    The body file (relative to the directory), its SHA-256 and its length; ``null`` when there
    was no response.
``form``
    ``"decoded"``: the body is stored decoded from its Content-Encoding, and the headers that
    describe the bytes on the wire (Content-Encoding, Content-Length, Transfer-Encoding) are left
    out, so a body file is the document itself and can be read or grepped as it is.
    ``"wire"``: the body is stored as received and every header is kept. This is used when the
    body was not read to its end, or could not be decoded (a corrupt or unknown coding).
``complete``
    ``true`` when the body was read to its end. ``false`` when the connection broke mid-body
    (``error`` says how) or the client stopped reading (``error`` is ``null``): because of a size
    or time cap, or because it never reads the body of a redirect or an error status.
``error``
    ``{"type": "ReadError", "message": "..."}``: the httpx transport exception that ended the
    exchange (or ``AddressRefused``: the address policy refused the connection), or ``null``.
``recorded_at``
    When the exchange ended, ISO 8601 in UTC.

A line ``{"clock": <epoch seconds>, "recorded_at": ...}`` records a reading of the run's clock
(``Client.now()``): a source that asks for "the last 14 days" puts the time into its URLs, so a
replay gives the readings back in order and the replayed run asks exactly the recorded URLs.

Replay
------

``ReplayTransport`` answers every request from a recording, whatever the host, and never opens
a socket. A request is matched on its method and full URL, the query parameters in any order.
Repeated requests for one URL get the recorded exchanges in order, then the last one again. An
exchange that failed is failed again: the recorded httpx exception is raised at once when there
was no response, or after the recorded part of the body when it was incomplete (``ReadError``
when the client had stopped reading), so the client meets the same fault and maps it as it did
live; a fault that was a total deadline live comes back as a broken read. A request the
recording has no answer for raises ``monitor.errors.NoRecording`` naming the URL, never a
made-up 404. Decoded bodies are served without a Content-Length, so the raw size cap applies to
the decoded size on replay.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from monitor.errors import AddressRefused, ConfigError, FetchError, NoRecording
from monitor.http import WIRE_HEADERS, BodyDecoder

INDEX = "index.jsonl"
BODIES = "bodies"


class RecordingTransport(httpx.BaseTransport):
    """Pass every request to ``inner`` and append each exchange to ``directory`` as it ends."""

    def __init__(self, inner: httpx.BaseTransport, directory: str | Path) -> None:
        self.inner = inner
        self.directory = Path(directory)
        (self.directory / BODIES).mkdir(parents=True, exist_ok=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = self.inner.handle_request(request)
        except (httpx.TransportError, AddressRefused) as exc:  # a refusal is replayed as one too
            self._write(request, None, error=exc)
            raise
        return httpx.Response(status_code=response.status_code, headers=response.headers,
                              stream=_Tee(self, request, response), extensions=response.extensions)

    def close(self) -> None:
        self.inner.close()

    def clock(self, now: float) -> float:
        """Record a reading of the run's clock and pass it on."""
        self._append({"clock": now})
        return now

    def _append(self, entry: dict[str, Any]) -> None:
        entry["recorded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        with open(self.directory / INDEX, "a", encoding="utf-8") as index:
            fcntl.flock(index, fcntl.LOCK_EX)  # released on close; keeps lines whole across writers
            index.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def _write(self, request: httpx.Request, response: httpx.Response | None, *, body: bytes = b"",
               complete: bool = False, error: Exception | None = None) -> None:
        entry: dict[str, Any] = {"method": request.method, "url": str(request.url), "status": None,
                                 "headers": [], "body": None, "sha256": None, "size": None, "form": "wire",
                                 "complete": complete,
                                 "error": {"type": type(error).__name__, "message": str(error)} if error else None}
        if response is not None:
            headers = [[k.lower(), v] for k, v in response.headers.multi_items()]
            if complete:
                decoded = _decoded(body, response.headers.get("content-encoding", ""), str(request.url))
                if decoded is not None:
                    body, entry["form"] = decoded, "decoded"
                    headers = [[k, v] for k, v in headers if k not in WIRE_HEADERS]
            digest = hashlib.sha256(body).hexdigest()
            entry.update(status=response.status_code, headers=headers, body=f"{BODIES}/{digest}",
                         sha256=digest, size=len(body))
        if entry["body"] is not None:
            _write_once(self.directory / entry["body"], body)
        self._append(entry)


def _decoded(body: bytes, encoding: str, url: str) -> bytes | None:
    """The body decoded for storage. Only bodies the client read to their end get here, so the
    client's own decoded cap has already bounded them; no second cap is needed."""
    try:
        decoder = BodyDecoder(encoding, sys.maxsize, url=url)
        decoder.feed(body)
        return decoder.finish()
    except FetchError:
        return None  # kept as received: the replayed client meets the same decoding fault


class _Tee(httpx.SyncByteStream):
    """The response body, passed through to the client and kept for the recording."""

    def __init__(self, recorder: RecordingTransport, request: httpx.Request, response: httpx.Response) -> None:
        self._recorder = recorder
        self._request = request
        self._response = response
        self._parts: list[bytes] = []
        self._complete = False
        self._error: Exception | None = None
        self._written = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._response.stream:
                self._parts.append(chunk)
                yield chunk
        except httpx.TransportError as exc:
            self._error = exc
            raise
        self._complete = True

    def close(self) -> None:
        try:
            self._response.close()
        finally:
            if not self._written:
                self._written = True
                self._recorder._write(self._request, self._response, body=b"".join(self._parts),
                                      complete=self._complete, error=self._error)


class ReplayTransport(httpx.BaseTransport):
    """Answer every request from a recording made by ``RecordingTransport``."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        index = self.directory / INDEX
        if not index.is_file():
            raise ConfigError(f"{self.directory} is not a recording (it has no {INDEX})")
        self._answers: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._clock: list[float] = []
        with open(index, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                try:
                    entry = json.loads(line)
                    if "clock" in entry:
                        self._clock.append(float(entry["clock"]))
                        continue
                    key = (entry["method"].upper(), _match_key(entry["url"]))
                    if entry["body"] is not None:
                        entry["body"] = self._inside(entry["body"])
                except (ValueError, KeyError, AttributeError, TypeError) as exc:
                    raise ConfigError(f"{index}:{number}: not a recorded exchange ({exc})") from None
                self._answers.setdefault(key, []).append(entry)
        self._served: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def clock(self, now: float) -> float:
        """The recorded readings of the run's clock, in order; the last one again after that,
        and ``now`` itself for a recording made before clocks were recorded."""
        with self._lock:
            if not self._clock:
                return now
            return self._clock.pop(0) if len(self._clock) > 1 else self._clock[0]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        key = (request.method.upper(), _match_key(str(request.url)))
        answers = self._answers.get(key)
        if not answers:
            raise NoRecording(f"the recording in {self.directory} has no answer for {request.method} {request.url}",
                              url=str(request.url))
        with self._lock:
            turn = self._served.get(key, 0)
            self._served[key] = turn + 1
        entry = answers[min(turn, len(answers) - 1)]
        if entry["status"] is None:
            raise _transport_error(entry["error"], request)
        body = self._body(entry)
        headers = [tuple(pair) for pair in entry["headers"]]
        ending = None if entry["complete"] else _transport_error(entry["error"], request)
        return httpx.Response(status_code=entry["status"], headers=headers, stream=_Replayed(body, ending))

    def _inside(self, body: str) -> Path:
        """The body file named by an index line, which must be inside the recording's ``bodies``:
        a recording is data from elsewhere, and ``../`` or an absolute path (or a link leading out)
        would make a replay read, and serve as a response, any file the user can read."""
        bodies = (self.directory / BODIES).resolve()
        path = (self.directory / body).resolve()
        if not path.is_relative_to(bodies):
            raise ValueError(f"its body {body!r} is outside {self.directory / BODIES}")
        return path

    def _body(self, entry: dict[str, Any]) -> bytes:
        path = entry["body"]
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"recording body {path} cannot be read: {exc}") from None
        if hashlib.sha256(body).hexdigest() != entry["sha256"]:
            raise ConfigError(f"recording body {path} does not match its sha256 in {INDEX}")
        return body


class _Replayed(httpx.SyncByteStream):
    def __init__(self, body: bytes, ending: httpx.TransportError | None) -> None:
        self._body = body
        self._ending = ending

    def __iter__(self) -> Iterator[bytes]:
        if self._body:
            yield self._body
        if self._ending is not None:
            raise self._ending


def _transport_error(error: dict[str, str] | None, request: httpx.Request) -> Exception:
    """The recorded httpx exception (or address refusal); a client that stopped reading becomes a
    ReadError."""
    if error is None:
        return httpx.ReadError("the recording ends here: the client stopped reading live", request=request)
    if error["type"] == AddressRefused.__name__:
        return AddressRefused(error["message"], url=str(request.url))
    kind = getattr(httpx, error["type"], None)
    if not (isinstance(kind, type) and issubclass(kind, httpx.TransportError)):
        kind = httpx.TransportError
    return kind(error["message"], request=request)


def _match_key(url: str) -> str:
    """The URL with its query parameters sorted, so that their order does not matter."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, query, ""))


def _write_once(path: Path, data: bytes) -> None:
    """Write a content-addressed file unless it is there; a crash leaves no half-written body."""
    if path.exists():
        return
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
