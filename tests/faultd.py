"""faultd: a loopback HTTP server that misbehaves on purpose (RELIABILITY §4.1).

It speaks HTTP/1.1 over raw sockets, one request per connection, so that it can fail *below*
HTTP as well as in it: stall before or after the headers, drip a body, cut a body short with a
FIN or an RST, break chunked encoding, lie about sizes and charsets. It is bounded (a request
limit and a time limit after which it stops itself), seeded (``/storm``, garbage robots.txt) and
it keeps a log of every request for tests to read.

    with Faultd() as server:                          # 127.0.0.1, an ephemeral port
        server.url("/status/503?times=2")             # -> "http://127.0.0.1:PORT/status/503?times=2"
        server.hits("/status/503")                    # requests that reached that path
    Faultd(host="127.0.0.2")                          # a second "host" (all of 127/8 is loopback)

Endpoints (query parameters optional unless said otherwise):

    /ok/<file>?ct=&h=Name:Value        a file under ``root`` (tests/fixtures), with extra headers
    /status/<code>?times=k&ra=&id=     <code> k times (per id, default the whole URL), then 200;
                                       ra= sets Retry-After: seconds, an HTTP-date, or date:N
                                       (an HTTP-date N seconds after this response's Date header)
    /storm?p=0.9&seed=1                503 with probability p (one seeded generator per seed)
    /hang-before-headers               reads the request, never answers
    /hang-after-headers                sends headers (Content-Length: 100), then stalls
    /drip?interval=0.5&bytes=10000     Content-Length bytes, one byte every interval seconds
    /drip-status?interval=1            the status line (then header lines) one byte every interval
    /drip-headers?interval=1           the status line at once, then header lines one byte every
                                       interval, never ending the head (also answers a POST)
    /reset?after=100&mode=fin|rst      promises after+1000 bytes, sends after, then FIN or RST
    /chunked-broken                    chunked body without the terminating chunk
    /big?mb=50&cl=1|0                  mb MiB of b"x", with Content-Length (1) or chunked (0)
    /bomb?codec=gzip|deflate&mb=200    mb MiB of zeros, compressed, with Content-Encoding
    /redirect/loop                     302 to itself
    /redirect/chain/<n>                n redirects, then 200
    /redirect/offhost?to=URL           302 to another host (default http://offhost.invalid/ok)
    /redirect/scheme?to=URL            302 to another scheme (default file:///etc/passwd)
    /charset?declared=&actual=         Dutch text encoded as ``actual``, labelled ``declared``
    /robots.txt?mode=                  404 (default), 500, allow, disallow, huge, garbage, hang,
                                       redirect-loop; without ?mode, ``server.robots`` decides
                                       (a mode, or bytes to serve with 200)
    /etag?etag=                        200 with ETag and Last-Modified; 304 when If-None-Match matches
    /canary                            200; count its hits with ``server.hits("/canary")``

``server.route(path, status=, headers=, body=)`` serves anything else, e.g. a recorded fixture.

``Dripper`` is a bare TCP server below HTTP, for protocols that speak first or are not HTTP: it
sends a prefix, then repeats a unit a byte at a time (an SMTP greeting of endless ``220-`` lines,
a TLS handshake that never completes).
"""

from __future__ import annotations

import email.utils
import functools
import random
import socket
import socketserver
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

FIXTURES = Path(__file__).parent / "fixtures"

# robots.txt modes with a fixed answer; "garbage" (seeded random bytes), "hang" and
# "redirect-loop" are answered by ``Faultd._robots`` itself.
ROBOTS: dict[str, tuple[int, bytes]] = {
    "404": (404, b"not found"),
    "500": (500, b"server error"),
    "allow": (200, b"User-agent: *\nDisallow:\n"),
    "disallow": (200, b"User-agent: *\nDisallow: /\n"),
    # RFC 9309 2.5: only the first 500 KiB need be parsed, so the rule past it must not count.
    "huge": (200, b"# padding\n" * 60_000 + b"User-agent: *\nDisallow: /\n"),
}

