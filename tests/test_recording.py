"""Record a run against faultd through the real client, stop the server, replay the run offline."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import httpx
import pytest

from monitor import config
from monitor.errors import AddressRefused, ConfigError, DataLoss, HTTPStatus, NoRecording, TooLarge
from monitor.http import Client, HttpSettings, default_transport
from monitor.recording import RecordingTransport, ReplayTransport

FIXTURES = Path(__file__).parent / "fixtures" / "http"
FEED = "/ok/http/mkb-nederland_rss_nieuws_excerpt.xml?ct=application/rss%2Bxml"
SITEMAP = "/ok/http/rijksoverheid_news_sitemap_excerpt.xml"
SITEMAP_BYTES = (FIXTURES / "rijksoverheid_news_sitemap_excerpt.xml").read_bytes()


def settings(**overrides: object) -> HttpSettings:
    profile = {"read_timeout": 0.5, "total_deadline": 2.0, "max_bytes": 100_000, "host_interval": 0.0,
               "robots": True, "allow_private": True, **overrides}  # faultd listens on 127.0.0.1
    return config.load(overrides={"http": profile}).http


def no_sleep(seconds: float) -> None:
    pass


def run(http: Client, origin: str) -> list[object]:
    """A little crawl touching what replay must reproduce: plain, gzip, a retry, redirects, 304,
    and failures; each result is a Response or the failure's class and code."""
    results: list[object] = []
    for path, conditional in [(FEED, False), ("/gzipped-sitemap", False), ("/status/503?times=1", False),
                              ("/redirect/chain/2", False), ("/etag", True), ("/status/404", False),
                              ("/big?mb=1&cl=1", False), ("/reset?after=50&mode=rst", False),
                              ("/redirect/offhost", False)]:
        try:
            results.append(http.get(origin + path, conditional=conditional))
        except Exception as exc:  # noqa: BLE001 - the failure is part of what replay must repeat
            results.append((type(exc).__name__, getattr(exc, "code", None), getattr(exc, "status", None)))
    return results


@pytest.fixture
def recording(faultd, tmp_path):
    """A finished recording of ``run`` against faultd, the live results, and the server's address."""
    faultd.robots = "allow"
    faultd.route("/gzipped-sitemap", headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"},
                 body=gzip.compress(SITEMAP_BYTES))
    directory = tmp_path / "run"
    http = settings()
    with Client(http, transport=RecordingTransport(default_transport(http), directory), sleep=no_sleep) as client:
        live = run(client, faultd.origin)
    origin = faultd.origin
    faultd.stop()
    return directory, live, origin


