"""For the whole test run: uploaded data goes to a temporary folder, never the user's own; and
the scaled-out playground (tests/cluster.py) as a fixture shared by every test folder."""

from __future__ import annotations

import os
import tempfile
from typing import Iterator

import pytest

from tests.cluster import Cluster, servers_or_skip


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module is imported: some build their app at import time, and an app's
    # DATA_DIR defaults to $XDG_DATA_HOME/nn-playground (app/settings.py).
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="nn-playground-tests-")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """redis-server, three app processes sharing it and nginx in front, for the whole run;
    tests that stop a piece start it again."""
    running = Cluster(*servers_or_skip())
    try:
        yield running
    finally:
        running.close()
