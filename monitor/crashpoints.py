"""Named crash points, for the fault-injection suite (RELIABILITY P1).

``MONITOR_CRASHPOINT=name:n`` makes the n-th hit of ``crashpoint(name)`` kill the process with
SIGKILL, as a power cut or the OOM killer would: no finally blocks, no atexit, no flush. Unset,
a crash point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "after_fetch",  # responses in memory, nothing stored
    "after_parse",  # a Document in memory, nothing stored
    "mid_upsert",  # inside the batch transaction, some documents written
    "mid_cursor_advance",  # inside the batch transaction, just before the cursor moves
    "after_commit_before_send",  # hits committed to the outbox, nothing sent
    "after_remote_accept_before_mark",  # the channel accepted, the outbox does not know yet
)

_hits: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get("MONITOR_CRASHPOINT", "")
    name, _, n = spec.partition(":")
    return (name, int(n or 1)) if name else None


def crashpoint(name: str) -> None:
    assert name in POINTS, name
    target = _target()
    if target is None or target[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
