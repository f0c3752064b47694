"""monitor.http.Client against faultd (RELIABILITY N1-N14): every fault over real loopback sockets,
with a fake clock and sleep so that backoff and pacing are asserted, not waited for."""

from __future__ import annotations

import gzip
import socket
import ssl
import time
import tracemalloc
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from faultd import compression_bomb
from monitor import config
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
    RobotsDisallowed,
    Timeout,
    TLSFailed,
    TooLarge,
)
from monitor.http import Client, HttpSettings, MemoryCache
from scrapers.base import Fetcher

FEED = "/ok/http/mkb-nederland_rss_nieuws_excerpt.xml"
FEED_BYTES = (Path(__file__).parent / "fixtures" / "http" / "mkb-nederland_rss_nieuws_excerpt.xml").read_bytes()

# The test profile: short timeouts, small caps, no pacing and no robots.txt unless a test asks.
TEST_PROFILE = {"connect_timeout": 1.0, "read_timeout": 0.3, "total_deadline": 1.0, "max_bytes": 1_000_000,
                "max_decoded_bytes": 1_000_000, "host_interval": 0.0, "robots": False,
                "allow_private": True}  # faultd listens on 127.0.0.x


def settings(**overrides: object) -> HttpSettings:
    return config.load(overrides={"http": {**TEST_PROFILE, **overrides}}).http


