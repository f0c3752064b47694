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
    assert c.private_db_path.as_posix() == "data/private.db"
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
    assert c["http"]["host_interval"] == 2
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
    assert c.private_db_path == tmp_path / "x" / "private.db"
    assert c.lock_path == tmp_path / "x" / "monitor.lock"
