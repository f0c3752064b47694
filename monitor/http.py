"""The one polite HTTP client every source uses (``scrapers.base.Fetcher``).

``Client.get`` is a GET that is bounded in every dimension RELIABILITY I9 names and polite in
every way N1-N15 ask for:

* **time**: a connect and a read timeout (httpx), and a *total* deadline per exchange that holds
  in every phase (resolving, connecting, TLS, the status line, the headers, the body), because
  httpx has none: a server dripping its status line a byte a second never trips a read timeout
  (``monitor.connections`` bounds every socket call by the time left);
* **where**: connections go only to public addresses, or to the non-public ones the config
  allows (``[http] allow_private``, a source's ``allow_private_addresses``), checked on the address
  actually connected to, for every redirect again (``monitor.connections``);
* **size**: a raw cap, checked against Content-Length before the body is read and again while
  streaming, and a decoded cap. Bodies are read with ``iter_raw()`` and decoded here, asking zlib
  for at most 64 KiB at a time, so a gzip bomb stops at the cap instead of inflating in one go;
* **politeness**: one User-Agent, a minimum interval between requests to one host, a limit on
  concurrent requests, robots.txt (RFC 9309, ``monitor.robots``) per origin, conditional requests;
* **failure**: retries with exponential backoff and full jitter, Retry-After honoured up to a cap
  (a longer one defers the source to the next run), a per-host circuit breaker, redirects followed
  here against a scheme and host allow-list, and every httpx exception mapped to
  ``monitor.errors``. No httpx exception escapes ``get``.

Validators (ETag, Last-Modified) seen on a conditional GET are *not* written anywhere: they wait
in ``take_pending_validators()`` until the pipeline commits them in the same transaction as the
items of that page (I1), so a crash before the commit can never make the next run skip a page
with a 304.

Every setting comes from the ``[http]`` table of the configuration (``HttpSettings``); the clock,
the sleep function and the random source are injectable so that tests never really wait.
"""

from __future__ import annotations

import dataclasses
import email.utils
import math
import random
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

import httpx

from monitor import connections, robots
from monitor.connections import AddressPolicy
from monitor.errors import (
    ConfigError,
    ConnectFailed,
    DataLoss,
    DeadlineExceeded,
    DecompressionLimit,
    Deferred,
    FetchError,
    HTTPStatus,
    RateLimited,
    ReadTimeout,
    RedirectForbidden,
    RedirectLoop,
    Timeout,
    TLSFailed,
    TooLarge,
)
from scrapers.base import Response

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# Headers that describe the bytes on the wire, not the decoded body a Response carries.
WIRE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})

# The codings we ask for; brotli and zstd are left out so that every body goes through the
# bounded decoder below.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class HttpSettings:
    """The ``[http]`` table of the configuration (every default is in ``monitor/defaults.toml``)."""

    user_agent: str
    connect_timeout: float
    read_timeout: float
    total_deadline: float
    max_bytes: int
    max_decoded_bytes: int
    max_redirects: int
    retries: int
    backoff_base: float
    backoff_cap: float
    retry_after_cap: float
    host_interval: float
    max_concurrency: int
    breaker_failures: int
    robots: bool
    robots_ttl: float
    robots_max_bytes: int
    allow_private: bool

    @classmethod
    def from_config(cls, table: Mapping[str, Any]) -> HttpSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(table) - names)
        if unknown:
            raise ConfigError(f"[http]: unknown key {unknown[0]!r}")
        missing = sorted(names - set(table))
        if missing:
            raise ConfigError(f"[http]: missing key {missing[0]!r}")
        for name, value in table.items():
            check_range(f"[http] {name}", value, RANGES.get(name))
        if not robots.product_token(table["user_agent"]):
            raise ConfigError(f"[http] user_agent must start with a product token (letters, '-', '_'), "
                              f"as in 'mkb-monitor/1.0': {table['user_agent']!r}")
        return cls(**table)

    def address_policy(self, allowed: Iterable[str] = (), *, source: str | None = None) -> AddressPolicy:
        """What a source's connections may reach: every non-public address when
        ``allow_private`` is set, else the networks in ``allowed`` (its ``allow_private_addresses``)."""
        setting = f"[sources.{source}] allow_private_addresses" if source else "[http] allow_private"
        return AddressPolicy.build(self.allow_private, allowed, setting=setting)


