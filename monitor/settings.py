"""Typed settings: one frozen dataclass per section of ``monitor/defaults.toml``.

``monitor.config.load`` builds them once, after merging the user's file and checking ranges;
code reads ``config.alerts.max_per_run``, never a string key. A field must be declared in
``defaults.toml`` (its default lives there and nowhere else) and every key there must be a field,
so a setting nothing can read, or a read of a setting nobody declared, fails at load;
``tests/test_settings.py`` also fails when a declared setting is read by no code.
Lists become tuples: settings are values, shared by every part of a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.errors import ConfigError
from monitor.http import HttpSettings
from monitor.search import Settings as SearchSettings


@dataclass(frozen=True)
class MonitorSettings:
    db: str
    private_db: str
    lock: str
    busy_timeout_ms: int
    keep_raw: bool
    quarantine_after: int
    max_text_chars: int
    max_batch_items: int


@dataclass(frozen=True)
class RelevanceSettings:
    """Relevance of a news item (monitor/relevance.py)."""

    threshold: float
    title_weight: float
    max_hits_per_term: int
    weak_weight: float
    terms: tuple[str, ...]
    weak_terms: tuple[str, ...]


@dataclass(frozen=True)
class NlpSettings:
    max_chars: int
    batch_size: int
    processes: int


@dataclass(frozen=True)
class ServeSettings:
    host: str
    port: int
    sql_time_limit_ms: int
    max_value_bytes: int
    max_result_bytes: int


@dataclass(frozen=True)
class AlertsSettings:
    max_per_run: int
    smtp_host: str
    smtp_port: int
    smtp_from: str
    smtp_timeout: float
    webhook_timeout: float
    delivery_deadline: float
    delivery_pass_limit: float
    delivery_breaker_failures: int
    allow_private_webhooks: bool
    allow_private_smtp: bool
    feed_dir: str
    feed_entries: int
    daily_digest_hour: int
    new_within_days: float
    smtp_retry: tuple[float, ...]
    smtp_retry_every: float
    smtp_give_up_after: float
    webhook_retry: tuple[float, ...]


@dataclass(frozen=True)
class SourceDefaults:
    """What a ``[sources.NAME]`` table that does not say gets (its kind's options: ``[kinds.K]``)."""

    enabled: bool
    allowed_hosts: tuple[str, ...]
    relevance: bool
    stale_after_hours: float
    allow_private_addresses: tuple[str, ...]


# Section name -> its class: the typed part of defaults.toml ([kinds.*] and [sources.*] are
# tables of names a user declares; monitor.config checks them against their kind).
SECTIONS: dict[str, type] = {
    "monitor": MonitorSettings, "http": HttpSettings, "relevance": RelevanceSettings, "search": SearchSettings,
    "nlp": NlpSettings, "serve": ServeSettings, "alerts": AlertsSettings, "source_defaults": SourceDefaults,
}


def build(section: str, table: Mapping[str, Any]) -> Any:
    """The typed ``[section]`` from its merged table; a key without a field, or a field without
    a key in defaults.toml, is a ``ConfigError`` (the user's unknown keys are refused earlier,
    naming their file)."""
    cls = SECTIONS[section]
    names = {f.name for f in dataclasses.fields(cls)}
    unread = sorted(set(table) - names)
    if unread:
        raise ConfigError(f"[{section}] {unread[0]}: no setting reads it (monitor/settings.py {cls.__name__})")
    undeclared = sorted(names - set(table))
    if undeclared:
        raise ConfigError(f"[{section}] {undeclared[0]} is read but not declared in monitor/defaults.toml")
    if cls is HttpSettings:
        return HttpSettings.from_config(table)
    return cls(**{k: _frozen(v) for k, v in table.items()})


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value
