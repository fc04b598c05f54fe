"""Fixtures of the scale-out tests: a JSON client that reaches the app processes through nginx,
and two Redis session stores in this process that stand for two app processes."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from app.redis_store import RedisSessionStore
from tests.cluster import Cluster

TTL = 60
STEP = {"epochs": 2, "since": -1, "grid": 10}


@pytest.fixture
def client(cluster: Cluster) -> Iterator[httpx.Client]:
    """Named like the API tests' client, so that they run here unchanged: every request goes
    through nginx, round robin, to any of the three app processes."""
    with httpx.Client(base_url=cluster.url, timeout=30) as proxied:
        yield proxied


@pytest.fixture
def stores(cluster: Cluster) -> Iterator[tuple[RedisSessionStore, RedisSessionStore]]:
    pair = tuple(RedisSessionStore(cluster.redis_url, TTL, lock_seconds=2) for _ in range(2))
    yield pair
    for store in pair:
        store.close()
