"""Fixtures of the scale-out tests: a JSON client that reaches the app processes through nginx."""

from __future__ import annotations

from typing import Iterator

import httpx
import pytest

from tests.cluster import Cluster


@pytest.fixture
def client(cluster: Cluster) -> Iterator[httpx.Client]:
    """Named like the API tests' client, so that they run here unchanged: every request goes
    through nginx, round robin, to any of the three app processes."""
    with httpx.Client(base_url=cluster.url, timeout=30) as proxied:
        yield proxied