REASONS = {200: "OK", 206: "Partial Content", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
           400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
           410: "Gone", 429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Hit:
    """One request as faultd saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    at: float
    sent: int = 0  # body bytes faultd managed to send


@dataclass
class Route:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


def _route_key(target: str) -> str:
    parts = urlsplit(target)
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    return parts.path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")


class _Exchange:
    """The socket of one request and the helpers to answer (or not answer) on it."""

    def __init__(self, sock: socket.socket, hit: Hit, stopped: threading.Event, hang_limit: float) -> None:
        self.sock = sock
        self.hit = hit
        self.stopped = stopped
        self.hang_limit = hang_limit

    def head(self, status: int, headers: Mapping[str, str] | None = None, *, date: float | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}",
                 f"Date: {email.utils.formatdate(date or time.time(), usegmt=True)}",
                 "Server: faultd", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, data: bytes) -> bool:
        """Send body bytes; False once the client has gone away."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.hit.sent += len(data)
        return True

    def respond(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None,
                *, date: float | None = None) -> None:
        all_headers = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
        if status != 304 and not any(k.lower() in ("content-length", "transfer-encoding") for k in all_headers):
            all_headers["Content-Length"] = str(len(body))
        self.head(status, all_headers, date=date)
        if body and status != 304:
            self.send(body)

    def hang(self) -> None:
        self.stopped.wait(self.hang_limit)

    def reset(self) -> None:
        """Abort the connection with an RST (SO_LINGER 0, as Scrapy's ``Drop(abort=1)``)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


class Faultd:
    """The server; ``start()`` it (or use ``with``), read ``log``, ``stop()`` it."""

    def __init__(self, host: str = "127.0.0.1", *, root: Path = FIXTURES, seed: int = 0,
                 max_requests: int = 500, time_limit: float = 60.0) -> None:
        self.host = host
        self.root = root.resolve()
        self.seed = seed
        self.max_requests = max_requests
        self.time_limit = time_limit
        self.robots: str | bytes = "404"  # a robots.txt mode (see the docstring), or a body served with 200
        self._routes: dict[str, Route] = {}
        self._log: list[Hit] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._rngs: dict[str, random.Random] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._started_at = 0.0
        self._server: _Server | None = None
        self._timer: threading.Timer | None = None

    # --- life cycle --------------------------------------------------------------------------

    def start(self) -> Faultd:
        server = _Server((self.host, 0), _Handler)
        server.faultd = self
        self._server = server
        self._started_at = time.monotonic()
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         name=f"faultd-{self.host}", daemon=True).start()
        self._timer = threading.Timer(self.time_limit, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> Faultd:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    # --- what tests read and set -------------------------------------------------------------

    @property
    def log(self) -> list[Hit]:
        with self._lock:
            return list(self._log)

    def hits(self, path: str) -> int:
        return sum(1 for hit in self.log if hit.path == path)

    def route(self, path: str, *, status: int = 200, headers: Mapping[str, str] | None = None,
              body: bytes = b"") -> None:
        """Serve a fixed answer at ``path``, or at ``path?query`` for one exact query (its
        parameters in any order) as APIs need. A route with an ETag answers 304 to a request
        that sends it back in If-None-Match, as a real server does."""
        self._routes[_route_key(path)] = Route(status, dict(headers or {}), body)

    # --- serving -----------------------------------------------------------------------------

    def _handle(self, sock: socket.socket) -> None:
        sock.settimeout(self.time_limit)
        request = _read_head(sock)
        if request is None:
            return
        method, target, headers = request
        parts = urlsplit(target)
        hit = Hit(method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)), headers,
                  time.monotonic())
        with self._lock:
            self._log.append(hit)
            over_limit = len(self._log) > self.max_requests
        hang_limit = max(0.0, self.time_limit - (time.monotonic() - self._started_at))
        ex = _Exchange(sock, hit, self._stopped, hang_limit)
        try:
            if over_limit:
                ex.respond(503, b"faultd: request limit reached")
            elif (route := self._routes.get(_route_key(target)) or self._routes.get(hit.path)) is not None:
                etag = next((v for k, v in route.headers.items() if k.lower() == "etag"), None)
                if etag is not None and headers.get("if-none-match") == etag:
                    ex.respond(304, headers={"ETag": etag})
                else:
                    ex.respond(route.status, route.body, route.headers)
            else:
                self._dispatch(ex, target)
        except OSError:
            pass  # the client went away; that is what half of these endpoints provoke

    def _dispatch(self, ex: _Exchange, target: str) -> None:
        path, q = ex.hit.path, ex.hit.query
        first, _, rest = path.lstrip("/").partition("/")
        handler: Callable[[], None] | None = {
            "ok": lambda: self._ok(ex, rest),
            "status": lambda: self._status(ex, rest, target),
            "storm": lambda: self._storm(ex),
            "hang-before-headers": ex.hang,
            "hang-after-headers": lambda: (ex.head(200, {"Content-Length": "100"}), ex.hang()),
            "drip": lambda: self._drip(ex),
            "drip-status": lambda: self._drip_head(ex, b""),
            "drip-headers": lambda: self._drip_head(ex, b"HTTP/1.1 200 OK\r\n"),
            "reset": lambda: self._reset(ex),
            "chunked-broken": lambda: self._chunked_broken(ex),
            "big": lambda: self._big(ex),
            "bomb": lambda: self._bomb(ex),
            "redirect": lambda: self._redirect(ex, rest),
            "charset": lambda: self._charset(ex),
            "robots.txt": lambda: self._robots(ex, q.get("mode")),
            "etag": lambda: self._etag(ex),
            "canary": lambda: ex.respond(200, b"canary"),
        }.get(first)
        if handler is None:
            ex.respond(404, b"faultd: no such endpoint")
        else:
            handler()

    def _ok(self, ex: _Exchange, rest: str) -> None:
        file = (self.root / rest).resolve()
        if not file.is_relative_to(self.root) or not file.is_file():
            ex.respond(404, b"faultd: no such fixture")
            return
        headers = {"Content-Type": ex.hit.query.get("ct", "application/octet-stream")}
        extra = ex.hit.query.get("h")
        if extra:
            name, _, value = extra.partition(":")
            headers[name.strip()] = value.strip()
        ex.respond(200, file.read_bytes(), headers)

    def _status(self, ex: _Exchange, code: str, target: str) -> None:
        q = ex.hit.query
        with self._lock:
            key = ("status", q.get("id", target))
            self._counts[key] += 1
            served = self._counts[key]
        if "times" in q and served > int(q["times"]):
            ex.respond(200, f"ok after {q['times']} x {code}".encode())
            return
        now = float(int(time.time()))
        headers = {}
        ra = q.get("ra")
        if ra and ra.startswith("date:"):
            headers["Retry-After"] = email.utils.formatdate(now + float(ra[5:]), usegmt=True)
        elif ra:
            headers["Retry-After"] = ra
        ex.respond(int(code), f"status {code}".encode(), headers, date=now)

    def _storm(self, ex: _Exchange) -> None:
        seed = ex.hit.query.get("seed", str(self.seed))
        with self._lock:
            rng = self._rngs.setdefault(seed, random.Random(seed))
            stormy = rng.random() < float(ex.hit.query.get("p", "0.9"))
        if stormy:
            ex.respond(503, b"storm")
        else:
            ex.respond(200, b"calm")

    def _drip(self, ex: _Exchange) -> None:
        interval = float(ex.hit.query.get("interval", "0.5"))
        size = int(ex.hit.query.get("bytes", "10000"))
        ex.head(200, {"Content-Length": str(size)})
        for _ in range(size):
            if not ex.send(b"x") or self._stopped.wait(interval):
                return

    def _drip_head(self, ex: _Exchange, sent_at_once: bytes) -> None:
        """A response head that never ends: what is not sent at once goes a byte per interval."""
        interval = float(ex.hit.query.get("interval", "1"))
        ex.sock.sendall(sent_at_once)
        head = b"HTTP/1.1 200 OK\r\n"[len(sent_at_once):]
        line = 0
        while not self._stopped.is_set():
            if not head:
                line += 1
                head = b"X-Drip-%d: x\r\n" % line
            if not ex.send(head[:1]) or self._stopped.wait(interval):
                return
            head = head[1:]

    def _reset(self, ex: _Exchange) -> None:
        after = int(ex.hit.query.get("after", "100"))
        ex.head(200, {"Content-Length": str(after + 1000)})
        ex.send(b"x" * after)
        if ex.hit.query.get("mode", "fin") == "rst":
            ex.reset()
        # mode=fin: returning closes the socket with a FIN, short of the promised length

    def _chunked_broken(self, ex: _Exchange) -> None:
        ex.head(200, {"Transfer-Encoding": "chunked"})
        ex.send(b"6\r\nhello \r\n5\r\nworld\r\n")  # no "0\r\n\r\n": the body never ends properly

    def _big(self, ex: _Exchange) -> None:
        size = int(float(ex.hit.query.get("mb", "50")) * 1024 * 1024)
        block = b"x" * 65536
        if ex.hit.query.get("cl", "1") == "1":
            ex.head(200, {"Content-Length": str(size)})
            frame: Callable[[bytes], bytes] = lambda data: data
        else:
            ex.head(200, {"Transfer-Encoding": "chunked"})
            frame = lambda data: b"%x\r\n%s\r\n" % (len(data), data)
        left = size
        while left > 0:
            if self._stopped.is_set() or not ex.send(frame(block[:left])):
                return
            left -= min(left, len(block))
        if ex.hit.query.get("cl", "1") != "1":
            ex.send(b"0\r\n\r\n")

    def _bomb(self, ex: _Exchange) -> None:
        codec = ex.hit.query.get("codec", "gzip")
        body = compression_bomb(codec, int(ex.hit.query.get("mb", "200")))
        ex.respond(200, body, {"Content-Encoding": codec, "Content-Type": "text/html"})

    def _redirect(self, ex: _Exchange, rest: str) -> None:
        kind, _, arg = rest.partition("/")
        to = {"loop": "/redirect/loop",
              "offhost": ex.hit.query.get("to", "http://offhost.invalid/ok"),
              "scheme": ex.hit.query.get("to", "file:///etc/passwd")}.get(kind)
        if kind == "chain":
            n = int(arg or "0")
            if n <= 0:
                ex.respond(200, b"end of chain")
                return
            to = f"/redirect/chain/{n - 1}"
        if to is None:
            ex.respond(404, b"faultd: no such redirect")
            return
        ex.respond(302, b"", {"Location": to})

    def _charset(self, ex: _Exchange) -> None:
        declared = ex.hit.query.get("declared", "utf-8")
        actual = ex.hit.query.get("actual", "utf-8")
        body = "<p>Café – “citaat” één</p>".encode(actual)
        ex.respond(200, body, {"Content-Type": f"text/html; charset={declared}"})

    def _robots(self, ex: _Exchange, mode: str | None) -> None:
        setting = mode if mode is not None else self.robots
        if isinstance(setting, bytes):
            ex.respond(200, setting)
        elif setting == "garbage":
            with self._lock:
                noise = random.Random(self.seed).randbytes(4096)
            ex.respond(200, noise, {"Content-Type": "application/octet-stream"})
        elif setting == "hang":
            ex.hang()
        elif setting == "redirect-loop":
            ex.respond(302, b"", {"Location": "/robots.txt"})
        else:
            status, body = ROBOTS[setting]
            ex.respond(status, body)

    def _etag(self, ex: _Exchange) -> None:
        etag = '"%s"' % ex.hit.query.get("etag", "v1")
        headers = {"ETag": etag, "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"}
        if ex.hit.headers.get("if-none-match") == etag:
            ex.respond(304, b"", headers)
        else:
            ex.respond(200, b"etag body " + etag.encode(), headers)


class Dripper:
    """On connect: send ``prefix``, then ``unit`` over and over, one byte every ``interval`` seconds,
    until the client goes away or ``time_limit`` passes. ``connections`` counts the clients."""

    def __init__(self, unit: bytes, *, prefix: bytes = b"", interval: float = 0.1, host: str = "127.0.0.1",
                 time_limit: float = 30.0) -> None:
        self.unit, self.prefix, self.interval, self.time_limit = unit, prefix, interval, time_limit
        self.connections = 0
        self._timer: threading.Timer | None = None
        self._stopped = threading.Event()
        self._listener = socket.create_server((host, 0))
        self.host, self.port = host, self._listener.getsockname()[1]

    def start(self) -> Dripper:
        threading.Thread(target=self._accept, name="dripper", daemon=True).start()
        self._timer = threading.Timer(self.time_limit, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()

    def __enter__(self) -> Dripper:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(client,), daemon=True).start()

    def _drip(self, client: socket.socket) -> None:
        with client:
            try:
                client.sendall(self.prefix)
                while not self._stopped.wait(self.interval):
                    for byte in self.unit:
                        client.sendall(bytes([byte]))
                        if self._stopped.wait(self.interval):
                            return
            except OSError:
                return  # the client gave up: what the tests want


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True  # a hanging handler must never keep the test process alive
    faultd: Faultd


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.faultd._handle(self.request)


def _read_head(sock: socket.socket) -> tuple[str, str, dict[str, str]] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk or len(data) > 65536:
            return None
        data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    method, target, _ = (head[0].split(" ", 2) + ["", ""])[:3]
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return method, target, headers


@functools.lru_cache(maxsize=4)
def compression_bomb(codec: str, mb: int) -> bytes:
    """``mb`` MiB of zeros compressed to about a thousandth of that (gzip or zlib deflate).
    Built once per size; call it before a timed or measured request to keep the build out."""
    wbits = {"gzip": 31, "deflate": 15}[codec]
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    zeros = bytes(1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(mb)) + packer.flush()
