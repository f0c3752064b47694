"""The health of each source as a person running the monitor from cron needs it told.

A state for every configured source (and every source the corpus knows), from its last runs:

    failing    its last run failed or was deferred or interrupted, or it has run and never succeeded
    stale      it works, but brought nothing new for longer than its ``stale_after_hours``
    fresh      it works and brings new documents
    never run  enabled, not run yet
    off        disabled in the configuration
    imported   not configured: documents loaded with ``mkb-monitor import``

A source is never "fresh" on the strength of not having failed: only a success counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config import Config, SourceConfig

STATES = ("failing", "stale", "fresh", "never run", "off", "imported")


def sources(config: Config, stored: dict[str, dict[str, Any]], *, now: datetime | None = None) -> list[dict[str, Any]]:
    """One row per source: configuration, what the corpus knows (``Store.sources_overview``),
    and ``state`` with its ``reason``."""
    now = now or datetime.now(UTC)
    configured = {sc.name: sc for sc in config.sources()}
    rows = []
    for name in sorted(set(configured) | set(stored)):
        sc, st = configured.get(name), stored.get(name, {})
        state, reason = _state(sc, st, now)
        rows.append({"name": name, "kind": sc.kind if sc else st.get("kind"),
                     "enabled": sc.enabled if sc else False, "configured": sc is not None,
                     "base_url": (sc.options.get("base_url") or sc.options.get("url")) if sc else None,
                     "documents": st.get("documents", 0), "last_run": st.get("last_run"),
                     "last_success": st.get("last_success"), "last_new": st.get("last_new"),
                     "last_error": st.get("last_error"), "last_error_code": st.get("last_error_code"),
                     "last_error_at": st.get("last_error_at"), "cursor": st.get("cursor"),
                     "state": state, "reason": reason, "stale": state == "stale"})
    return rows


def _state(sc: SourceConfig | None, st: dict[str, Any], now: datetime) -> tuple[str, str | None]:
    success, error_at = st.get("last_success"), st.get("last_error_at")
    error = f"{st.get('last_error_code')}: {st.get('last_error')}" if st.get("last_error") else None
    if sc is None:
        return ("imported", None) if not error or (success and success >= (error_at or "")) else ("failing", error)
    if not sc.enabled and not st.get("last_run"):
        return "off", None
    if error and (not success or (error_at or "") > success):
        return "failing", error
    if st.get("last_run") and not success:
        return "failing", "it has run, but never successfully"
    if not st.get("last_run"):
        return "never run", None
    if not sc.enabled:
        return "off", None
    if sc.stale_after_hours:
        if not st.get("last_new"):
            return "stale", "it runs, but has never brought a new document"
        seen = datetime.fromisoformat(st["last_new"].replace("Z", "+00:00"))
        if now - seen > timedelta(hours=sc.stale_after_hours):
            return "stale", f"no new document since {st['last_new'][:16].replace('T', ' ')} UTC"
    return "fresh", None