# (minimum, maximum) of each number in [http]; a float must also be finite: nan compares false
# with everything and inf would switch a timeout or the deadline off.
RANGES: dict[str, tuple[float, float]] = {
    "connect_timeout": (0.001, 3600), "read_timeout": (0.001, 3600), "total_deadline": (0.001, 86400),
    "max_bytes": (1, 2**40), "max_decoded_bytes": (1, 2**40), "max_redirects": (0, 100),
    "retries": (1, 100), "backoff_base": (0, 3600), "backoff_cap": (0, 86400), "retry_after_cap": (0, 30 * 86400),
    "host_interval": (0, 3600), "max_concurrency": (1, 1000), "breaker_failures": (1, 10_000),
    "robots_ttl": (0, 365 * 86400), "robots_max_bytes": (1, 2**31),
}


def check_range(key: str, value: Any, bounds: tuple[float, float] | None) -> None:
    """Refuse a number outside its range, naming the key (``ConfigError``)."""
    if bounds is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return
    low, high = bounds
    if not (math.isfinite(value) and low <= value <= high):
        raise ConfigError(f"{key} = {value!r} is out of range: it must be a finite number from {low:g} to {high:g}")


class HttpCache(Protocol):
    """What the client reads from (and, for robots.txt only, writes to) persistent storage.

    Validators are keyed by the request URL with its params merged in, exactly as
    ``take_pending_validators()`` hands them out: ``{"etag": ..., "last_modified": ...}``.
    """

    def get_validators(self, url: str) -> Mapping[str, str | None] | None: ...

    def get_robots(self, origin: str) -> tuple[bytes, float] | None: ...

    def put_robots(self, origin: str, body: bytes, fetched_at: float) -> None: ...


class MemoryCache:
    """An ``HttpCache`` in a dict, for tests and one-off runs. Commit validators by updating
    ``validators`` with what ``Client.take_pending_validators()`` returned."""

    def __init__(self) -> None:
        self.validators: dict[str, Mapping[str, str | None]] = {}
        self.robots: dict[str, tuple[bytes, float]] = {}

    def get_validators(self, url: str) -> Mapping[str, str | None] | None:
        return self.validators.get(url)

    def get_robots(self, origin: str) -> tuple[bytes, float] | None:
        return self.robots.get(origin)

    def put_robots(self, origin: str, body: bytes, fetched_at: float) -> None:
        self.robots[origin] = (body, fetched_at)


