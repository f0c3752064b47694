"""Configuration: the shipped defaults (``defaults.toml``) with the user's TOML file on top.

Every default lives in ``monitor/defaults.toml``; this module only merges and checks. A key the
defaults do not know is an error that names the key, and so is a value of the wrong type, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from monitor import settings
from monitor.errors import ConfigError

# Keys every [sources.NAME] table may have, handled by the pipeline rather than by the source
# (their defaults: [source_defaults] in defaults.toml; new_within_days defaults to [alerts] new_within_days).
SOURCE_KEYS = {
    "kind": str,
    "enabled": bool,
    "allowed_hosts": list,
    "relevance": bool,
    "stale_after_hours": (int, float),
    "allow_private_addresses": list,
    "new_within_days": (int, float),
}

# The range of every number in defaults.toml that has one, inclusive (None: no bound); a list's
# every element. A float must also be finite. [http] is checked by monitor.http.HttpSettings;
# the [alerts] delivery numbers here are also checked where delivery reads them (monitor.notify).
# "kinds.K.key" also holds for that key in every [sources.NAME] of kind K.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "monitor.busy_timeout_ms": (0, 3_600_000),
    "monitor.quarantine_after": (1, None),
    "monitor.max_text_chars": (10_000, None),
    "monitor.max_batch_items": (1, None),
    "relevance.threshold": (0, None),
    "relevance.title_weight": (0, None),
    "relevance.max_hits_per_term": (1, None),
    "relevance.weak_weight": (0, None),
    "search.max_query_chars": (1, None),
    "search.max_query_terms": (1, None),
    "search.max_forms": (1, None),
    "search.max_phrase_variants": (1, None),
    "search.snippet_tokens": (1, 64),  # FTS5's snippet() takes at most 64 tokens
    "search.web_snippet_tokens": (1, 64),
    "search.web_max_matches": (1, None),
    "search.max_matches": (1, None),
    "search.lead_chars": (0, None),
    "nlp.max_chars": (10_000, None),
    "nlp.batch_size": (1, 100_000),
    "nlp.processes": (1, 256),
    "serve.port": (1, 65535),
    "serve.sql_time_limit_ms": (1, None),
    "serve.max_value_bytes": (1, 2**31 - 1),  # SQLite's own ceiling for SQLITE_LIMIT_LENGTH
    "serve.max_result_bytes": (1, None),
    "alerts.max_per_run": (1, None),
    "alerts.new_within_days": (0, None),
    "alerts.smtp_port": (1, 65535),
    "alerts.smtp_timeout": (0.001, 3600),
    "alerts.webhook_timeout": (0.001, 3600),
    "alerts.delivery_deadline": (0.001, 3600),
    "alerts.delivery_pass_limit": (0.001, 86400),
    "alerts.delivery_breaker_failures": (1, 1000),
    "alerts.feed_entries": (1, None),
    "alerts.daily_digest_hour": (0, 23),
    "alerts.smtp_retry": (0, None),
    "alerts.smtp_retry_every": (1, None),
    "alerts.smtp_give_up_after": (0, None),
    "alerts.webhook_retry": (0, None),
    "source_defaults.stale_after_hours": (0, None),
    "sources.stale_after_hours": (0, None),
    "sources.new_within_days": (0, None),
    "kinds.jsonl.max_line_bytes": (1, None),
    "kinds.koop.overlap_days": (0, None),
    "kinds.koop.window_days": (1, None),
    "kinds.koop.page_size": (1, 1000),
    "kinds.koop.max_file_pages": (1, None),
    "kinds.tk_syncfeed.first_run_days": (0, None),
    "kinds.tk_syncfeed.start_skiptoken": (0, None),
    "kinds.tk_syncfeed.max_start_requests": (1, None),
    "kinds.tk_syncfeed.max_pages": (1, None),
    "kinds.tk_syncfeed.max_file_pages": (1, None),
    "kinds.tk_syncfeed.max_file_unpacked_bytes": (1, None),
    "kinds.feed.max_items": (1, None),
    "kinds.feed.batch_size": (1, None),
    "kinds.feed.min_article_chars": (0, None),
    "kinds.feed.max_seen": (1, None),
    "kinds.sitemap.first_run_days": (0, None),
    "kinds.sitemap.max_items": (1, None),
    "kinds.sitemap.max_sitemaps": (1, None),
    "kinds.sitemap.batch_size": (1, None),
    "kinds.sitemap.min_article_chars": (0, None),
    "kinds.rijksoverheid.max_answer_items": (1, None),
    "kinds.rijksoverheid.min_window_minutes": (1, None),
    "kinds.rijksoverheid.first_run_days": (0, None),
    "kinds.rijksoverheid.overlap_hours": (0, None),
    "kinds.rijksoverheid.fallback_max_items": (1, None),
    "kinds.rijksoverheid.min_article_chars": (0, None),
    "kinds.html_listing.max_pages": (1, None),
    "kinds.html_listing.max_seen": (1, None),
    "kinds.html_listing.min_article_chars": (0, None),
}


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str
    enabled: bool
    allowed_hosts: list[str]
    relevance: bool
    stale_after_hours: float
    options: dict[str, Any] = field(default_factory=dict)
    allow_private_addresses: list[str] = field(default_factory=list)
    new_within_days: float | None = None  # None: [alerts] new_within_days


@dataclass(frozen=True)
class Config:
    """The settings of one installation: a typed dataclass per section of defaults.toml
    (``config.alerts.max_per_run``), and the declared sources with their kinds' options."""

    data: dict[str, Any]  # the merged tables; [sources.*] and [kinds.*] are read from here
    path: Path | None  # the user's file, if any
    monitor: settings.MonitorSettings
    http: settings.HttpSettings
    relevance: settings.RelevanceSettings
    search: settings.SearchSettings
    nlp: settings.NlpSettings
    serve: settings.ServeSettings
    alerts: settings.AlertsSettings
    source_defaults: settings.SourceDefaults

    @property
    def db_path(self) -> Path:
        return Path(self.monitor.db)

    @property
    def private_db_path(self) -> Path:
        """The corpus's private file: ``monitor.db`` -> ``monitor.private.db`` beside it."""
        return Path(self.monitor.private_db or self.db_path.with_suffix(".private.db"))

    @property
    def lock_path(self) -> Path:
        """The corpus's run lock: ``monitor.db`` -> ``monitor.lock`` beside it."""
        return Path(self.monitor.lock or self.db_path.with_suffix(".lock"))

    @property
    def kinds(self) -> dict[str, dict[str, Any]]:
        """Each source kind's option defaults ([kinds.KIND])."""
        return self.data["kinds"]

    def sources(self, *, enabled_only: bool = False) -> list[SourceConfig]:
        out = [self.source_config(name, table) for name, table in self.data.get("sources", {}).items()]
        return [sc for sc in out if sc.enabled or not enabled_only]

    def source_config(self, name: str, table: dict[str, Any]) -> SourceConfig:
        """The source ``table`` declares (as a ``[sources.NAME]`` table would), with the defaults
        of its kind and of every source filled in; ``import`` and ``feeds check`` build theirs here."""
        common = {**dataclasses.asdict(self.source_defaults), **{k: v for k, v in table.items() if k in SOURCE_KEYS}}
        kind = common["kind"]
        options = {**self.kinds.get(kind, {}), **{k: v for k, v in table.items() if k not in SOURCE_KEYS}}
        return SourceConfig(name=name, kind=kind, enabled=common["enabled"],
                            allowed_hosts=list(common["allowed_hosts"]), relevance=common["relevance"],
                            stale_after_hours=float(common["stale_after_hours"]), options=options,
                            allow_private_addresses=list(common["allow_private_addresses"]),
                            new_within_days=common.get("new_within_days"))

    def source(self, name: str) -> SourceConfig:
        for sc in self.sources():
            if sc.name == name:
                return sc
        known = ", ".join(sc.name for sc in self.sources()) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")