class FakeClock:
    """Monotonic time that moves only when the client sleeps; the sleeps are recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class UpperBound:
    """An rng whose 'full jitter' is no jitter: always the top of the range."""

    def uniform(self, low: float, high: float) -> float:
        return high


def client(clock: FakeClock, **overrides: object) -> Client:
    return Client(settings(**overrides), clock=clock, sleep=clock.sleep, rng=UpperBound())  # type: ignore[arg-type]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_client_is_a_fetcher_and_sends_our_headers(faultd, clock):
    with client(clock) as http:
        assert isinstance(http, Fetcher)
        response = http.get(faultd.url(FEED), params={"ct": "application/rss+xml"})
    assert response.status == 200 and response.content == FEED_BYTES
    assert response.content_type == "application/rss+xml"
    sent = faultd.log[0].headers
    assert sent["user-agent"] == settings().user_agent
    assert sent["accept-encoding"] == "gzip, deflate"
    assert http.stats["127.0.0.1"] == {"requests": 1, "retries": 0, "not_modified": 0, "bytes": len(FEED_BYTES)}


# --- retries and Retry-After (N3, N4) -------------------------------------------------------


@pytest.mark.parametrize("ra", ["7", "date:7"])
def test_retry_after_is_honoured_exactly(faultd, clock, ra):
    with client(clock) as http:
        response = http.get(faultd.url(f"/status/429?times=1&ra={ra}"))
    assert response.status == 200
    assert clock.sleeps == [7.0]
    assert faultd.hits("/status/429") == 2


def test_503_then_200_succeeds_after_backoff(faultd, clock):
    with client(clock, backoff_base=1.0, backoff_cap=60.0) as http:
        response = http.get(faultd.url("/status/503?times=2"))
    assert response.content == b"ok after 2 x 503"
    assert clock.sleeps == [1.0, 2.0]  # base * 2**(attempt-1), jitter pinned to its top
    assert http.stats["127.0.0.1"]["retries"] == 2 and http.stats["127.0.0.1"]["requests"] == 3


def test_backoff_is_capped_and_jittered(faultd):
    clock = FakeClock()
    http = Client(settings(retries=4, backoff_base=10.0, backoff_cap=15.0), clock=clock, sleep=clock.sleep)
    with http, pytest.raises(HTTPStatus) as caught:
        http.get(faultd.url("/status/502"))
    assert caught.value.status == 502 and caught.value.code == "fetch.status"
    assert len(clock.sleeps) == 3
    assert all(0 <= s <= 15.0 for s in clock.sleeps)
    assert faultd.hits("/status/502") == 4


def test_retries_run_out_with_rate_limited(faultd, clock):
    with client(clock) as http, pytest.raises(RateLimited) as caught:
        http.get(faultd.url("/status/429?ra=3"))
    assert caught.value.retry_after == 3.0 and caught.value.status == 429
    assert clock.sleeps == [3.0, 3.0]


def test_long_retry_after_defers_the_host_without_more_requests(faultd, clock):
    with client(clock) as http:
        with pytest.raises(Deferred) as caught:
            http.get(faultd.url("/status/429?ra=86400"))
        assert caught.value.details["retry_after"] == 86400.0
        with pytest.raises(Deferred):
            http.get(faultd.url(FEED))
    assert clock.sleeps == []
    assert [hit.path for hit in faultd.log] == ["/status/429"]


def test_client_errors_are_not_retried(faultd, clock):
    with client(clock) as http, pytest.raises(HTTPStatus) as caught:
        http.get(faultd.url("/nowhere"))
    assert caught.value.status == 404 and not caught.value.retryable
    assert faultd.hits("/nowhere") == 1 and clock.sleeps == []


# --- time (N5, N6) ----------------------------------------------------------------------------


@pytest.mark.slow
def test_drip_past_the_total_deadline_is_cut_off(faultd):
    deadline = 1.0
    http = Client(settings(total_deadline=deadline, read_timeout=0.5), sleep=FakeClock().sleep)
    started = time.monotonic()
    with http, pytest.raises(DeadlineExceeded):
        http.get(faultd.url("/drip?interval=0.1&bytes=100"))
    assert time.monotonic() - started < deadline + 0.5
    assert faultd.hits("/drip") == 1  # a deadline is not retried within the run


def test_hang_before_headers_is_a_read_timeout_and_retried(faultd, clock):
    with client(clock, read_timeout=0.2) as http, pytest.raises(ReadTimeout):
        http.get(faultd.url("/hang-before-headers"))
    assert faultd.hits("/hang-before-headers") == 3


def test_hang_after_headers_is_a_read_timeout(faultd, clock):
    with client(clock, read_timeout=0.2, retries=1) as http, pytest.raises(ReadTimeout):
        http.get(faultd.url("/hang-after-headers"))


def test_connection_refused_is_connect_failed(clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the request: nothing listens there
    with client(clock) as http, pytest.raises(ConnectFailed):
        http.get(f"http://127.0.0.1:{port}/")
    assert len(clock.sleeps) == 2


# --- size (N8, N9) ----------------------------------------------------------------------------


def test_content_length_over_the_cap_is_refused_before_reading(faultd, clock):
    with client(clock) as http, pytest.raises(TooLarge) as caught:
        http.get(faultd.url("/big?mb=50&cl=1"))
    assert caught.value.details["size"] == 50 * 1024 * 1024
    assert http.stats["127.0.0.1"]["bytes"] == 0


def test_streamed_body_over_the_cap_is_aborted_near_the_cap(faultd, clock):
    with client(clock) as http, pytest.raises(TooLarge):
        http.get(faultd.url("/big?mb=50&cl=0"))
    assert 1_000_000 < http.stats["127.0.0.1"]["bytes"] <= 1.1 * 1_000_000


def test_per_request_max_bytes_raises_the_cap(faultd, clock):
    with client(clock) as http:
        response = http.get(faultd.url("/big?mb=2&cl=1"), max_bytes=3 * 1024 * 1024)
    assert len(response.content) == 2 * 1024 * 1024


@pytest.mark.parametrize("codec", ["gzip", "deflate"])
def test_compression_bomb_stops_at_the_decoded_cap_in_bounded_memory(faultd, clock, codec):
    compression_bomb(codec, 20)  # built once and cached: keep the building out of the measurement
    with client(clock) as http:
        tracemalloc.start()
        try:
            with pytest.raises(DecompressionLimit):
                http.get(faultd.url(f"/bomb?codec={codec}&mb=20"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 3 * 1_000_000  # httpx's own decoder would have held all 20 MiB
    assert faultd.hits("/bomb") == 1


@pytest.mark.parametrize("encode, encoding", [
    (gzip.compress, "gzip"),
    (zlib.compress, "deflate"),
    (lambda data: zlib.compress(data)[2:-4], "deflate"),  # raw deflate, as many servers send it
])
def test_bodies_are_decoded_and_wire_headers_dropped(clock, encode, encoding):
    def answer(request: httpx.Request) -> httpx.Response:
        # A stream, not content=: httpx would decode content= itself, unbounded.
        return httpx.Response(200, headers={"Content-Encoding": encoding}, stream=httpx.ByteStream(encode(FEED_BYTES)))

    http = Client(settings(), transport=httpx.MockTransport(answer), clock=clock, sleep=clock.sleep)
    with http:
        response = http.get("https://www.mkb.nl/rss/nieuws-mkb-nederland")
    assert response.content == FEED_BYTES
    assert "content-encoding" not in response.headers and "content-length" not in response.headers


def test_mock_transport_bodies_given_as_content_work(clock):
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=FEED_BYTES))
    with Client(settings(), transport=transport, clock=clock, sleep=clock.sleep) as http:
        assert http.get("https://www.mkb.nl/rss/nieuws-mkb-nederland").content == FEED_BYTES
    with Client(settings(max_bytes=100), transport=transport, clock=clock, sleep=clock.sleep) as http:
        with pytest.raises(TooLarge):
            http.get("https://www.mkb.nl/rss/nieuws-mkb-nederland")


def test_a_coding_we_did_not_ask_for_is_refused(clock):
    transport = httpx.MockTransport(
        lambda r: httpx.Response(200, headers={"Content-Encoding": "br"}, stream=httpx.ByteStream(b"x")))
    with Client(settings(), transport=transport, clock=clock, sleep=clock.sleep) as http:
        with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
            http.get("https://example.nl/")


# --- broken connections (N1, N2) -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["fin", "rst"])
def test_reset_mid_body_is_data_loss_after_retries(faultd, clock, mode):
    with client(clock) as http, pytest.raises(DataLoss):
        http.get(faultd.url(f"/reset?after=100&mode={mode}"))
    assert faultd.hits("/reset") == 3
    assert http.stats["127.0.0.1"]["retries"] == 2


def test_broken_chunked_encoding_is_data_loss(faultd, clock):
    with client(clock, retries=1) as http, pytest.raises(DataLoss):
        http.get(faultd.url("/chunked-broken"))


@pytest.mark.parametrize("raised, expected", [
    (httpx.ConnectError("refused"), ConnectFailed),
    (httpx.ConnectTimeout("slow"), ConnectFailed),
    (httpx.ReadTimeout("idle"), ReadTimeout),
    (httpx.WriteTimeout("stuck"), Timeout),
    (httpx.PoolTimeout("busy"), Timeout),
    (httpx.ReadError("reset"), DataLoss),
    (httpx.RemoteProtocolError("peer closed"), DataLoss),
    (httpx.ProxyError("proxy"), FetchError),
    (httpx.UnsupportedProtocol("gopher"), FetchError),
])
def test_no_httpx_exception_escapes(clock, raised, expected):
    def fail(request: httpx.Request) -> httpx.Response:
        raise raised

    with Client(settings(retries=1), transport=httpx.MockTransport(fail), clock=clock, sleep=clock.sleep) as http:
        with pytest.raises(expected) as caught:
            http.get("https://example.nl/page")
    assert caught.value.url == "https://example.nl/page"


def test_tls_failure_is_named(clock):
    def fail(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate")
        except ssl.SSLError as exc:
            raise httpx.ConnectError(str(exc)) from exc

    with Client(settings(), transport=httpx.MockTransport(fail), clock=clock, sleep=clock.sleep) as http:
        with pytest.raises(TLSFailed):
            http.get("https://example.nl/")
    assert clock.sleeps == []  # a TLS failure is not retried


# --- redirects (N7) ---------------------------------------------------------------------------


def test_redirect_loop(faultd, clock):
    with client(clock, max_redirects=5) as http, pytest.raises(RedirectLoop):
        http.get(faultd.url("/redirect/loop"))
    assert faultd.hits("/redirect/loop") == 6


def test_redirect_chain_up_to_the_limit_is_followed(faultd, clock):
    with client(clock, max_redirects=5) as http:
        response = http.get(faultd.url("/redirect/chain/5"))
        assert response.content == b"end of chain" and response.url == faultd.url("/redirect/chain/0")
        with pytest.raises(RedirectLoop):
            http.get(faultd.url("/redirect/chain/6"))


@pytest.mark.parametrize("path", ["/redirect/offhost", "/redirect/scheme?to=file:///etc/passwd",
                                  "/redirect/scheme?to=ftp://127.0.0.1/x"])
def test_redirect_to_another_host_or_scheme_is_forbidden(faultd, clock, path):
    with client(clock) as http, pytest.raises(RedirectForbidden):
        http.get(faultd.url(path))


def test_redirect_allow_list(faultd, faultd_factory, clock):
    other = faultd_factory(host="127.0.0.2")
    target = other.url(FEED)
    with client(clock) as http, pytest.raises(RedirectForbidden):
        http.get(faultd.url(f"/redirect/offhost?to={target}"))
    assert other.log == []
    allowing = Client(settings(), allowed_hosts=["127.0.0.1", "127.0.0.2"], clock=clock, sleep=clock.sleep)
    with allowing:
        assert allowing.get(faultd.url(f"/redirect/offhost?to={target}")).content == FEED_BYTES


# --- robots.txt (N13) -------------------------------------------------------------------------


def test_robots_disallow_stops_the_page_request(faultd, clock):
    faultd.robots = "disallow"
    with client(clock, robots=True) as http:
        for _ in range(2):
            with pytest.raises(RobotsDisallowed):
                http.get(faultd.url(FEED))
    assert faultd.hits("/robots.txt") == 1  # fetched once per run
    assert faultd.hits(FEED) == 0


def test_robots_404_allows_everything(faultd, clock):
    with client(clock, robots=True) as http:
        assert http.get(faultd.url(FEED)).content == FEED_BYTES
    assert [hit.path for hit in faultd.log] == ["/robots.txt", FEED]


def test_robots_500_defers_without_page_requests(faultd, clock):
    faultd.robots = "500"
    with client(clock, robots=True) as http:
        for _ in range(2):
            with pytest.raises(Deferred, match="robots.txt"):
                http.get(faultd.url(FEED))
    assert faultd.hits(FEED) == 0
    assert faultd.hits("/robots.txt") == 3  # one retried fetch, then deferred for the run


def test_robots_unreachable_uses_a_recent_good_copy(faultd, clock):
    faultd.robots = "500"
    cache = MemoryCache()
    cache.put_robots(faultd.origin, b"User-agent: *\nDisallow: /private\n", fetched_at=time.time() - 3600)
    with Client(settings(robots=True), cache=cache, clock=clock, sleep=clock.sleep) as http:
        assert http.get(faultd.url(FEED)).status == 200
        with pytest.raises(RobotsDisallowed):
            http.get(faultd.url("/private/page"))
    stale = MemoryCache()
    stale.put_robots(faultd.origin, b"", fetched_at=time.time() - 2 * 86400)
    with Client(settings(robots=True), cache=stale, clock=clock, sleep=clock.sleep) as http:
        with pytest.raises(Deferred):
            http.get(faultd.url(FEED))


def test_robots_good_copy_is_cached(faultd, clock):
    faultd.robots = b"User-agent: mkb-monitor\nDisallow: /private\n"
    cache = MemoryCache()
    with Client(settings(robots=True), cache=cache, clock=clock, sleep=clock.sleep) as http:
        http.get(faultd.url(FEED))
    body, fetched_at = cache.get_robots(faultd.origin)
    assert body == faultd.robots and abs(fetched_at - time.time()) < 60


def test_robots_only_first_500_kib_is_parsed(faultd, clock):
    faultd.robots = "huge"  # "Disallow: /" comes after 600 KB of comments
    with client(clock, robots=True) as http:
        assert http.get(faultd.url(FEED)).status == 200


def test_robots_redirect_loop_counts_as_unavailable(faultd, clock):
    faultd.robots = "redirect-loop"
    with client(clock, robots=True) as http:
        assert http.get(faultd.url(FEED)).status == 200


# --- conditional requests (N14, I1) -----------------------------------------------------------


def test_304_and_validators_stay_pending_until_committed(faultd, clock):
    cache = MemoryCache()
    with Client(settings(), cache=cache, clock=clock, sleep=clock.sleep) as http:
        first = http.get(faultd.url("/etag"), conditional=True)
        assert first.status == 200 and not first.not_modified
        assert cache.validators == {}  # nothing persisted behind the pipeline's back
        again = http.get(faultd.url("/etag"), conditional=True)
        assert again.status == 200  # uncommitted validators are not sent
        assert "if-none-match" not in faultd.log[-1].headers

        pending = http.take_pending_validators()
        assert pending == {faultd.url("/etag"): {"etag": '"v1"', "last_modified": "Mon, 02 Nov 2026 10:00:00 GMT"}}
        assert http.take_pending_validators() == {}
        cache.validators.update(pending)  # what the store does in the page's transaction

        third = http.get(faultd.url("/etag"), conditional=True)
    assert third.not_modified and third.status == 304 and third.content == b""
    assert faultd.log[-1].headers["if-none-match"] == '"v1"'
    assert faultd.log[-1].headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"
    assert http.stats["127.0.0.1"]["not_modified"] == 1


# --- pacing and the breaker (N4) --------------------------------------------------------------


def test_per_host_pacing(faultd, faultd_factory, clock):
    other = faultd_factory(host="127.0.0.2")
    with client(clock, host_interval=1.0) as http:
        http.get(faultd.url(FEED))
        http.get(other.url(FEED))  # another host: no wait
        assert clock.sleeps == []
        http.get(faultd.url(FEED))
        http.get(faultd.url(FEED))
    assert clock.sleeps == [1.0, 1.0]


def test_pacing_reserves_distinct_slots_across_threads(faultd):
    requested: list[float] = []
    http = Client(settings(host_interval=1.0), sleep=requested.append)  # real clock, no real waiting
    with http, ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: http.get(faultd.url(FEED)), range(5)))
    assert sorted(round(s) for s in requested) == [1, 2, 3, 4]  # no two requests share a slot
    assert faultd.hits(FEED) == 5


def test_breaker_opens_for_one_host_only(faultd, faultd_factory, clock):
    healthy = faultd_factory(host="127.0.0.2")
    with client(clock, breaker_failures=3, retries=1) as http:
        for _ in range(3):
            with pytest.raises(HTTPStatus):
                http.get(faultd.url("/storm?p=1"))
        with pytest.raises(Deferred, match="circuit breaker"):
            http.get(faultd.url(FEED))
        assert http.get(healthy.url(FEED)).content == FEED_BYTES
    assert len(faultd.log) == 3


def test_a_success_closes_the_count(faultd, clock):
    with client(clock, breaker_failures=3, retries=1) as http:
        for path in ["/status/500", "/status/500", FEED, "/status/500", "/status/500"]:
            try:
                http.get(faultd.url(path))
            except HTTPStatus:
                pass
        assert http.get(faultd.url(FEED)).status == 200


# --- settings ---------------------------------------------------------------------------------


def test_settings_come_only_from_the_config():
    table = config.load().data["http"]
    assert HttpSettings.from_config(table).user_agent.startswith("mkb-monitor/")
    with pytest.raises(ConfigError, match="unknown key 'retry'"):
        HttpSettings.from_config({**table, "retry": 3})
    with pytest.raises(ConfigError, match="missing key 'retries'"):
        HttpSettings.from_config({k: v for k, v in table.items() if k != "retries"})


@pytest.mark.parametrize("key, value", [
    ("connect_timeout", -1.0), ("read_timeout", 0.0), ("total_deadline", float("nan")),
    ("total_deadline", float("inf")), ("max_redirects", -3), ("retries", 0), ("max_bytes", -1),
    ("host_interval", -0.5), ("backoff_cap", float("inf")), ("max_concurrency", 0), ("robots_max_bytes", 0),
])
def test_settings_out_of_range_are_refused_naming_the_key(key, value):
    """nan or inf would switch the deadline off, -3 redirects would break every source."""
    with pytest.raises(ConfigError, match=rf"\[http\] {key} = {value!r} is out of range"):
        settings(**{key: value})


def test_a_user_agent_needs_a_product_token():
    with pytest.raises(ConfigError, match="product token"):
        settings(user_agent="/1.0 (no name)")


def test_robots_group_for_another_agent_does_not_apply_and_a_bom_is_skipped(faultd, clock):
    faultd.robots = (b"\xef\xbb\xbfUser-agent: mkb\nDisallow: /\n\nUser-agent: *\n\nDisallow: /private\n"
                     b"Crawl-delay: 10\nUser-agent: MKB-Monitor\nUser-agent: other\nDisallow: /ok/http/blocked\n")
    with client(clock, robots=True) as http:
        assert http.get(faultd.url(FEED)).status == 200  # the mkb group is not ours
        with pytest.raises(HTTPStatus):  # fetched (the * group is not ours once ours exists): faultd's 404
            http.get(faultd.url("/private/page"))
        with pytest.raises(RobotsDisallowed):
            http.get(faultd.url("/ok/http/blocked.xml"))
    assert faultd.hits("/robots.txt") == 1 and faultd.hits("/ok/http/blocked.xml") == 0


def test_non_http_urls_are_refused(clock):
    with client(clock) as http, pytest.raises(FetchError, match="not an http"):
        http.get("file:///etc/passwd")