class BodyDecoder:
    """Decode a body from its Content-Encoding, incrementally, never past ``limit`` bytes.

    httpx's own decoder returns whatever zlib makes of a chunk: one 67 MB piece from a 200 KB
    gzip bomb (RELIABILITY N9, verified). Asking zlib for at most ``STEP`` bytes per call is what
    lets the cap hold before the memory is spent.
    """

    STEP = 64 * 1024

    def __init__(self, encoding: str, limit: int, *, url: str) -> None:
        self.encoding = encoding.strip().lower()
        self.limit = limit
        self.url = url
        self.size = 0
        self._parts: list[bytes] = []
        self._started = False
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS,
                 "identity": None, "": None}
        if self.encoding not in wbits:
            raise FetchError(f"unsupported Content-Encoding {encoding!r} (we accept {ACCEPT_ENCODING})", url=url)
        self._wbits = wbits[self.encoding]
        self._zlib = zlib.decompressobj(self._wbits) if self._wbits else None

    def feed(self, data: bytes) -> None:
        if self._zlib is None:
            self._add(data)
            return
        while True:
            try:
                out = self._zlib.decompress(data, self.STEP)
            except zlib.error as exc:
                if self.encoding == "deflate" and not self._started:
                    # Many servers send raw deflate without the zlib header RFC 9110 asks for.
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._started = True
                    continue
                raise DataLoss(f"corrupt {self.encoding} body: {exc}", url=self.url) from None
            self._started = True
            self._add(out)
            data = self._zlib.unconsumed_tail
            if self._zlib.eof:
                if not self._zlib.unused_data or self.encoding == "deflate":
                    return  # bytes after the end of a deflate stream are ignored, as browsers do
                data = self._zlib.unused_data  # the next member of a multi-member gzip body
                self._zlib = zlib.decompressobj(self._wbits)
            elif not data and len(out) < self.STEP:
                return  # input used up and no output left waiting inside zlib

    def finish(self) -> bytes:
        if self._zlib is not None and self._started and not self._zlib.eof:
            raise DataLoss(f"the {self.encoding} body ends before its end marker", url=self.url)
        return b"".join(self._parts)

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.limit:
            raise DecompressionLimit(f"decoded body is over the cap of {self.limit} bytes", url=self.url,
                                     cap=self.limit)
        if data:
            self._parts.append(data)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with ``monitor.connections``' network backend: connections only to the
    addresses ``policy`` allows, every socket call bounded by the exchange's deadline."""

    def __init__(self, policy: AddressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # httpx offers no way to hand its httpcore pool a network backend, so it is set on the
        # pool it built. The address tests fail loudly if a new httpx moves it.
        self._pool._network_backend = connections.GuardedBackend(policy)  # type: ignore[attr-defined]


def default_transport(settings: HttpSettings, policy: AddressPolicy | None = None) -> httpx.HTTPTransport:
    """The real network transport, sized to the concurrency limit (wrap it to record a run)."""
    limits = httpx.Limits(max_connections=settings.max_concurrency,
                          max_keepalive_connections=settings.max_concurrency)
    return GuardedTransport(policy or settings.address_policy(), limits=limits, retries=0)


def guarded_client(policy: AddressPolicy, *, timeout: float) -> httpx.Client:
    """A bare client for one exchange at a time whose caller handles answers itself (a webhook
    delivery): connections only where ``policy`` allows, no redirects followed, no retries, no
    proxy or netrc from the environment. A source's requests go through ``Client`` instead."""
    return httpx.Client(transport=GuardedTransport(policy, retries=0), timeout=timeout, follow_redirects=False,
                        trust_env=False)


@dataclass(frozen=True)
class _Reply:
    url: httpx.URL
    status: int
    headers: httpx.Headers
    content: bytes


@dataclass(frozen=True)
class _Caps:
    raw: int
    decoded: int


class _Pacer:
    """A minimum interval between the starts of requests to one host, across threads: each
    caller reserves the next free slot under the lock and sleeps outside it."""

    def __init__(self, interval: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + self._interval
        if start > now:
            self._sleep(start - now)


class _Breaker:
    """Per-host circuit breaker for the life of one client (one run): once open, requests to the
    host fail at once without touching the network, and the source is deferred to the next run."""

    def __init__(self, threshold: int) -> None:
        self._threshold = threshold
        self._failures: Counter[str] = Counter()
        self._open: dict[str, str] = {}
        self._lock = threading.Lock()

    def check(self, host: str, url: str) -> None:
        with self._lock:
            reason = self._open.get(host)
        if reason is not None:
            raise Deferred(f"{host}: {reason}", url=url, host=host)

    def failure(self, host: str) -> None:
        with self._lock:
            self._failures[host] += 1
            if self._failures[host] >= self._threshold:
                self._open.setdefault(host, f"circuit breaker open after {self._failures[host]} "
                                            "consecutive failures")

    def success(self, host: str) -> None:
        with self._lock:
            self._failures[host] = 0

    def open(self, host: str, reason: str) -> None:
        with self._lock:
            self._open.setdefault(host, reason)


class Client:
    """The polite, bounded HTTP client (implements ``scrapers.base.Fetcher``).

    ``transport`` replaces the network (``httpx.MockTransport``, ``monitor.recording``'s
    transports); ``allowed_hosts`` are the hosts redirects may lead to, each with its subdomains
    (empty: the host of the URL asked for, without ``www.``); ``policy`` the addresses connections
    may reach (default: ``settings.address_policy()``; it applies to the network transport it
    builds, a given transport brings its own). ``clock`` is monotonic seconds and drives pacing and
    backoff (the total deadline runs on real time: it bounds real sockets); ``now`` is wall-clock
    epoch seconds, used only for the age of cached robots.txt copies.
    """

    def __init__(self, settings: HttpSettings, *, transport: httpx.BaseTransport | None = None,
                 cache: HttpCache | None = None, allowed_hosts: Iterable[str] | None = None,
                 policy: AddressPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 now: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self.settings = settings
        self._cache: HttpCache = cache if cache is not None else MemoryCache()
        self._allowed = tuple(h.lower() for h in allowed_hosts or ())
        self._clock = clock
        self._sleep = sleep
        self._now = now
        self._rng = rng or random.Random()
        transport = transport or default_transport(settings, policy)
        # A recording keeps the readings of the run's clock with the exchanges (see now()).
        self._recorded_clock: Callable[[float], float] | None = getattr(transport, "clock", None)
        self._http = httpx.Client(
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            # No proxy from the environment: a proxy would connect on our behalf, to addresses
            # the policy never sees (and its mount would bypass the transport above).
            trust_env=False,
        )
        self._slots = threading.BoundedSemaphore(settings.max_concurrency)
        self._pacer = _Pacer(settings.host_interval, clock, sleep)
        self._breaker = _Breaker(settings.breaker_failures)
        self._robots = robots.RobotsCache(settings.user_agent, fetch=self._fetch_robots, store=self._cache,
                                          ttl=settings.robots_ttl, max_bytes=settings.robots_max_bytes, now=now)
        self._pending: dict[str, dict[str, str | None]] = {}
        self._stats: dict[str, Counter[str]] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def now(self) -> datetime:
        """The run's time, for the date windows a source puts into its URLs. A recording keeps
        each reading and a replay gives it back, so a replayed run asks the same URLs."""
        now = self._now()
        if self._recorded_clock is not None:
            now = self._recorded_clock(now)
        return datetime.fromtimestamp(now, timezone.utc)

    @property
    def stats(self) -> dict[str, dict[str, int]]:
        """Per host: requests sent (retries and robots.txt included), retries, not_modified, and
        bytes received on the wire."""
        with self._lock:
            return {host: dict(counts) for host, counts in self._stats.items()}

    def take_pending_validators(self) -> dict[str, dict[str, str | None]]:
        """Validators seen since the last call, by request URL; the caller commits them together
        with the items they cover (I1)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def get(self, url: str, *, params: Mapping[str, str] | None = None,
            headers: Mapping[str, str] | None = None, conditional: bool = False,
            max_bytes: int | None = None) -> Response:
        start = _parse_url(url, params)
        key = str(start)
        sent = dict(headers or {})
        if conditional:
            sent.update(self._conditional_headers(key))
        raw_cap = max_bytes or self.settings.max_bytes
        caps = _Caps(raw=raw_cap, decoded=max(raw_cap, self.settings.max_decoded_bytes))
        allowed = self._allowed or (_strip_www(start.host),)
        reply = self._follow(start, sent, caps, allowed=allowed, robots=self.settings.robots)
        response_headers = {k: v for k, v in reply.headers.items() if k not in WIRE_HEADERS}
        if reply.status == 304:
            self._count(reply.url.host, "not_modified")
            return Response(url=str(reply.url), status=304, headers=response_headers, content=b"",
                            not_modified=True)
        if not 200 <= reply.status < 300:
            raise _status_error(reply, self._now())
        if conditional:
            self._keep_validators(key, reply.headers)
        return Response(url=str(reply.url), status=reply.status, headers=response_headers,
                        content=reply.content)

    # --- redirects, robots.txt ---------------------------------------------------------------

    def _follow(self, url: httpx.URL, headers: Mapping[str, str], caps: _Caps, *,
                allowed: tuple[str, ...] | None, robots: bool) -> _Reply:
        """Follow redirects ourselves, checking each target before any request goes to it."""
        for _ in range(self.settings.max_redirects + 1):
            if robots:
                self._robots.check(_origin(url), str(url))
            reply = self._attempts(url, headers, caps)
            location = reply.headers.get("location")
            if reply.status not in REDIRECT_STATUSES or not location:
                return reply
            try:
                target = url.join(location)
            except httpx.InvalidURL as exc:
                raise RedirectForbidden(f"redirect from {url} to an invalid URL {location!r}: {exc}",
                                        url=str(url)) from exc
            if target.scheme not in ("http", "https"):
                raise RedirectForbidden(f"redirect from {url} to a {target.scheme}: URL", url=str(url),
                                        target=str(target))
            if allowed is not None and not _host_allowed(target.host, allowed):
                raise RedirectForbidden(f"redirect from {url} to {target.host}, which is not in the allowed "
                                        f"hosts ({', '.join(allowed)})", url=str(url), target=str(target))
            url = target
        raise RedirectLoop(f"more than {self.settings.max_redirects} redirects, last to {url}", url=str(url))

    def _fetch_robots(self, url: str) -> robots.Fetched:
        # Redirects of robots.txt may cross hosts (RFC 9309 2.3.1.2), so no host allow-list;
        # each one is still a new connection, checked against the address policy.
        caps = _Caps(raw=self.settings.max_bytes, decoded=self.settings.max_decoded_bytes)
        reply = self._follow(httpx.URL(url), {}, caps, allowed=None, robots=False)
        return robots.Fetched(status=reply.status, content=reply.content)

    # --- retries, pacing, the breaker --------------------------------------------------------

    def _attempts(self, url: httpx.URL, headers: Mapping[str, str], caps: _Caps) -> _Reply:
        """One exchange with retries. Returns any reply whose status is not worth retrying."""
        host = url.host
        attempt = 0
        while True:
            attempt += 1
            self._breaker.check(host, str(url))
            self._pacer.wait(host)
            try:
                with self._slots:
                    reply = self._exchange(url, headers, caps)
            except (ConnectFailed, Timeout, DataLoss) as exc:
                # DeadlineExceeded counts against the host but is not retried: a server that
                # took the whole deadline once will not be quicker a second later.
                failure: FetchError = exc
                retry = not isinstance(exc, DeadlineExceeded)
                wait = None
            else:
                status_error = _status_error(reply, self._now()) if reply.status >= 400 else None
                if status_error is None or not status_error.retryable:
                    self._breaker.success(host)  # a 404 is the host working, not failing
                    return reply
                failure, retry = status_error, True
                wait = status_error.retry_after if isinstance(status_error, RateLimited) else None
            self._breaker.failure(host)
            if wait is not None and wait > self.settings.retry_after_cap:
                reason = f"Retry-After {wait:.0f} s is longer than the cap of {self.settings.retry_after_cap:.0f} s"
                self._breaker.open(host, reason)
                raise Deferred(f"{host}: {reason}", url=str(url), retry_after=wait) from failure
            if not retry or attempt >= self.settings.retries:
                raise failure
            self._count(host, "retries")
            self._sleep(wait if wait is not None else self._backoff(attempt))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter (AWS architecture blog, 'Exponential Backoff
        And Jitter'): spreads the retries of many clients instead of synchronising them."""
        ceiling = min(self.settings.backoff_cap, self.settings.backoff_base * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    # --- one exchange -------------------------------------------------------------------------

    def _exchange(self, url: httpx.URL, headers: Mapping[str, str], caps: _Caps) -> _Reply:
        """Send one GET and read its body within the caps and the total deadline, which bounds
        every socket call of the exchange (``monitor.connections.deadline``)."""
        total = self.settings.total_deadline
        timeout = httpx.Timeout(min(self.settings.read_timeout, total),
                                connect=min(self.settings.connect_timeout, total), pool=total)
        request = self._http.build_request("GET", url, headers=headers, timeout=timeout)
        self._count(url.host, "requests")
        with connections.deadline(total) as deadline:
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise self._mapped(exc, url, deadline) from exc
            try:
                content = self._read_body(response, url, deadline, caps) if 200 <= response.status_code < 300 else b""
            except httpx.HTTPError as exc:
                raise self._mapped(exc, url, deadline) from exc
            finally:
                response.close()
        return _Reply(url=url, status=response.status_code, headers=response.headers, content=content)

    def _read_body(self, response: httpx.Response, url: httpx.URL, deadline: connections.Deadline,
                   caps: _Caps) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > caps.raw:
            raise TooLarge(f"Content-Length {declared} is over the cap of {caps.raw} bytes; not read",
                           url=str(url), size=int(declared), cap=caps.raw)
        if response.is_stream_consumed:
            # An in-memory transport (httpx.MockTransport given content=) hands over a body that
            # httpx has already read and decoded.
            encoding, chunks = "identity", iter([response.content])
        else:
            encoding, chunks = response.headers.get("content-encoding", ""), response.iter_raw()
        decoder = BodyDecoder(encoding, caps.decoded, url=str(url))
        received = 0
        for chunk in chunks:
            received += len(chunk)
            self._count(url.host, "bytes", len(chunk))
            if received > caps.raw:
                raise TooLarge(f"body is over the cap of {caps.raw} bytes", url=str(url), cap=caps.raw)
            if deadline.expired():  # a transport without sockets (a mock, a replay) meets it here
                raise self._deadline_exceeded(url)
            decoder.feed(chunk)
        return decoder.finish()

    def _deadline_exceeded(self, url: httpx.URL) -> DeadlineExceeded:
        return DeadlineExceeded(f"{url} took longer than the total deadline of {self.settings.total_deadline:g} s",
                                url=str(url), deadline=self.settings.total_deadline)

    def _mapped(self, exc: httpx.HTTPError, url: httpx.URL, deadline: connections.Deadline) -> FetchError:
        """httpx's exception vocabulary to ours."""
        where = str(url)
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if isinstance(exc, httpx.TimeoutException) and deadline.expired():
            return self._deadline_exceeded(url)
        if isinstance(exc, httpx.ConnectTimeout):
            return ConnectFailed(f"connecting to {url.host} timed out", url=where)
        if isinstance(exc, httpx.ReadTimeout):
            return ReadTimeout(f"no byte from {url.host} for {self.settings.read_timeout} s", url=where)
        if isinstance(exc, httpx.TimeoutException):
            return Timeout(f"{url}: {detail}", url=where)
        if isinstance(exc, httpx.ConnectError):
            if _caused_by(exc, ssl.SSLError):
                return TLSFailed(f"TLS with {url.host} failed: {exc}", url=where)
            return ConnectFailed(f"cannot connect to {url.host}: {exc}", url=where)
        if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.CloseError, httpx.RemoteProtocolError)):
            return DataLoss(f"connection to {url.host} broke ({detail}); partial body discarded", url=where,
                            reason=type(exc).__name__)
        return FetchError(f"{url}: {detail}", url=where)

    # --- bookkeeping -------------------------------------------------------------------------

    def _conditional_headers(self, key: str) -> dict[str, str]:
        # Only committed validators are used: a page whose items were not stored must not 304.
        validators = self._cache.get_validators(key) or {}
        headers = {}
        if validators.get("etag"):
            headers["If-None-Match"] = str(validators["etag"])
        if validators.get("last_modified"):
            headers["If-Modified-Since"] = str(validators["last_modified"])
        return headers

    def _keep_validators(self, key: str, headers: httpx.Headers) -> None:
        etag, modified = headers.get("etag"), headers.get("last-modified")
        if etag or modified:
            with self._lock:
                self._pending[key] = {"etag": etag, "last_modified": modified}

    def _count(self, host: str, name: str, n: int = 1) -> None:
        with self._lock:
            counts = self._stats.setdefault(host, Counter(requests=0, retries=0, not_modified=0, bytes=0))
            counts[name] += n


def _parse_url(url: str, params: Mapping[str, str] | None) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
        if params:
            parsed = parsed.copy_merge_params(params)
    except (httpx.InvalidURL, TypeError) as exc:
        raise FetchError(f"not a valid URL: {url!r} ({exc})", url=url) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise FetchError(f"not an http(s) URL: {url!r}", url=url)
    return parsed


def _status_error(reply: _Reply, now: float) -> HTTPStatus:
    message = f"{reply.status} from {reply.url}"
    wait = retry_after(reply.headers, now)
    if reply.status == 429 or (reply.status == 503 and wait is not None):
        return RateLimited(message, url=str(reply.url), status=reply.status, retry_after=wait)
    return HTTPStatus(message, url=str(reply.url), status=reply.status)


def retry_after(headers: httpx.Headers, now: float) -> float | None:
    """Retry-After in seconds (RFC 9110 10.2.3: delay-seconds or an HTTP-date). A date is
    measured against the response's own Date header where there is one, so that a skewed
    server clock does not turn into a wrong wait."""
    value = headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    when = _http_date(value)
    if when is None:
        return None
    reference = _http_date(headers.get("date", "")) or datetime.fromtimestamp(now, timezone.utc)
    return max(0.0, (when - reference).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _origin(url: httpx.URL) -> str:
    return f"{url.scheme}://{url.netloc.decode('ascii')}"


def _strip_www(host: str) -> str:
    return host[4:] if host.startswith("www.") else host


def _host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower()
    return any(host == entry or host.endswith("." + entry) for entry in allowed)


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
