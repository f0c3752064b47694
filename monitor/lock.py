"""One writer at a time (RELIABILITY I7, P2): an exclusive flock on a file beside the corpus.

The kernel drops the lock when the process dies, even by SIGKILL, so a crashed run never
leaves a stale lock behind. The lock file is named after the corpus (``monitor.db`` ->
``monitor.lock``), so two corpora in one folder never wait for each other.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from monitor.errors import AlreadyRunning


@contextmanager
def exclusive(path: str | Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the lock, or raise AlreadyRunning naming its holder (``wait``: block until it is free)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "another process"
            raise AlreadyRunning(f"already running (pid {holder} holds {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
