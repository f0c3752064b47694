"""Configuration: the shipped defaults (``defaults.toml``) with the user's TOML file on top.

Every default lives in ``monitor/defaults.toml``; this module only merges and checks. A key the
defaults do not know is an error that names the key, and so is a value of the wrong type, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

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
}
SOURCE_DEFAULTS = {"enabled": True, "allowed_hosts": [], "relevance": False, "stale_after_hours": 168,
                   "allow_private_addresses": []}


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
        return Path(self.data["monitor"]["private_db"] or self.db_path.with_name("private.db"))

    @property
    def lock_path(self) -> Path:
        return Path(self.data["monitor"]["lock"] or self.db_path.with_name("monitor.lock"))

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
                              allow_private_addresses=list(common["allow_private_addresses"]))
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
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{user_path}: not valid TOML: {exc}") from None
        _merge(data, user, where="")
    if overrides:
        _merge(data, overrides, where="")
    if db is not None:
        data["monitor"]["db"] = str(db)
    _check_sources(data)
    return Config(data=data, path=user_path)


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
