"""mkb-monitor: a news monitor for the digitalisation of the Dutch mkb.

The Python API is ``monitor.Monitor`` (monitor/api.py); it is loaded on first use (PEP 562),
so ``import monitor.errors``, which every scraper needs, loads nothing else.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name in ("Monitor", "Channels", "Saved"):
        from monitor import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Channels", "Monitor", "Saved"]