def test_replay_gives_identical_responses_with_the_server_stopped(recording):
    directory, live, origin = recording
    with pytest.raises(httpx.ConnectError):
        httpx.get(origin + "/etag")  # nothing is listening any more
    with Client(settings(), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        replayed = run(client, origin)
    assert replayed == live
    kinds = [r if isinstance(r, tuple) else r.status for r in live]
    assert kinds == [200, 200, 200, 200, 200, ("HTTPStatus", "fetch.status", 404),
                     ("TooLarge", "fetch.too_large", None), ("DataLoss", "fetch.data_loss", None),
                     ("RedirectForbidden", "fetch.redirect_forbidden", None)]
    assert live[1].content == SITEMAP_BYTES


def test_the_index_is_the_documented_format(recording):
    directory, _, origin = recording
    entries = [json.loads(line) for line in (directory / "index.jsonl").read_text("utf-8").splitlines()]
    assert entries[0]["url"] == origin + "/robots.txt"
    keys = {"method", "url", "status", "headers", "body", "sha256", "size", "form", "complete", "error",
            "recorded_at"}
    assert all(set(entry) == keys for entry in entries)
    for entry in entries:
        if entry["body"] is not None:
            body = (directory / entry["body"]).read_bytes()
            assert hashlib.sha256(body).hexdigest() == entry["sha256"] and len(body) == entry["size"]

    sitemap = next(e for e in entries if e["url"].endswith("/gzipped-sitemap"))
    assert sitemap["form"] == "decoded" and sitemap["complete"]
    assert (directory / sitemap["body"]).read_bytes() == SITEMAP_BYTES  # stored readable, not gzip
    assert not {"content-encoding", "content-length"} & {name for name, _ in sitemap["headers"]}

    too_large = next(e for e in entries if "/big" in e["url"])
    assert too_large["form"] == "wire" and not too_large["complete"] and too_large["size"] == 0
    assert ["content-length", str(1024 * 1024)] in too_large["headers"]

    resets = [e for e in entries if "/reset" in e["url"]]
    assert len(resets) == 3 and all(e["error"]["type"] == "ReadError" for e in resets)
    statuses = [e["status"] for e in entries if "/status/503" in e["url"]]
    assert statuses == [503, 200]


def test_replay_serves_repeats_in_order_then_the_last(recording):
    directory, _, origin = recording
    with Client(settings(retries=1), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        with pytest.raises(HTTPStatus) as caught:
            client.get(origin + "/status/503?times=1")
        assert caught.value.status == 503
        for _ in range(2):
            assert client.get(origin + "/status/503?times=1").content == b"ok after 1 x 503"


def test_query_order_does_not_matter(recording):
    directory, _, origin = recording
    with Client(settings(), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        response = client.get(origin + "/ok/http/mkb-nederland_rss_nieuws_excerpt.xml",
                              params={"ct": "application/rss+xml"})
        assert response.content == (FIXTURES / "mkb-nederland_rss_nieuws_excerpt.xml").read_bytes()
        with pytest.raises(TooLarge):
            client.get(origin + "/big?cl=1&mb=1")
        with pytest.raises(DataLoss):
            client.get(origin + "/reset?mode=rst&after=50")


def test_a_request_without_a_recording_raises_no_recording(recording):
    directory, _, origin = recording
    with Client(settings(), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        with pytest.raises(NoRecording, match="/not-recorded") as caught:
            client.get(origin + "/not-recorded")
    assert caught.value.url == origin + "/not-recorded"
    assert caught.value.code == "fetch.no_recording"


def test_a_replay_without_robots_txt_says_so(recording):
    directory, _, _ = recording
    with Client(settings(), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        with pytest.raises(NoRecording, match="robots.txt"):
            client.get("https://www.rijksoverheid.nl/nieuws")


def test_transports_recording_in_turn_append_to_one_recording(faultd, tmp_path):
    """One client per source, each with its own RecordingTransport on the run's directory."""
    directory = tmp_path / "run"
    for path in [SITEMAP, SITEMAP, "/canary"]:
        with Client(settings(robots=False), transport=RecordingTransport(default_transport(settings()), directory),
                    sleep=no_sleep) as client:
            client.get(faultd.url(path))
    faultd.stop()
    urls = [json.loads(line)["url"] for line in (directory / "index.jsonl").read_text("utf-8").splitlines()]
    assert urls == [faultd.url(SITEMAP), faultd.url(SITEMAP), faultd.url("/canary")]
    assert len(list((directory / "bodies").iterdir())) == 2  # one file per distinct body
    with Client(settings(robots=False), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        assert client.get(faultd.url(SITEMAP)).content == SITEMAP_BYTES
        assert client.get(faultd.url("/canary")).content == b"canary"


def test_a_damaged_recording_is_a_clear_error(recording, tmp_path):
    directory, _, origin = recording
    with pytest.raises(ConfigError, match="not a recording"):
        ReplayTransport(tmp_path / "empty")
    entry = json.loads((directory / "index.jsonl").read_text("utf-8").splitlines()[1])
    (directory / entry["body"]).write_bytes(b"tampered")
    with Client(settings(), transport=ReplayTransport(directory), sleep=no_sleep) as client:
        with pytest.raises(ConfigError, match="does not match its sha256"):
            client.get(entry["url"])


def test_a_refused_address_is_recorded_and_refused_again_on_replay(faultd, tmp_path):
    refusing = settings(allow_private=False)
    with Client(refusing, transport=RecordingTransport(default_transport(refusing), tmp_path), sleep=no_sleep) as c:
        with pytest.raises(AddressRefused):
            c.get(faultd.url("/canary"))
    assert faultd.log == []
    with Client(refusing, transport=ReplayTransport(tmp_path), sleep=no_sleep) as c:
        with pytest.raises(AddressRefused, match="loopback"):
            c.get(faultd.url("/canary"))


@pytest.mark.parametrize("body", ["../../secret.txt", "/etc/hostname", "bodies/../../secret.txt", "bodies/link"])
def test_a_replay_reads_no_file_outside_the_recording(tmp_path, body):
    """A recording is data from elsewhere: its index must not make a replay read (and serve as a
    response) a file outside it."""
    (tmp_path / "secret.txt").write_text("secret", "utf-8")
    directory = tmp_path / "a" / "run"
    (directory / "bodies").mkdir(parents=True)
    (directory / "bodies" / "link").symlink_to(tmp_path / "secret.txt")
    entry = {"method": "GET", "url": "https://example.nl/", "status": 200, "headers": [], "body": body,
             "sha256": hashlib.sha256(b"secret").hexdigest(), "size": 6, "form": "decoded", "complete": True,
             "error": None, "recorded_at": "2026-01-01T00:00:00Z"}
    (directory / "index.jsonl").write_text(json.dumps(entry) + "\n", "utf-8")
    with pytest.raises(ConfigError, match="index.jsonl:1: .* outside"):
        ReplayTransport(directory)


def test_the_runs_clock_is_recorded_and_replayed(tmp_path, faultd):
    """A source's date window is part of its URL: a replay must read the same clock."""
    from monitor import config as config_module
    from monitor.http import Client, HttpSettings, default_transport
    from monitor.recording import RecordingTransport, ReplayTransport

    settings = config_module.load().http
    readings = iter([1_790_000_000.0, 1_790_000_060.0])
    with Client(settings, transport=RecordingTransport(default_transport(settings), tmp_path),
                now=lambda: next(readings)) as live:
        recorded = [live.now(), live.now()]
    with Client(settings, transport=ReplayTransport(tmp_path)) as replayed:
        assert [replayed.now(), replayed.now(), replayed.now()] == [*recorded, recorded[-1]]
    assert recorded[1].timestamp() - recorded[0].timestamp() == 60
