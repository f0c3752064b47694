"""Secrets in URLs never reach a log line, a stored error text or a served column (issue 19 item 8):
``monitor.errors.redact`` is applied wherever an error is built, and by the store to what it keeps."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3

import pytest
from click.testing import CliRunner

from alerting import FakeClock, government, import_jsonl, make_config, save, write_jsonl
from monitor.alerts import SavedSearch
from monitor.cli import cli
from monitor.errors import DeliveryTemporary, FetchError, ParseError, redact


@pytest.mark.parametrize("text, expected", [
    ("https://user:pa55@hooks.example.org/x", "https://***@hooks.example.org/x"),
    ("https://tok3n@api.example.org/", "https://***@api.example.org/"),
    ("https://x.nl/feed?token=abc&page=2", "https://x.nl/feed?token=***&page=2"),
    ("https://x.nl/f?api_key=1&apikey=2&key=3&secret=4&password=5&signature=6&access_token=7",
     "https://x.nl/f?api_key=***&apikey=***&key=***&secret=***&password=***&signature=***&access_token=***"),
    ("https://s3.example/o?X-Amz-Signature=ab&X-Amz-Credential=cd#top", "https://s3.example/o?X-Amz-Signature=***&X-Amz-Credential=***#top"),
    # not secrets: a search word, the Tweede Kamer's paging token, a postcode
    ("https://x.nl/?keyword=mkb&skiptoken=20127222&postcode=1234", "https://x.nl/?keyword=mkb&skiptoken=20127222&postcode=1234"),
    ("404 from https://a:b@x.nl/p?sig=1 (after 3 attempts)", "404 from https://***@x.nl/p?sig=*** (after 3 attempts)"),
    ("no URL at all: token=abc", "no URL at all: token=abc"),
])
def test_redact(text, expected):
    assert redact(text) == expected


def test_credentials_in_urls_are_redacted_wherever_errors_are_built():
    url = "https://user:pa55@x.nl/feed?token=s3cret"
    for error in (FetchError(f"cannot fetch {url}", url=url), ParseError(f"{url} is not a feed"),
                  DeliveryTemporary(f"500 from {url}", target=url)):
        shown = f"{error} {getattr(error, 'url', '')} {error.details}"
        assert "pa55" not in shown and "s3cret" not in shown and "***" in shown


def test_a_token_in_a_feed_url_reaches_no_stored_column(faultd, tmp_path):
    faultd.route("/feed.xml", status=401, body=b"no")
    url = f"http://reader:pa55@127.0.0.1:{faultd.port}/feed.xml?token=s3cret&page=1"
    config = tmp_path / "monitor.toml"
    config.write_text(f"""[http]
robots = false
host_interval = 0.0
retries = 1
allow_private = true
[sources.private-feed]
kind = "feed"
url = "{url}"
""", "utf-8")
    db = tmp_path / "monitor.db"
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "run", "--source", "private-feed",
                                      "--no-extract", "--json"])
    assert faultd.hits("/feed.xml") == 1  # the credentials were sent, only never shown
    [source] = json.loads(result.stdout)["sources"]
    assert source["error_code"] == "fetch.status" and "token=***" in source["error"]
    with sqlite3.connect(db) as conn:
        stored = json.dumps([conn.execute(f"SELECT * FROM {table}").fetchall()
                             for table in ("runs", "sources", "item_failures", "raw_responses", "robots")], default=str)
    conn.close()
    assert "s3cret" not in stored and "pa55" not in stored and "s3cret" not in result.output + result.stderr


def test_a_webhook_password_is_not_logged(tmp_path, caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: the delivery fails and is logged
    config = make_config(tmp_path)
    save(config, SavedSearch(name="s", query='"Comité voor Ondernemerschap"'),
         ("webhook", f"http://hook:pa55@127.0.0.1:{port}/in?token=s3cret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
    with caplog.at_level(logging.WARNING, logger="monitor.notify"):
        import_jsonl(config, write_jsonl(tmp_path / "gov.jsonl", government()), clock=FakeClock())
    assert "delivery" in caplog.text and "***" in caplog.text
    assert "pa55" not in caplog.text and "s3cret" not in caplog.text
