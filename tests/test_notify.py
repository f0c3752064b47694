"""Delivery end to end on 127.0.0.1: an aiosmtpd server and a webhook receiver that fail on a
script, the outbox with an injected clock, crash points in a subprocess, and the Atom feed
parsed by feedparser and lxml (RELIABILITY I3-I5, D1-D8, P1)."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from alerting import FakeClock, government, import_jsonl, make_config, save, write_jsonl, write_toml
from faultd import Dripper, Faultd
from monitor import config as config_module, notify
from monitor.alerts import SavedSearch
from monitor.errors import ConfigError, DeliveryPermanent
from monitor.store.private import PrivateStore
from sinks import SmtpSink, WebhookSink

QUERY = "ondernemers"
SECRET = notify.new_webhook_secret()
REPO = Path(__file__).parent.parent


def deliver(config, clock):
    with PrivateStore.open(config) as private:
        return notify.deliver(private, config, clock=clock)


def statuses(config) -> dict[str, int]:
    with PrivateStore.open(config) as private:
        return dict(private.db.execute("SELECT status, count(*) FROM deliveries GROUP BY status").fetchall())


def alert_ids(config) -> set[str]:
    with PrivateStore.open(config) as private:
        return {f"alert-{r[0]}" for r in private.db.execute("SELECT id FROM alerts")}


@pytest.fixture
def smtp():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def hook(clock):
    with WebhookSink(SECRET, now=clock) as sink:
        yield sink


def test_each_hit_is_delivered_once_per_channel_and_a_second_run_sends_nothing(tmp_path, smtp, hook, clock, capsys):
    config = make_config(tmp_path, smtp_port=smtp.port)
    save(config, SavedSearch(name="ondernemers", query=QUERY), ("email", "a@example.org", None),
         ("webhook", hook.url, SECRET), ("atom", "", None), ("console", "", None))
    path = write_jsonl(tmp_path / "gov.jsonl", government())
    counts = import_jsonl(config, path, clock=clock)
    keys = alert_ids(config)
    assert counts["hits"] == len(keys) > 1 and counts["sent"] == 4 * len(keys) and counts["failed"] == 0
    assert hook.deliveries_per_id() == {k: 1 for k in keys}
    assert smtp.by_message_id() == {f"<{k}@mkb-monitor>": 1 for k in keys}
    printed = capsys.readouterr().err
    assert printed.count("ondernemers: ") == len(keys)
    mail = smtp.messages[0]
    assert mail.get_content_type() == "multipart/alternative"
    html = mail.get_body(("html",)).get_content()
    assert "<mark>" in html and "Message-ID" not in html  # the match marked in the snippet
    assert mail.get_body(("plain",)).get_content().count("»") >= 1
    again = import_jsonl(config, path, clock=clock)
    assert again["hits"] == 0 and again["sent"] == 0
    assert len(hook.attempts) == len(keys) and len(smtp.messages) == len(keys)


def test_a_receiver_that_fails_twice_gets_each_hit_once_it_recovers(tmp_path, hook, clock):
    config = make_config(tmp_path)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("webhook", hook.url, SECRET))
    hook.script = [500, (503, {"Retry-After": "600"})]
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    assert statuses(config) == {"retrying": 1}
    clock.advance(seconds=4)
    assert deliver(config, clock) == {"sent": 0, "retrying": 0, "failed": 0, "deferred": 0}  # not due before 5 s
    clock.advance(seconds=1)
    assert deliver(config, clock)["retrying"] == 1  # the 503 asks for 600 s, more than the 5 min step
    clock.advance(seconds=599)
    assert deliver(config, clock)["sent"] == 0
    clock.advance(seconds=1)
    assert deliver(config, clock)["sent"] == 1
    ids = {a["id"] for a in hook.attempts}
    assert len(hook.attempts) == 3 and ids == alert_ids(config)
    assert len({a["timestamp"] for a in hook.attempts}) == 3 and all(a["valid"] for a in hook.attempts)
    assert hook.deliveries_per_id() == {ids.pop(): 1}


def test_the_smtp_server_down_for_a_while_loses_nothing(tmp_path, clock):
    smtp = SmtpSink()  # not started: connection refused
    config = make_config(tmp_path, smtp_port=smtp.port)
    save(config, SavedSearch(name="s", query=QUERY), ("email", "a@example.org", None))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    waiting = statuses(config)["retrying"]
    with PrivateStore.open(config) as private:
        errors = {r[0] for r in private.db.execute("SELECT last_error FROM deliveries")}
    assert waiting > 1 and all("delivery.temporary" in e for e in errors)
    clock.advance(seconds=60)
    assert deliver(config, clock)["retrying"] == waiting  # still down after 1 minute
    with smtp:
        clock.advance(seconds=299)
        assert deliver(config, clock)["sent"] == 0  # the next step is 5 minutes
        clock.advance(seconds=1)
        assert deliver(config, clock)["sent"] == waiting
        assert smtp.by_message_id() == {f"<{k}@mkb-monitor>": 1 for k in alert_ids(config)}


def test_greylisting_is_retried_and_an_unknown_recipient_fails_alone(tmp_path, smtp, hook, clock):
    config = make_config(tmp_path, smtp_port=smtp.port)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("email", "a@example.org", None),
         ("email", "nobody@example.org", None), ("webhook", hook.url, SECRET))
    smtp.refuse = {"nobody@example.org"}
    smtp.script = ["451"]
    counts = import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    assert counts["sent"] == 1 and counts["retrying"] == 1 and counts["failed"] == 1  # webhook; 451; 550
    clock.advance(seconds=60)
    assert deliver(config, clock)["sent"] == 1
    with PrivateStore.open(config) as private:
        failed = private.deliveries(status="failed")
    assert [d["target"] for d in failed] == ["nobody@example.org"] and "550" in failed[0]["last_error"]
    assert len(smtp.messages) == 1 and len(hook.deliveries_per_id()) == 1


def test_a_drop_after_data_is_retried_with_the_same_message_id_and_counted(tmp_path, smtp, clock):
    config = make_config(tmp_path, smtp_port=smtp.port)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("email", "a@example.org", None))
    smtp.script = ["drop"]
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    clock.advance(seconds=60)
    assert deliver(config, clock)["sent"] == 1
    assert list(smtp.by_message_id().values()) == [2]  # the one duplicate: same Message-ID
    with PrivateStore.open(config) as private:
        assert private.counters()["smtp/ambiguous_after_data"] == 1


def test_a_server_stalling_past_the_timeout_after_data_is_retried_and_counted(tmp_path, smtp, clock):
    config = make_config(tmp_path, smtp_port=smtp.port, smtp_timeout=0.5)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("email", "a@example.org", None))
    smtp.script, smtp.stall_seconds = ["stall"], 1.5
    counts = import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    assert counts["retrying"] == 1
    clock.advance(seconds=60)
    assert deliver(config, clock)["sent"] == 1
    assert list(smtp.by_message_id().values()) == [2]
    with PrivateStore.open(config) as private:
        assert private.counters()["smtp/ambiguous_after_data"] == 1


def test_webhook_gone_disables_the_endpoint_and_a_redirect_is_not_followed(tmp_path, clock):
    with WebhookSink(SECRET, now=clock) as gone, WebhookSink(SECRET, now=clock) as moved, \
            WebhookSink(SECRET, now=clock) as target:
        gone.script = [410]
        moved.script = [(302, {"Location": target.url})]
        config = make_config(tmp_path)
        save(config, SavedSearch(name="s", query=QUERY), ("webhook", gone.url, SECRET),
             ("webhook", moved.url + "?m", SECRET))
        import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
        with PrivateStore.open(config) as private:
            channels = {c["target"]: c for c in private.channels(1)}
            states = private.deliveries(limit=1000)
        assert channels[gone.url]["enabled"] == 0 and "410" in channels[gone.url]["disabled_reason"]
        assert target.requests == 0 and channels[moved.url + "?m"]["enabled"] == 1
        by_target = {t: sorted(d["status"] for d in states if d["target"] == t) for t in (gone.url, moved.url + "?m")}
        n = len(alert_ids(config))
        assert by_target[gone.url] == ["failed"] + ["pending"] * (n - 1)  # the rest waits for a replay
        assert by_target[moved.url + "?m"] == ["failed"] + ["sent"] * (n - 1)
        assert gone.requests == 1
        assert all("not followed" in d["last_error"] for d in states
                   if d["target"] == moved.url + "?m" and d["status"] == "failed")


def test_webhooks_to_private_addresses_are_refused_at_save_and_send_time(tmp_path, hook, clock):
    for url in (hook.url, "http://10.1.2.3/x", "http://169.254.169.254/latest", "http://[::1]:9/x",
                "http://localhost:9/x", "file:///etc/passwd"):
        with pytest.raises(DeliveryPermanent):
            notify.check_webhook_url(url, allow_private=False)
    config = make_config(tmp_path, allow_private_webhooks=False)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("webhook", hook.url, SECRET))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    assert hook.requests == 0 and statuses(config) == {"failed": 1}


def test_a_webhook_name_is_not_resolved_when_saved_but_checked_when_sent(tmp_path, hook, clock, monkeypatch):
    """Saving works offline; at send time the name is resolved once and the address connected
    to is checked, so a name rebound to an internal address after it was saved is refused."""
    def no_dns(*args, **kwargs):
        raise AssertionError("no lookup when a webhook is saved")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    notify.check_webhook_url("https://hooks.example.test/mkb", allow_private=False)
    for url in ("http://127.0.0.1:9/x", "http://[::ffff:169.254.169.254]/x", "http://localhost./x", "ftp://h/x"):
        with pytest.raises(DeliveryPermanent):
            notify.check_webhook_url(url, allow_private=False)
    monkeypatch.undo()

    real = socket.getaddrinfo
    port = int(hook.url.split(":")[2].split("/")[0])
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == "hooks.example.test"
                                                                             else host, *a, **k))
    config = make_config(tmp_path, allow_private_webhooks=False)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'),
         ("webhook", f"http://hooks.example.test:{port}/hook", SECRET))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    with PrivateStore.open(config) as private:
        failed = private.deliveries(status="failed")
    assert hook.requests == 0 and len(failed) == 1
    assert "resolves to 127.0.0.1, which is a non-public address (loopback)" in failed[0]["last_error"]


@pytest.mark.parametrize("smtp_host", ["10.0.0.25", "169.254.169.254"])
def test_an_smtp_server_on_a_private_address_is_refused_without_a_connection(tmp_path, clock, smtp_host):
    config = make_config(tmp_path, smtp_host=smtp_host, smtp_port=25)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("email", "a@example.org", None))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    with PrivateStore.open(config) as private:
        [failed] = private.deliveries(status="failed")
    assert "allow_private_smtp" in failed["last_error"] and "delivery.permanent" in failed["last_error"]


@pytest.mark.slow
def test_an_smtp_greeting_dripped_forever_ends_at_the_delivery_deadline(tmp_path, clock):
    """220- continuation lines, one byte every 0.1 s: each read is quick, the greeting never ends."""
    with Dripper(b"220-mkb-monitor drip\r\n", interval=0.05) as smtp:
        config = make_config(tmp_path, smtp_port=smtp.port, delivery_deadline=1.0, delivery_breaker_failures=1)
        save(config, SavedSearch(name="s", query=QUERY), ("email", "a@example.org", None),
             ("email", "b@example.org", None))
        started = time.monotonic()
        counts = import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
        took = time.monotonic() - started
    assert took < 3.0 and smtp.connections == 1  # the breaker kept the other deliveries off it
    assert counts["sent"] == 0 and counts["retrying"] == 2 * len(alert_ids(config))
    with PrivateStore.open(config) as private:
        errors = [d["last_error"] for d in private.deliveries(limit=1000)]
    assert sum("delivery deadline of 1 s" in e for e in errors) == 1
    assert all(e.startswith("delivery.temporary") for e in errors)


@pytest.mark.slow
def test_a_receiver_dripping_its_headers_cannot_hold_the_pass(tmp_path, clock, hook):
    with Faultd() as slow:
        config = make_config(tmp_path, delivery_deadline=1.0, delivery_breaker_failures=2)
        save(config, SavedSearch(name="s", query=QUERY), ("webhook", slow.url("/drip-headers?interval=0.1"), SECRET),
             ("webhook", hook.url, SECRET))
        started = time.monotonic()
        counts = import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
        took = time.monotonic() - started
        n = len(alert_ids(config))
        assert n > 2 and slow.hits("/drip-headers") == 2  # then its breaker opened for this pass
    assert took < 2 * 1.0 + 1.5
    assert counts["sent"] == n and counts["retrying"] == n and hook.deliveries_per_id() == {k: 1 for k in alert_ids(config)}


@pytest.mark.slow
def test_a_pass_ends_at_its_time_limit_and_the_rest_waits_due(tmp_path, clock):
    with Faultd() as slow:
        config = make_config(tmp_path, delivery_deadline=0.6, delivery_pass_limit=1.0, delivery_breaker_failures=100)
        save(config, SavedSearch(name="s", query=QUERY), ("webhook", slow.url("/drip-headers?interval=0.1"), SECRET))
        started = time.monotonic()
        counts = import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
        assert time.monotonic() - started < 2.5
    n = len(alert_ids(config))
    assert counts["retrying"] == 2 and counts["deferred"] == n - 2
    assert statuses(config) == {"retrying": 2, "pending": n - 2}


@pytest.mark.parametrize("key, value", [("delivery_deadline", float("nan")), ("smtp_timeout", -1.0),
                                        ("webhook_timeout", float("inf")), ("delivery_breaker_failures", 0)])
def test_delivery_numbers_out_of_range_name_their_key(tmp_path, clock, key, value):
    with pytest.raises(ConfigError, match=rf"\[alerts\] {key}"):  # refused when the config is read
        make_config(tmp_path, **{key: value})
    with pytest.raises(ConfigError, match=rf"\[alerts\] {key}"):  # whatever the file
        config_module.load(overrides={"alerts": {key: value}})
    with pytest.raises(dataclasses.FrozenInstanceError):  # and settings once built stay as checked
        setattr(make_config(tmp_path).alerts, key, value)


@pytest.mark.slow
def test_email_gives_up_after_four_days(tmp_path, clock):
    config = make_config(tmp_path, smtp_port=SmtpSink().port)  # nothing listens
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'), ("email", "a@example.org", None))
    import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=clock)
    attempts = 1
    while statuses(config).get("retrying"):
        with PrivateStore.open(config) as private:
            clock.now = private.next_due()
        deliver(config, clock)
        attempts += 1
    with PrivateStore.open(config) as private:
        d = private.deliveries()[0]
    assert d["status"] == "failed" and "retries exhausted" in d["last_error"]
    assert 3 + 4 * 24 - 5 <= attempts <= 3 + 4 * 24 + 1  # 1, 5, 30 min, then hourly for 4 days


def test_the_atom_feed_escapes_stored_markup_and_keeps_entry_ids(tmp_path, clock):
    config = make_config(tmp_path)
    hostile = {"id": "x-1", "title": "Ondernemers <script>alert(1)</script> ]]> & co",
               "text": "Ondernemers lezen <script>alert('x')</script> en ]]> en <![CDATA[ x ]]> en \x0b."}
    save(config, SavedSearch(name="feed <b>", query=QUERY), ("atom", "", None))
    import_jsonl(config, write_jsonl(tmp_path / "a.jsonl", [hostile]), clock=clock)
    path = tmp_path / "feeds" / "search-1.xml"
    first = path.read_bytes()
    clock.advance(minutes=5)
    import_jsonl(config, write_jsonl(tmp_path / "b.jsonl", government()), clock=clock)
    assert [e.id for e in feedparser.parse(first).entries] == ["tag:mkb-monitor,2026:alert-1"]
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    tree = etree.fromstring(path.read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert not tree.xpath("//script") and not tree.xpath("//a:script", namespaces=ns)
    ids = [e.id for e in parsed.entries]
    assert len(ids) == len(set(ids)) == len(alert_ids(config)) and "tag:mkb-monitor,2026:alert-1" in ids
    hostile_entry = next(e for e in parsed.entries if e.id == "tag:mkb-monitor,2026:alert-1")
    assert "<script>alert(1)</script> ]]>" in hostile_entry.title  # text, given back as text
    assert "&lt;script&gt;" in hostile_entry.content[0].value  # escaped inside the HTML content
    assert b"<script>" not in first and b"<script>" not in path.read_bytes()


# --- crashes: SIGKILL in a subprocess at the named crash points -----------------------------


def run_import(config_path: Path, data: Path, crashpoint: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("MONITOR_CRASHPOINT", None)
    if crashpoint:
        env["MONITOR_CRASHPOINT"] = crashpoint
    return subprocess.run([sys.executable, "-m", "monitor", "--config", str(config_path), "--db",
                           str(config_path.parent / "data" / "monitor.db"), "import", str(data), "--no-extract",
                           "--json"], env=env, capture_output=True, text=True, timeout=120)


def crash_setup(tmp_path, hook, smtp):
    config_path = write_toml(tmp_path, smtp_port=smtp.port)
    config = make_config(tmp_path, smtp_port=smtp.port)
    save(config, SavedSearch(name="s", query=QUERY), ("webhook", hook.url, SECRET), ("email", "a@example.org", None))
    return config_path, config, write_jsonl(tmp_path / "gov.jsonl", government())


@pytest.mark.slow
def test_killed_between_commit_and_send_the_restart_delivers_every_hit_once(tmp_path, smtp):
    with WebhookSink(SECRET) as hook:
        config_path, config, data = crash_setup(tmp_path, hook, smtp)
        killed = run_import(config_path, data, "after_commit_before_send:1")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert hook.requests == 0 and statuses(config) == {"pending": 2 * len(alert_ids(config))}
        restarted = run_import(config_path, data)
        assert restarted.returncode == 0, restarted.stderr
        keys = alert_ids(config)
        assert hook.deliveries_per_id() == {k: 1 for k in keys}
        assert smtp.by_message_id() == {f"<{k}@mkb-monitor>": 1 for k in keys}
        with PrivateStore.open(config) as private:
            assert "alerts/ambiguous_redelivery" not in private.counters() and private.check() == []


@pytest.mark.slow
def test_killed_after_the_remote_accept_the_only_duplicate_has_the_same_key_and_is_counted(tmp_path, smtp):
    with WebhookSink(SECRET) as hook:
        config_path, config, data = crash_setup(tmp_path, hook, smtp)
        killed = run_import(config_path, data, "after_remote_accept_before_mark:1")
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert run_import(config_path, data).returncode == 0
        keys = alert_ids(config)
        per_id = hook.deliveries_per_id() + smtp.by_message_id()
        duplicates = {k: n for k, n in per_id.items() if n > 1}
        assert len(duplicates) == 1 and list(duplicates.values()) == [2]
        assert len(per_id) == 2 * len(keys)  # every alert reached both channels
        assert len(hook.processed) == len(keys)  # the receiver deduplicated by webhook-id
        with PrivateStore.open(config) as private:
            assert private.counters()["alerts/ambiguous_redelivery"] == 1
            assert statuses(config) == {"sent": 2 * len(keys)}
