"""For the whole test run: uploaded data goes to a temporary folder, never the user's own."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Before any test module is imported: some build their app at import time, and an app's
    # DATA_DIR defaults to $XDG_DATA_HOME/nn-playground (app/settings.py).
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="nn-playground-tests-")
