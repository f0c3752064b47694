"""Source options are checked against each source's Options dataclass, with the key named
(issue 19, "Smaller"): a string where a number belongs fails at start-up, not deep in a run."""

from __future__ import annotations

import pytest

from monitor.config import load
from monitor.errors import ConfigError
from monitor.pipeline import build_source


def test_every_shipped_source_builds() -> None:
    config = load()
    assert [build_source(sc).name for sc in config.sources()] == [sc.name for sc in config.sources()]


@pytest.mark.parametrize(("source", "key", "value", "message"), [
    ("kvk", "max_items", "200", "'max_items' must be an integer, not '200' (a string)"),
    ("kvk", "max_items", True, "'max_items' must be an integer, not True (true or false)"),
    ("kvk", "url_contains", 3, "'url_contains' must be a string, not 3 (an integer)"),
    ("mkb-nederland", "fetch_articles", "yes", "'fetch_articles' must be true or false, not 'yes' (a string)"),
    ("tweedekamer", "soorten", "Brief regering", "'soorten' must be a list of strings, not 'Brief regering'"),
    ("tweedekamer", "dossiers", [32637], "'dossiers' must be a list of strings, not [32637]"),
])
def test_an_option_of_the_wrong_type_is_a_config_error_naming_the_key(source: str, key: str, value: object,
                                                                        message: str) -> None:
    config = load(overrides={"sources": {source: {key: value}}})
    with pytest.raises(ConfigError, match=f"^\\[sources.{source}\\]: " + message.replace("[", "\\[").replace("(", "\\(")
                       .replace(")", "\\)").replace("]", "\\]")):
        build_source(config.source(source))
