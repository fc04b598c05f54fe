"""Shared fixtures: an app with a fresh session store per test, and helpers to read its answers."""

from __future__ import annotations

import base64
import math
from typing import Any, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings())) as test_client:
        yield test_client


TYPED_DTYPES = {"u1": np.uint8, "f4": np.float32}  # a heatmap's bytes, a layer's gradients


def decode(typed: dict[str, str]) -> np.ndarray:
    """A Plotly typed array back into a NumPy matrix."""
    shape = tuple(int(n) for n in typed["shape"].split(","))
    return np.frombuffer(base64.b64decode(typed["bdata"]), dtype=TYPED_DTYPES[typed["dtype"]]).reshape(shape)


def non_finite_paths(value: Any, path: str = "$") -> list[str]:
    """Where in a JSON-like value a NaN or infinite number hides."""
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in non_finite_paths(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in non_finite_paths(v, f"{path}[{i}]")]
    return []
