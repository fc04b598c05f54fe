"""Uploaded data sets on disk, content-addressed, so that a link to one survives a restart.

A set is stored once under the SHA-256 of its canonical CSV (``app/csv_data.canonical_csv``):
``DATA_DIR/ab/abcdef....csv``. The configuration carries the hash (``data=<hash>``), so a shared
link names exactly one set, and uploading the same data twice stores it once. Files are written
to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from app.config import DATA_HASH_PATTERN
from app.csv_data import canonical_csv, read_canonical
from engine.datasets import Dataset


def data_hash(dataset: Dataset) -> str:
    """The hash a set is stored under, and that links carry."""
    return _digest(canonical_csv(dataset))


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class DataStore:
    """The uploaded sets of one server, in the folder ``root`` (made when first needed)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        if not re.fullmatch(DATA_HASH_PATTERN, digest):
            raise ValueError(f"{digest!r} is not a data hash (64 hexadecimal digits)")
        return self.root / digest[:2] / f"{digest}.csv"

    def put(self, dataset: Dataset) -> str:
        """Store ``dataset`` (once) and give its hash. OSError if the folder is not writable."""
        content = canonical_csv(dataset)
        digest = _digest(content)
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
                part.write(content)
            os.replace(part.name, path)
        return digest

    def get(self, digest: str) -> Dataset:
        """The set stored under ``digest``; LookupError if this server has none, ValueError if
        the file is not what it should be."""
        path = self._path(digest)
        try:
            content = path.read_bytes()
        except FileNotFoundError:
            raise LookupError(digest) from None
        if _digest(content) != digest:
            raise ValueError(f"the stored data {digest} is damaged")
        return read_canonical(content)
