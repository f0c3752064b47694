"""What both database files share: opening, WAL, transactions that begin with a write, migrations.

A subclass names its ``MIGRATIONS`` (append only: a released migration never changes; the index
is the schema version it creates) and its ``SYNCHRONOUS`` level; everything else is here once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self

import sqlite_utils

from monitor.errors import NotACorpus, StorageBusy, StorageError, StorageFull


class SQLiteFile:
    MIGRATIONS: ClassVar[list[Callable[..., None]]] = []  # (db), or (db, progress) if marked reports_progress
    SYNCHRONOUS: ClassVar[str] = "NORMAL"  # durable at WAL checkpoints; FULL syncs every commit
    KIND: ClassVar[str] = "database"  # what the file is, in messages: "corpus", "private file"
    MARKER_TABLE: ClassVar[str] = ""  # a table every version of this file has (tells ours from others')

    def __init__(self, path: str | Path, *, busy_timeout_ms: int | None = None, readonly: bool = False,
                 progress: Callable[..., None] | None = None) -> None:
        if busy_timeout_ms is None:  # opened without a config: the shipped [monitor] busy_timeout_ms
            from monitor.config import shipped

            busy_timeout_ms = shipped().monitor.busy_timeout_ms
        self.path = Path(path)
        self.readonly = readonly
        self.progress = progress  # told about a long migration: ("start", label=, total=), ("advance", n=)
        if readonly:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=busy_timeout_ms / 1000)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=busy_timeout_ms / 1000)
        self._db = sqlite_utils.Database(conn)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._check_ours()
            if not readonly:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    with self._db.ensure_autocommit_on():
                        self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(f"PRAGMA synchronous = {self.SYNCHRONOUS}")
        except sqlite3.DatabaseError as exc:  # "file is not a database" is a DatabaseError
            self._db.close()
            if isinstance(exc, sqlite3.OperationalError):
                raise storage_error(exc) from exc
            raise NotACorpus(f"{self.path} is not an SQLite file, so not an mkb-monitor {self.KIND} "
                             f"({exc})") from None
        except NotACorpus:
            self._db.close()
            raise
        if not readonly:
            self.migrate()

    def _check_ours(self) -> None:
        """Refuse a file another program made, or a newer mkb-monitor: migrating it would write
        this version's tables into someone else's database."""
        version = self.schema_version  # reading the header is what fails on a file that is not SQLite
        if version > len(self.MIGRATIONS):
            raise NotACorpus(f"{self.path} has schema version {version}, newer than this mkb-monitor knows "
                             f"({len(self.MIGRATIONS)}): upgrade mkb-monitor")
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite!_%' ESCAPE '!'")}
        if (version == 0 and tables) or (version > 0 and self.MARKER_TABLE not in tables):
            raise NotACorpus(f"{self.path} is an SQLite file of another program, not an mkb-monitor {self.KIND}")

    @classmethod
    def open(cls, config: object, *, readonly: bool = False) -> Self:
        raise NotImplementedError

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """One atomic write: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception.

        Taking the write lock before the first read is what makes a concurrent writer wait
        (busy_timeout) instead of failing at once on a deferred upgrade (RELIABILITY I7)."""
        conn = self._db.conn
        if conn.in_transaction:
            raise StorageError(f"a write transaction is already open on {self.path.name}")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise storage_error(exc) from exc
        try:
            yield self
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise storage_error(exc) from exc
            raise

    @contextmanager
    def savepoint(self, name: str = "item") -> Iterator[Self]:
        """A part of an open transaction that can fail alone: rolled back to its start on any
        exception, which is raised on, while the transaction around it stays open."""
        conn = self._db.conn
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield self
        except BaseException:
            conn.execute(f"ROLLBACK TO {name}")
            conn.execute(f"RELEASE {name}")
            raise
        conn.execute(f"RELEASE {name}")

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self) -> None:
        latest = len(self.MIGRATIONS)
        if self.schema_version == latest:
            return  # the common case takes no write lock, so opening never waits for a running writer
        with self.transaction():
            current = self.schema_version
            if current > latest:
                raise NotACorpus(f"{self.path} has schema version {current}, newer than this "
                                 f"mkb-monitor knows ({latest}): upgrade mkb-monitor")
            for version in range(current + 1, latest + 1):
                step = self.MIGRATIONS[version - 1]
                if getattr(step, "reports_progress", False):
                    step(self._db, self.progress)
                else:
                    step(self._db)
                self._db.execute(f"PRAGMA user_version = {version}")

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity and foreign-key checks."""
        problems = [row[0] for row in self._db.execute("PRAGMA integrity_check") if row[0] != "ok"]
        return problems + [f"foreign key: {row}" for row in self._db.execute("PRAGMA foreign_key_check")]


def storage_error(exc: sqlite3.OperationalError) -> StorageError:
    """The storage error a SQLite failure means for the user."""
    message = str(exc)
    if "locked" in message or "busy" in message:
        return StorageBusy(f"the database is locked by another writer: {message}")
    if "full" in message or "disk I/O" in message:
        return StorageFull(f"the database could not be written: {message}")
    return StorageError(message)
