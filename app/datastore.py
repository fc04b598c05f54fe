"""Where uploaded data sets live, content-addressed, so that a link to one opens the same data.

A set is stored once under the SHA-256 of its canonical CSV (``app/csv_data.canonical_csv``);
the configuration carries the hash (``data=<hash>``), so a shared link names exactly one set, and
uploading the same data twice stores it once. A stored set is at most ``MAX_CSV_BYTES``, the
limit of an uploaded file (a model file's data included).

Two places, one interface (``DataStore``), chosen once at start-up with the session store
(``make_datastore``): without ``REDIS_URL``, files on this machine's disk (``DATA_DIR``, kept until
deleted); with it, in Redis, where every app process on every machine finds them, each kept
``DATA_TTL_DAYS`` after it was last uploaded or opened (app/redis_store.py ``RedisDataStore``).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from app.config import DATA_HASH_PATTERN, ConfigError, FieldError
from app.csv_data import MAX_CSV_BYTES, canonical_csv, read_canonical
from engine.datasets import Dataset

if TYPE_CHECKING:
    from app.settings import Settings


class DataStore(Protocol):
    """Uploaded sets by their hash, wherever they live."""

    def put(self, dataset: Dataset) -> str:
        """Store ``dataset`` (once) and give its hash. ConfigError if it is over the size limit;
        OSError or StoreUnavailable if it cannot be stored."""
        ...

    def get(self, digest: str) -> Dataset:
        """The set stored under ``digest``; LookupError if there is none (never uploaded, or
        expired), ValueError if what is stored is not what it should be."""
        ...


def data_hash(dataset: Dataset) -> str:
    """The hash a set is stored under, and that links carry."""
    return _digest(canonical_csv(dataset))


def stored_form(dataset: Dataset) -> tuple[str, bytes]:
    """A set's hash and the bytes stored for it; ConfigError beyond ``MAX_CSV_BYTES``."""
    content = canonical_csv(dataset)
    if len(content) > MAX_CSV_BYTES:
        raise ConfigError([FieldError("body", f"the data is {len(content)} bytes as CSV; the limit is {MAX_CSV_BYTES}",
                                      "file_too_big", (("limit", str(MAX_CSV_BYTES)),))])
    return _digest(content), content


def checked(digest: str) -> str:
    """``digest`` if it is a data hash (64 hexadecimal digits); ValueError otherwise."""
    if not re.fullmatch(DATA_HASH_PATTERN, digest):
        raise ValueError(f"{digest!r} is not a data hash (64 hexadecimal digits)")
    return digest


def read_stored(digest: str, content: bytes) -> Dataset:
    """The set back from its stored bytes, which must hash to ``digest`` (ValueError if not)."""
    if _digest(content) != digest:
        raise ValueError(f"the stored data {digest} is damaged")
    return read_canonical(content)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class DiskDataStore:
    """The uploaded sets of one machine, in the folder ``root`` (made when first needed):
    ``root/ab/abcdef....csv``. Files are written to a temporary name and renamed, so a reader
    never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, digest: str) -> Path:
        return self.root / checked(digest)[:2] / f"{digest}.csv"

    def put(self, dataset: Dataset) -> str:
        digest, content = stored_form(dataset)
        path = self._path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False, suffix=".part") as part:
                part.write(content)
            os.replace(part.name, path)
        return digest

    def get(self, digest: str) -> Dataset:
        try:
            content = self._path(digest).read_bytes()
        except FileNotFoundError:
            raise LookupError(digest) from None
        return read_stored(digest, content)


def make_datastore(settings: Settings) -> DataStore:
    """Uploaded sets in Redis when ``REDIS_URL`` is set (every app process shares them), else in
    ``DATA_DIR``."""
    if settings.redis_url:
        from app.redis_store import RedisDataStore  # imports redis: only when asked for

        return RedisDataStore(settings.redis_url, settings.data_ttl_days * 24 * 3600)
    return DiskDataStore(settings.data_dir)
