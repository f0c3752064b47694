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
