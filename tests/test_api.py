"""The Python API (monitor/api.py): a whole session without the command line, and the README's
"From Python" example run as written."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from alerting import alert_settings, government, write_jsonl
from monitor import Channels, Monitor
from monitor.alerts import SavedSearch
from monitor.errors import DeliveryError, QueryError
from sinks import WebhookSink

ROOT = Path(__file__).parent.parent


def test_a_whole_session_through_the_python_api(tmp_path):
    """Open, save a search with a webhook, import, deliver to a loopback receiver: no CLI."""
    with WebhookSink("whsec_" + "A" * 32) as hook, \
            Monitor.open(tmp_path / "monitor.db", overrides={"alerts": alert_settings(tmp_path)}) as m:
        saved = m.add_search(SavedSearch(name="comite", query='"Comité voor Ondernemerschap"'),
                             Channels(webhooks=(hook.url,)))
        secret = saved.secrets[hook.url]
        assert secret.startswith("whsec_") and [c["kind"] for c in m.saved_searches()[0]["channels"]] == ["webhook"]
        hook.webhook = type(hook.webhook)(secret)  # the receiver verifies with the secret shown once
        report = m.import_jsonl(write_jsonl(tmp_path / "gov.jsonl", government()), extract=False)
        assert report.total("new") == 20 and report.alerts["hits"] >= 1
        m.deliver()
        assert hook.processed and all(a["valid"] for a in hook.attempts)
        payload = next(iter(hook.processed.values()))
        assert "comite" in str(payload)
        _, hits = m.test_search("comite")
        assert {h.id for h in hits} and m.saved_search("comite")["hits"] == len(hits)
        assert m.deliver()["outbox"]["pending"] == 0
        m.remove_search("comite")
        assert m.saved_searches() == []


def test_addresses_are_refused_before_anything_is_saved(tmp_path):
    with Monitor.open(tmp_path / "monitor.db") as m:
        with pytest.raises(QueryError, match="not an e-mail address"):
            m.add_search(SavedSearch(name="s", query="mkb"), Channels(emails=("geen-adres",)))
        with pytest.raises(DeliveryError):
            m.add_search(SavedSearch(name="s", query="mkb"), Channels(webhooks=("http://127.0.0.1/hook",)))
        assert m.saved_searches() == []
        with pytest.raises(QueryError, match="no saved search named 'weg'"):
            m.remove_search("weg")


def test_the_readme_from_python_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("### From Python"):]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    monkeypatch.chdir(tmp_path)
    write_jsonl(tmp_path / "documents.jsonl", government())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert len(lines) == 5 and "'sent': 1" in lines[3], lines
    assert "('import', 'imported')" in lines[4] and "('koop', 'never run')" in lines[4]
    feeds = list((tmp_path / "data" / "feeds").glob("*"))
    assert feeds and "Comité voor Ondernemerschap" in feeds[0].read_text("utf-8")
