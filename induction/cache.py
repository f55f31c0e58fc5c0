"""On-disk result cache: diskcache for storage, numpy bytes for values, never pickle.

Why not diskcache's defaults: it pickles values, and unpickling a file someone
could write is code execution. `SafeDisk` refuses pickled keys and values in both
directions; values are `numpy.savez` bytes behind a sha256 checksum, read with
`allow_pickle=False`. A corrupt, truncated or foreign entry reads as a miss and is
recomputed. A per-key file lock makes two processes (or two dashboard sessions)
asking for the same missing key compute it once; the lock dies with its process.
An entry is written only after its computation finished, in one transaction, so
an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import numpy as np
from diskcache import Cache, Disk, Timeout
from diskcache.core import MODE_BINARY, MODE_PICKLE, MODE_RAW
from filelock import FileLock

log = logging.getLogger(__name__)
ENGINE_VERSION = "1"
MAGIC = b"INDC1"
_CHECKOUT = Path(__file__).resolve().parent.parent


def _default_dir() -> Path:
    """A checkout keeps its cache beside the code (`cache/`, as the Makefile and the image expect); an installed
    package uses the user's cache folder (XDG_CACHE_HOME or ~/.cache); INDUCTION_CACHE_DIR overrides both."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "cache").is_dir():
        return _CHECKOUT / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "induction"


DEFAULT_DIR = _default_dir()
DEFAULT_SIZE_LIMIT = 2**30  # 1 GiB, least recently stored evicted first


Compute = Callable[[], "tuple[dict, dict[str, np.ndarray]]"]


class CorruptEntry(Exception):
    pass


class CacheWriteWarning(UserWarning):
    """A computed result could not be stored (a full disk, say); the result itself is returned."""


class SafeDisk(Disk):
    """A diskcache Disk that never pickles or unpickles."""

    def put(self, key):
        if not isinstance(key, str):
            raise TypeError("cache keys must be str")
        return super().put(key)

    def get(self, key, raw):
        if not raw:
            raise CorruptEntry("pickled key in cache")
        return super().get(key, raw)

    def store(self, value, read, key=None):
        if not isinstance(value, bytes):
            raise TypeError("cache values must be bytes")
        return super().store(value, read) if key is None else super().store(value, read, key=key)

    def fetch(self, mode, filename, value, read):
        if mode == MODE_PICKLE:
            raise CorruptEntry("pickled value in cache")
        return super().fetch(mode, filename, value, read)


def cache_dir() -> Path:
    return Path(os.environ.get("INDUCTION_CACHE_DIR") or DEFAULT_DIR)


def make_key(kind: str, **parts) -> str:
    """A stable key from everything that changes the numbers."""
    blob = json.dumps({"kind": kind, "engine": ENGINE_VERSION, **parts}, sort_keys=True, default=str)
    return f"{kind}:" + hashlib.sha256(blob.encode()).hexdigest()


def encode(meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, __meta__=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **arrays)
    body = buf.getvalue()
    return MAGIC + hashlib.sha256(body).digest() + body


def decode(blob: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    if not isinstance(blob, bytes) or not blob.startswith(MAGIC):
        raise CorruptEntry("not a cache entry")
    digest, body = blob[len(MAGIC):len(MAGIC) + 32], blob[len(MAGIC) + 32:]
    if hashlib.sha256(body).digest() != digest:
        raise CorruptEntry("checksum mismatch")
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop("__meta__").tobytes().decode())
    except (ValueError, OSError, KeyError) as exc:
        raise CorruptEntry(str(exc)) from exc
    return meta, arrays


def size_limit() -> int:
    return int(float(os.environ.get("INDUCTION_CACHE_SIZE_MB", DEFAULT_SIZE_LIMIT / 2**20)) * 2**20)