def defaults() -> dict[str, Any]:
    return tomllib.loads(resources.files("monitor").joinpath("defaults.toml").read_text("utf-8"))


@lru_cache(maxsize=1)
def shipped() -> Config:
    """The configuration with no user file: what a store opened without one uses."""
    return load()


def load(path: str | Path | None = None, *, db: str | Path | None = None,
         overrides: dict[str, Any] | None = None) -> Config:
    """The defaults, merged with the TOML file at ``path`` and then ``overrides`` (tests use these)."""
    data = defaults()
    user_path = Path(path) if path else None
    if user_path is not None:
        try:
            user = tomllib.loads(user_path.read_text("utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {user_path}") from None
        except IsADirectoryError:
            raise ConfigError(f"config file {user_path} is a directory") from None
        except UnicodeDecodeError as exc:
            line = user_path.read_bytes()[:exc.start].count(b"\n") + 1
            raise ConfigError(f"{user_path}, line {line}: not UTF-8 (byte 0x{exc.object[exc.start]:02x})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{user_path}: not valid TOML: {exc}") from None
        _merge(data, _renamed(user, origin=str(user_path)), where="", origin=str(user_path))
    if overrides:
        _merge(data, _renamed(overrides, origin="overrides"), where="", origin="overrides")
    if db is not None:
        data["monitor"]["db"] = str(db)
    _check_sources(data)
    _check_ranges(data)
    typed = {section: settings.build(section, data[section]) for section in settings.SECTIONS}
    return Config(data=data, path=user_path, **typed)


def _check_ranges(data: dict[str, Any]) -> None:
    for key, bounds in RANGES.items():
        section, *rest = key.split(".")
        if section == "kinds":
            kind, name = rest
            _check_range(f"[kinds.{kind}] {name}", data["kinds"].get(kind, {}).get(name), bounds)
            for source, table in data.get("sources", {}).items():
                if table.get("kind") == kind:
                    _check_range(f"[sources.{source}] {name}", table.get(name), bounds)
        elif section == "sources":
            for source, table in data.get("sources", {}).items():
                _check_range(f"[sources.{source}] {rest[0]}", table.get(rest[0]), bounds)
        else:
            _check_range(f"[{section}] {rest[0]}", data[section].get(rest[0]), bounds)
    for section, table in data.items():  # nan and inf anywhere (but [http], checked there)
        if section != "http" and isinstance(table, dict):
            _check_finite(section, table)


def _check_range(key: str, value: Any, bounds: tuple[float | None, float | None]) -> None:
    """Refuse a number outside its range, naming the key, as monitor.http does for [http]. A
    value that is not a number is left to the type checks (here, or the source's options)."""
    low, high = bounds
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        if not math.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
            where = (f"from {low:g} to {high:g}" if low is not None and high is not None
                     else f"of at least {low:g}" if low is not None else f"of at most {high:g}")
            shown = f"{key} = {value!r}" if value is v else f"{key} = {value!r} ({v!r})"
            raise ConfigError(f"{shown} is out of range: it must be a finite number {where}")


def _check_finite(where: str, table: dict[str, Any]) -> None:
    for key, value in table.items():
        if isinstance(value, dict):
            _check_finite(f"{where}.{key}", value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"[{where}] {key} = {value!r} is out of range: it must be a finite number")


# Sections that were called otherwise before: a user's file may still use the old name.
RENAMED_SECTIONS = {"topics": "relevance"}


def _renamed(user: dict[str, Any], *, origin: str) -> dict[str, Any]:
    """The user's tables under today's names: sections, source kinds ([kinds.OLD], kind = "OLD")."""
    from scrapers import KIND_ALIASES

    kinds = user.get("kinds")
    for old, new in KIND_ALIASES.items():
        if isinstance(kinds, dict) and old in kinds:
            if new in kinds:
                raise ConfigError(f"{origin}: [kinds.{old}] is the old name of [kinds.{new}]; keep one of them")
            user = {**user, "kinds": {(new if k == old else k): v for k, v in kinds.items()}}
        for table in (user.get("sources") or {}).values():
            if isinstance(table, dict) and table.get("kind") == old:
                table["kind"] = new
    for old, new in RENAMED_SECTIONS.items():
        if old in user:
            if new in user:
                raise ConfigError(f"{origin}: [{old}] is the old name of [{new}]; keep one of them")
            user = {(new if key == old else key): value for key, value in user.items()}
    return user


def _merge(base: dict[str, Any], user: dict[str, Any], *, where: str, origin: str) -> None:
    for key, value in user.items():
        here = f"{where}.{key}" if where else key
        if where in ("sources", "kinds"):
            # A new source is declared here; its keys are checked against its kind below.
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: [{here}] must be a table")
            base.setdefault(key, {}).update(value)
            continue
        if key not in base:
            raise ConfigError(f"{origin}: unknown config key {here!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: config key {here!r} must be a table")
            _merge(base[key], value, where=here, origin=origin)
            continue
        default = base[key]
        ok_types: tuple[type, ...] = (int, float) if isinstance(default, float) else (type(default),)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, ok_types):
            raise ConfigError(f"{origin}: config key {here!r} must be {type(default).__name__}, "
                              f"not {type(value).__name__} ({value!r})")
        base[key] = value


def _check_sources(data: dict[str, Any]) -> None:
    for name, table in data.get("sources", {}).items():
        if "kind" not in table:
            raise ConfigError(f"[sources.{name}] needs a 'kind'")
        if table["kind"] not in data["kinds"]:
            raise ConfigError(f"[sources.{name}]: unknown kind {table['kind']!r} "
                              f"(known: {', '.join(sorted(data['kinds']))})")
        for key, types in SOURCE_KEYS.items():
            if key in table and (not isinstance(table[key], types) or
                                 (types is not bool and isinstance(table[key], bool))):
                raise ConfigError(f"[sources.{name}].{key} has the wrong type ({table[key]!r})")
        known = set(SOURCE_KEYS) | set(data["kinds"][table["kind"]])
        unknown = sorted(set(table) - known)
        if unknown:
            raise ConfigError(f"[sources.{name}]: unknown key {unknown[0]!r} for kind "
                              f"{table['kind']!r} (known: {', '.join(sorted(known))})")
