"""Configuration: the shipped defaults (``defaults.toml``) with the user's TOML file on top.

Every default lives in ``monitor/defaults.toml``; this module only merges and checks. A key the
defaults do not know is an error that names the key, and so is a value of the wrong type, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError

# Keys every [sources.NAME] table may have, handled by the pipeline rather than by the source.
SOURCE_KEYS = {
    "kind": str,
    "enabled": bool,
    "allowed_hosts": list,  # hosts a redirect may go to; empty = the hosts of the source's URLs
    "relevance": bool,  # apply the [topics] relevance threshold to this source's items
    "stale_after_hours": (int, float),  # no new item for this long makes the source "stale"
    "allow_private_addresses": list,  # non-public networks its connections may reach (monitor.connections)
    "new_within_days": (int, float),  # its own [alerts] new_within_days
}
SOURCE_DEFAULTS = {"enabled": True, "allowed_hosts": [], "relevance": False, "stale_after_hours": 168,
                   "allow_private_addresses": []}

# The range of every number in defaults.toml that has one, inclusive (None: no bound); a list's
# every element. A float must also be finite. [http] is checked by monitor.http.HttpSettings;
# the [alerts] delivery numbers here are also checked where delivery reads them (monitor.notify).
# "kinds.K.key" also holds for that key in every [sources.NAME] of kind K.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "monitor.busy_timeout_ms": (0, 3_600_000),
    "monitor.quarantine_after": (1, None),
    "monitor.max_text_chars": (10_000, None),
    "monitor.max_batch_items": (1, None),
    "topics.threshold": (0, None),
    "topics.title_weight": (0, None),
    "topics.max_hits_per_term": (1, None),
    "topics.weak_weight": (0, None),
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
    "sources.stale_after_hours": (0, None),
    "sources.new_within_days": (0, None),
    "kinds.jsonl.max_line_bytes": (1, None),
    "kinds.koop_sru.overlap_days": (0, None),
    "kinds.koop_sru.window_days": (1, None),
    "kinds.koop_sru.page_size": (1, 1000),
    "kinds.koop_sru.max_file_pages": (1, None),
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


@dataclass
class Config:
    data: dict[str, Any]
    path: Path | None = None  # the user's file, if any

    def __getitem__(self, section: str) -> dict[str, Any]:
        return self.data[section]

    @property
    def db_path(self) -> Path:
        return Path(self.data["monitor"]["db"])

    @property
    def private_db_path(self) -> Path:
        """The corpus's private file: ``monitor.db`` -> ``monitor.private.db`` beside it."""
        return Path(self.data["monitor"]["private_db"] or self.db_path.with_suffix(".private.db"))

    @property
    def lock_path(self) -> Path:
        """The corpus's run lock: ``monitor.db`` -> ``monitor.lock`` beside it."""
        return Path(self.data["monitor"]["lock"] or self.db_path.with_suffix(".lock"))

    def sources(self, *, enabled_only: bool = False) -> list[SourceConfig]:
        out = []
        for name, table in self.data.get("sources", {}).items():
            common = {**SOURCE_DEFAULTS, **{k: v for k, v in table.items() if k in SOURCE_KEYS}}
            kind = common["kind"]
            options = {**self.data["kinds"].get(kind, {}),
                       **{k: v for k, v in table.items() if k not in SOURCE_KEYS}}
            sc = SourceConfig(name=name, kind=kind, enabled=common["enabled"],
                              allowed_hosts=list(common["allowed_hosts"]), relevance=common["relevance"],
                              stale_after_hours=float(common["stale_after_hours"]), options=options,
                              allow_private_addresses=list(common["allow_private_addresses"]),
                              new_within_days=common.get("new_within_days"))
            if sc.enabled or not enabled_only:
                out.append(sc)
        return out

    def source(self, name: str) -> SourceConfig:
        for sc in self.sources():
            if sc.name == name:
                return sc
        known = ", ".join(sc.name for sc in self.sources()) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")


def defaults() -> dict[str, Any]:
    return tomllib.loads(resources.files("monitor").joinpath("defaults.toml").read_text("utf-8"))


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
        _merge(data, user, where="")
    if overrides:
        _merge(data, overrides, where="")
    if db is not None:
        data["monitor"]["db"] = str(db)
    _check_sources(data)
    _check_ranges(data)
    return Config(data=data, path=user_path)


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


def _merge(base: dict[str, Any], user: dict[str, Any], *, where: str) -> None:
    for key, value in user.items():
        here = f"{where}.{key}" if where else key
        if where in ("sources", "kinds"):
            # A new source is declared here; its keys are checked against its kind below.
            if not isinstance(value, dict):
                raise ConfigError(f"[{here}] must be a table")
            base.setdefault(key, {}).update(value)
            continue
        if key not in base:
            raise ConfigError(f"unknown config key {here!r}")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"config key {here!r} must be a table")
            _merge(base[key], value, where=here)
            continue
        default = base[key]
        ok_types: tuple[type, ...] = (int, float) if isinstance(default, float) else (type(default),)
        if isinstance(value, bool) != isinstance(default, bool) or not isinstance(value, ok_types):
            raise ConfigError(f"config key {here!r} must be {type(default).__name__}, "
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
