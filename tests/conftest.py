"""Fixtures shared by every test folder: the scaled-out playground (tests/cluster.py)."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.cluster import Cluster, servers_or_skip


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """redis-server, three app processes sharing it and nginx in front, for the whole run;
    tests that stop a piece start it again."""
    running = Cluster(*servers_or_skip())
    try:
        yield running
    finally:
        running.close()
