"""Typed settings (monitor/settings.py): every key of defaults.toml is a field some code reads,
every field is declared in defaults.toml, a user's unknown key names its file."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from monitor import config, settings
from monitor.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CODE = [p for d in ("monitor", "scrapers", "models") for p in (ROOT / d).rglob("*.py")]


def attribute_reads() -> dict[str, set[str]]:
    """Attribute names read in the product's code, and for ``config.section.name`` reads, per section."""
    reads: dict[str, set[str]] = {"": set()}
    for path in CODE:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute):
                reads[""].add(node.attr)
                section = node.value
                if isinstance(section, ast.Attribute) and section.attr in settings.SECTIONS and \
                        getattr(section.value, "id", getattr(section.value, "attr", None)) == "config":
                    reads.setdefault(section.attr, set()).add(node.attr)
    return reads


def test_every_declared_setting_is_read_by_some_code():
    read = attribute_reads()[""]
    unread = [f"[{section}] {f.name}" for section, cls in settings.SECTIONS.items()
              for f in dataclasses.fields(cls) if f.name not in read]
    assert unread == [], "declared in defaults.toml, read by nothing"


def test_no_code_reads_a_setting_its_section_does_not_declare():
    fields = {section: {f.name for f in dataclasses.fields(cls)} for section, cls in settings.SECTIONS.items()}
    methods = {section: {n for n in dir(cls) if not n.startswith("_")} for section, cls in settings.SECTIONS.items()}
    undeclared = [f"[{section}] {name}" for section, names in attribute_reads().items() if section
                  for name in names - fields[section] - methods[section]]
    assert undeclared == []


def test_every_section_of_defaults_toml_is_typed_and_frozen():
    shipped = config.shipped()
    typed = set(config.defaults()) - {"kinds", "sources"}
    assert typed == set(settings.SECTIONS)
    for section in typed:
        value = getattr(shipped, section)
        assert dataclasses.is_dataclass(value) and type(value).__dataclass_params__.frozen, section
        assert not any(isinstance(v, (list, dict)) for v in dataclasses.asdict(value).values() if v is not None) \
            or section == "http", section  # lists are tuples: shared settings cannot be changed in place


def test_a_field_without_a_key_in_defaults_toml_fails_at_load(monkeypatch):
    @dataclasses.dataclass(frozen=True)
    class Nlp(settings.NlpSettings):
        workers_per_core: int = 0

    monkeypatch.setitem(settings.SECTIONS, "nlp", Nlp)
    with pytest.raises(ConfigError, match=r"\[nlp\] workers_per_core is read but not declared"):
        config.load()


def test_a_key_in_defaults_toml_without_a_field_fails_at_load(monkeypatch):
    shipped = config.defaults()
    shipped["serve"]["colour"] = "blue"
    monkeypatch.setattr(config, "defaults", lambda: shipped)
    with pytest.raises(ConfigError, match=r"\[serve\] colour: no setting reads it"):
        config.load()


def test_an_unknown_user_key_names_its_file_and_key(tmp_path):
    path = tmp_path / "mijn.toml"
    path.write_text("[alerts]\nmax_per_rn = 5\n", "utf-8")
    with pytest.raises(ConfigError, match=r"mijn\.toml: unknown config key 'alerts\.max_per_rn'"):
        config.load(path)


def test_source_defaults_come_from_defaults_toml_and_a_user_may_change_them(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[source_defaults]\nstale_after_hours = 24\n[sources.x]\nkind = \"jsonl\"\n", "utf-8")
    loaded = config.load(path)
    assert config.shipped().source("koop").stale_after_hours == 168
    assert loaded.source("x").stale_after_hours == 24 and loaded.source("x").options["max_line_bytes"] > 0
    path.write_text("[source_defaults]\nstale_after_hours = -1\n", "utf-8")
    with pytest.raises(ConfigError, match=r"\[source_defaults\] stale_after_hours"):
        config.load(path)


def test_the_old_section_name_topics_still_configures_relevance(tmp_path):
    path = tmp_path / "oud.toml"
    path.write_text("[topics]\nthreshold = 5.0\n", "utf-8")
    assert config.load(path).relevance.threshold == 5.0
    path.write_text("[topics]\nthreshold = 5.0\n[relevance]\nthreshold = 4.0\n", "utf-8")
    with pytest.raises(ConfigError, match=r"oud\.toml: \[topics\] is the old name of \[relevance\]"):
        config.load(path)


def test_the_old_kind_name_koop_sru_still_works(tmp_path):
    """One name for the KOOP source (kind, module, class, source): a config of before still loads."""
    path = tmp_path / "oud.toml"
    path.write_text('[kinds.koop_sru]\npage_size = 20\n[sources.kst]\nkind = "koop_sru"\n', "utf-8")
    loaded = config.load(path)
    assert loaded.source("kst").kind == "koop" and loaded.source("kst").options["page_size"] == 20
    assert loaded.source("koop").options["page_size"] == 20  # the shipped source, same kind
    from scrapers import source_class
    from scrapers.koop import KoopSource

    assert source_class("koop_sru") is source_class("koop") is KoopSource and KoopSource.kind == "koop"
