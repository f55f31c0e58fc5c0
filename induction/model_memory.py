"""Loaded models under a memory budget: least recently used evicted first, never one in use.

Why: a server keeps models between visitors (loading BERT-base takes seconds), but a visitor walking
through the sizes would otherwise grow it past its memory (BERT-large alone is 1.3 GB). The budget is
`INDUCTION_MODEL_MEMORY_MB` (default 2 GiB: the 2.7 GB of the smallest documented host, less the server);
a model's size is its parameter and buffer bytes. A model in use (`acquire` without its `release`) is
never evicted, so a computation never loses its model; a model larger than the budget still loads, alone
(the budget can be exceeded only by models in use).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
M = TypeVar("M")
DEFAULT_BUDGET_MB = 2 * 1024  # MB


def budget_bytes() -> int:
    """INDUCTION_MODEL_MEMORY_MB in bytes (the default when unset or not a positive number)."""
    raw = os.environ.get("INDUCTION_MODEL_MEMORY_MB", "").strip()
    mb = float(raw) if raw.replace(".", "", 1).isdigit() and float(raw) > 0 else DEFAULT_BUDGET_MB
    return int(mb * 2**20)


def torch_bytes(model) -> int:
    """Parameter and buffer bytes of a LoadedModel (its encoder and MLM head, shared tensors once)."""
    seen: dict[int, int] = {}
    for module in (getattr(model, "encoder", None), getattr(model, "mlm", None)):
        if module is None:
            continue
        for t in (*module.parameters(), *module.buffers()):
            seen[t.data_ptr()] = t.numel() * t.element_size()
    return sum(seen.values())


@dataclass
class _Entry(Generic[M]):
    model: M
    nbytes: int
    users: int = 0


class ModelMemo(Generic[M]):
    """key -> model, loaded once (one lock per key), LRU-evicted under `budget` bytes, pinned while in use."""

    def __init__(self, budget: int | None = None, size: Callable[[M], int] = torch_bytes):
        self.budget = budget_bytes() if budget is None else budget
        self._size = size
        self._entries: OrderedDict[Hashable, _Entry[M]] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[Hashable, threading.Lock] = {}

    def acquire(self, key: Hashable, load: Callable[[], M]) -> M:
        """The model for `key`, loading it if needed, marked most recently used and in use until `release`."""
        with self._lock:
            if key in self._entries:
                return self._use(key)
            lock = self._load_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._entries:
                    return self._use(key)
            model = load()
            nbytes = self._size(model)
            with self._lock:
                self._entries[key] = _Entry(model, nbytes)
                model = self._use(key)
                self._evict()
            return model

    def _use(self, key: Hashable) -> M:
        entry = self._entries[key]
        entry.users += 1
        self._entries.move_to_end(key)
        return entry.model

    def release(self, key: Hashable) -> None:
        """One user less; the model stays loaded (evicted later only if over budget)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.users > 0:
                entry.users -= 1
            self._evict()

    def _evict(self) -> None:
        """Drop least recently used models not in use until the loaded total fits the budget."""
        for key in list(self._entries):
            if self.loaded_bytes() <= self.budget:
                return
            entry = self._entries[key]
            if entry.users == 0 and len(self._entries) > 1:
                del self._entries[key]
                log.info("evicted model %s (%.0f MB) to stay under the %.0f MB budget",
                         key[0] if isinstance(key, tuple) else key, entry.nbytes / 2**20, self.budget / 2**20)

    def loaded_bytes(self) -> int:
        return sum(e.nbytes for e in self._entries.values())

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def snapshot(self) -> list[dict]:
        """[{key, MB, users}] least recently used first (the About page shows it)."""
        with self._lock:
            return [{"key": k, "mb": round(e.nbytes / 2**20, 1), "users": e.users} for k, e in self._entries.items()]
