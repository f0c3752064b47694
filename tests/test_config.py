"""Configuration: shipped defaults, a user's file on top, every mistake named."""

from __future__ import annotations

import pytest

from monitor import config
from monitor.errors import ConfigError
from scrapers import KINDS


def write(tmp_path, text):
    path = tmp_path / "monitor.toml"
    path.write_text(text, "utf-8")
    return path


def test_defaults_load_and_every_default_source_is_a_known_kind():
    c = config.load()
    assert c.db_path.as_posix() == "data/monitor.db"
    assert c.private_db_path.as_posix() == "data/monitor.private.db"
    assert c.lock_path.as_posix() == "data/monitor.lock"
    for sc in c.sources():
        assert sc.kind in KINDS, sc.name


def test_a_user_file_overrides_and_adds_a_source(tmp_path):
    path = write(tmp_path, """
[http]
host_interval = 2
[sources.mijn-feed]
kind = "jsonl"
path = "x.jsonl"
enabled = false
""")
    c = config.load(path)
    assert c.http.host_interval == 2
    sc = c.source("mijn-feed")
    assert (sc.kind, sc.enabled, sc.options) == ("jsonl", False, {"path": "x.jsonl", "max_line_bytes": 10_000_000})
    assert "mijn-feed" not in [s.name for s in c.sources(enabled_only=True)]


@pytest.mark.parametrize("text, message", [
    ('[http]\nuser_agnet = "x"\n', "unknown config key 'http.user_agnet'"),
    ("[htp]\nx = 1\n", "unknown config key 'htp'"),
    ('[http]\nretries = "three"\n', "'http.retries' must be int"),
    ("[http]\nrobots = 1\n", "'http.robots' must be bool"),
    ('[sources.x]\npath = "a"\n', "[sources.x] needs a 'kind'"),
    ('[sources.x]\nkind = "nope"\n', "unknown kind 'nope'"),
    ('[sources.x]\nkind = "jsonl"\npaht = "a"\n', "unknown key 'paht'"),
    ('[sources.x]\nkind = "jsonl"\nenabled = "yes"\n', "[sources.x].enabled has the wrong type"),
    ("[http\n", "not valid TOML"),
])
def test_mistakes_are_named(tmp_path, text, message):
    with pytest.raises(ConfigError) as info:
        config.load(write(tmp_path, text))
    assert message in str(info.value)


def test_missing_file_and_unknown_source(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        config.load(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="no source named 'nope'"):
        config.load().source("nope")


def test_db_option_moves_the_private_file_and_the_lock_along(tmp_path):
    c = config.load(db=tmp_path / "x" / "corpus.db")
    # named after the corpus, so two corpora in one folder share neither (issue 13)
    assert c.private_db_path == tmp_path / "x" / "corpus.private.db"
    assert c.lock_path == tmp_path / "x" / "corpus.lock"


@pytest.mark.parametrize("text, named", [
    ("[alerts]\ndaily_digest_hour = 24\n", "[alerts] daily_digest_hour = 24 is out of range: it must be a finite number from 0 to 23"),
    ("[alerts]\nsmtp_timeout = nan\n", "[alerts] smtp_timeout = nan is out of range: it must be a finite number from 0.001 to 3600"),
    ("[alerts]\nwebhook_timeout = -1.0\n", "[alerts] webhook_timeout = -1.0 is out of range"),
    ("[alerts]\nwebhook_retry = [5, -300]\n", "[alerts] webhook_retry = [5, -300] (-300) is out of range: it must be a finite number of at least 0"),
    ("[alerts]\nnew_within_days = -1\n", "[alerts] new_within_days = -1 is out of range"),
    ("[serve]\nport = 70000\n", "[serve] port = 70000 is out of range: it must be a finite number from 1 to 65535"),
    ("[serve]\nmax_value_bytes = 0\n", "[serve] max_value_bytes = 0 is out of range"),
    ("[search]\nsnippet_tokens = 100\n", "[search] snippet_tokens = 100 is out of range: it must be a finite number from 1 to 64"),
    ("[nlp]\nbatch_size = 0\n", "[nlp] batch_size = 0 is out of range"),
    ("[monitor]\nquarantine_after = 0\n", "[monitor] quarantine_after = 0 is out of range: it must be a finite number of at least 1"),
    ("[monitor]\nmax_batch_items = 0\n", "[monitor] max_batch_items = 0 is out of range"),
    ("[relevance]\nthreshold = inf\n", "[relevance] threshold = inf is out of range"),
    ("[kinds.feed]\nmax_seen = 0\n", "[kinds.feed] max_seen = 0 is out of range"),
    ("[kinds.jsonl]\nmax_line_bytes = -1\n", "[kinds.jsonl] max_line_bytes = -1 is out of range"),
    ("[sources.f]\nkind = 'feed'\nurl = 'https://x.example/'\nmin_article_chars = -5\n",
     "[sources.f] min_article_chars = -5 is out of range: it must be a finite number of at least 0"),
    ("[sources.f]\nkind = 'feed'\nurl = 'https://x.example/'\nstale_after_hours = -1\n",
     "[sources.f] stale_after_hours = -1 is out of range"),
    ("[sources.f]\nkind = 'feed'\nurl = 'https://x.example/'\nnew_within_days = -1\n",
     "[sources.f] new_within_days = -1 is out of range"),
])
def test_a_value_out_of_its_range_is_refused_with_its_key(tmp_path, text, named):
    """Issue 19: negative timeouts raised ValueError deep inside, nan or inf disabled a limit."""
    with pytest.raises(ConfigError) as caught:
        config.load(write(tmp_path, text))
    assert named in str(caught.value)


def test_every_number_of_the_defaults_has_a_range():
    """A number added to defaults.toml without a range would let nan, inf or a negative through."""
    from monitor.http import RANGES as HTTP_RANGES

    def numbers(table, where):
        for key, value in table.items():
            if isinstance(value, dict):
                yield from numbers(value, f"{where}.{key}" if where else key)
            elif isinstance(value, int | float) and not isinstance(value, bool) or \
                    isinstance(value, list) and value and isinstance(value[0], int | float):
                yield f"{where}.{key}"

    defaults = config.defaults()
    checked = set(config.RANGES) | {f"http.{k}" for k in HTTP_RANGES}
    unchecked = sorted(k for k in numbers({k: v for k, v in defaults.items() if k != "sources"}, "")
                       if k not in checked)
    assert unchecked == []


def test_a_config_file_that_is_not_utf8_names_its_line(tmp_path):
    path = tmp_path / "monitor.toml"
    path.write_bytes(b"[http]\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"monitor.toml, line 2: not UTF-8"):
        config.load(path)