class ReadOnlyTier:
    """A diskcache directory read without writing anything: sqlite opened read-only (mode=ro), so the tier
    can belong to another user (a deployed image's root-owned precomputed maps). Only raw bytes values, never
    pickles, are returned, as SafeDisk stores them."""

    def __init__(self, directory: Path | str):
        self.directory = Path(directory)
        self._db = self.directory / "cache.db"

    def get(self, key: str) -> bytes | None:
        if not self._db.exists():
            return None
        with closing(sqlite3.connect(f"{self._db.as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT mode, filename, value FROM Cache WHERE key = ? AND raw = 1", (key,)).fetchone()
        if row is None:
            return None
        mode, filename, value = row
        if mode == MODE_RAW:
            return bytes(value)
        if mode == MODE_BINARY and filename:
            return (self.directory / filename).read_bytes()
        raise CorruptEntry("not a bytes entry")


def seal(directory: Path | str) -> None:
    """Make a filled cache directory a read-only tier: no write-ahead log (a reader without write access could
    not open one), no locks, readable by every user and writable by none but its owner."""
    path = Path(directory)
    with closing(sqlite3.connect(path / "cache.db")) as db:
        db.execute("PRAGMA journal_mode=DELETE")
    for lock in (path / "locks").glob("*"):
        lock.unlink()
    (path / "locks").rmdir() if (path / "locks").is_dir() else None
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


class ResultCache:
    """Typed get/put of (meta, arrays) plus compute-once.

    `precomputed`: an optional read-only tier (a deployed image's precomputed maps, from
    INDUCTION_PRECOMPUTED_DIR) consulted first and never evicted or written.
    """

    def __init__(self, directory: Path | str | None = None, *, size_limit: int = DEFAULT_SIZE_LIMIT,
                 precomputed: Path | str | None = None):
        self.precomputed = ReadOnlyTier(precomputed) if precomputed and Path(precomputed).is_dir() else None
        self.directory = Path(directory) if directory else cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        self.lock_dir = self.directory / "locks"
        self.lock_dir.mkdir(exist_ok=True, mode=0o700)
        self.store = Cache(str(self.directory), disk=SafeDisk, size_limit=size_limit,
                           eviction_policy="least-recently-stored")

    def get(self, key: str) -> tuple[dict, dict[str, np.ndarray]] | None:
        if self.precomputed is not None:
            try:
                blob = self.precomputed.get(key)
                if blob is not None:
                    return decode(blob)
            except (CorruptEntry, OSError, EOFError, sqlite3.Error) as exc:
                log.warning("precomputed entry %s... unreadable (%s); using the writable cache", key[:24], exc)
                warnings.warn(f"precomputed entry {key[:24]}... unreadable ({exc}); using the writable cache",
                              stacklevel=2)
        try:
            blob = self.store.get(key, default=None, retry=True)
            return None if blob is None else decode(blob)
        except (CorruptEntry, OSError, EOFError) as exc:
            log.warning("cache entry %s... unreadable (%s); recomputing", key[:24], exc)
            warnings.warn(f"cache entry {key[:24]}... unreadable ({exc}); recomputing", stacklevel=2)
            self.store.delete(key, retry=True)
            return None

    def put(self, key: str, meta: dict, arrays: dict[str, np.ndarray]) -> bool:
        blob = encode(meta, arrays)  # outside the try: a result the encoder cannot write is a bug, raised as one
        try:
            self.store.set(key, blob, retry=True)
            return True
        except (OSError, sqlite3.Error, Timeout) as exc:  # a full disk, a read-only folder, a locked database
            message = (f"the result was computed but could not be stored in the cache at {self.directory} ({exc}); "
                       "cached results are still served")
            log.warning(message)
            warnings.warn(CacheWriteWarning(message), stacklevel=2)
            return False

    def compute_once(self, key: str, compute: Compute) -> tuple[dict, dict[str, np.ndarray], bool]:
        """(meta, arrays, cached). Concurrent callers of one key wait for the first."""
        hit = self.get(key)
        if hit is not None:
            return (*hit, True)
        with FileLock(str(self.lock_dir / (key.replace(":", "_") + ".lock"))):
            hit = self.get(key)
            if hit is not None:
                return (*hit, True)
            meta, arrays = compute()
            self.put(key, meta, arrays)
            return meta, arrays, False


def get_or_compute(key: str, compute: Compute, *, use_cache: bool = True, cache: ResultCache | None = None
                   ) -> tuple[dict, dict[str, np.ndarray], bool]:
    """The one way results are cached: (meta, arrays, cached). `use_cache=False` neither reads nor writes."""
    if not use_cache:
        meta, arrays = compute()
        return meta, arrays, False
    return (cache or open_cache()).compute_once(key, compute)


_OPEN: dict[str, ResultCache] = {}
_OPEN_LOCK = threading.Lock()


def open_cache(directory: Path | str | None = None) -> ResultCache:
    """One ResultCache per directory per process."""
    path = str(Path(directory) if directory else cache_dir())
    with _OPEN_LOCK:
        if path not in _OPEN:
            _OPEN[path] = ResultCache(path, size_limit=size_limit(),
                                      precomputed=os.environ.get("INDUCTION_PRECOMPUTED_DIR") or None)
        return _OPEN[path]
