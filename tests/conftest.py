"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

# ---- faultd: the loopback fault server (tests/faultd.py) ------------------------------------

from faultd import Faultd


@pytest.fixture
def faultd() -> Iterator[Faultd]:
    """A started fault server on 127.0.0.1 (an ephemeral port), stopped after the test."""
    with Faultd() as server:
        yield server


@pytest.fixture
def faultd_factory() -> Iterator[Callable[..., Faultd]]:
    """Start more fault servers, e.g. ``faultd_factory(host="127.0.0.2")`` as a second host."""
    servers: list[Faultd] = []

    def start(**kwargs: object) -> Faultd:
        server = Faultd(**kwargs).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()

# ---- end of faultd fixtures -----------------------------------------------------------------


# ---- the test kit: a config, a corpus, its private state, a replaying fetcher, a source run ------

from pathlib import Path
from typing import Any

from monitor import config as config_module
from monitor.store import Store
from monitor.store.private import PrivateStore
from reliability import LEDGER, Ledger
from tests.fakes import MockFetcher, Reply

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def config(tmp_path: Path) -> Callable[..., Any]:
    """``config(**overrides)``: the shipped defaults through the project's own loader, the corpus in
    ``tmp_path``, ``overrides`` merged as a user's file would be (``config(alerts={"max_per_run": 5})``).
    Calling it with no arguments gives the defaults; it stays a thin wrapper so it follows the loader."""

    def load(**overrides: Any) -> Any:
        return config_module.load(db=tmp_path / "data" / "monitor.db", overrides=overrides or None)

    return load


@pytest.fixture
def corpus(config: Callable[..., Any]) -> Iterator[Store]:
    """A fresh corpus opened through the real store (migrations and all) on the default config."""
    with Store.open(config()) as store:
        yield store


@pytest.fixture
def private(config: Callable[..., Any]) -> Iterator[PrivateStore]:
    """The corpus's private state (saved searches, channels, deliveries) beside it."""
    with PrivateStore.open(config()) as store:
        yield store


@pytest.fixture(scope="session")
def mock_fetcher() -> Callable[..., MockFetcher]:
    """``mock_fetcher({url: Reply.file(FIXTURES / ...)})``: recorded answers replayed through a real
    httpx.Client over httpx.MockTransport (tests/fakes.py)."""
    return MockFetcher


@pytest.fixture(scope="session")
def run_source() -> Callable[..., list[Any]]:
    """``run_source(source, fetcher, cursor=None)``: every batch a source's discover gives."""

    def run(source: Any, fetcher: Any, cursor: str | None = None) -> list[Any]:
        return list(source.discover(fetcher, cursor))

    return run


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    """The fault suite's RELIABILITY §5 figures (tests/reliability.py), written as each module ends."""
    yield LEDGER
    LEDGER.write(tmp_path_factory.getbasetemp())


__all__ = ["FIXTURES", "Reply"]


@pytest.fixture(scope="session")
def make_source() -> Callable[..., Any]:
    """``make_source(name, **options)``: the shipped source ``name`` with these options, built the
    way a run builds it (config, then ``monitor.pipeline.build_source``)."""
    from monitor.pipeline import build_source

    def make(name: str, **options: Any) -> Any:
        loaded = config_module.load(overrides={"sources": {name: options}} if options else None)
        return build_source(loaded.source(name))

    return make
