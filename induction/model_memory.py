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
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from induction.config import ModelLoadError

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


ACTIVATION_TRIALS = 8  # trials of one forward chunk that the activation estimate counts
ACTIVATION_POSITIONS = 512  # at most this many positions (the longest segments the setups build)


class ModelMemoryFull(ModelLoadError):
    """The server's model budget is held by models in use (here or in other workers): this one does not fit now."""


def activation_bytes(config) -> int:
    """An estimate of a forward pass's working memory: a chunk of trials' attention weights (heads x S x S) and
    hidden states (a few S x hidden per layer kept at once), float32, S the model's positions up to 512."""
    positions = min(int(getattr(config, "max_position_embeddings", 0) or ACTIVATION_POSITIONS), ACTIVATION_POSITIONS)
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    heads = int(getattr(config, "num_attention_heads", 0) or 0)
    return ACTIVATION_TRIALS * (heads * positions**2 + 4 * positions * hidden) * 4


def parameter_bytes(config) -> int:
    """float32 parameter bytes estimated from a config (embeddings, attention and MLP per layer): what decides
    whether a model fits the budget before any weights are read."""
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    layers = int(getattr(config, "num_hidden_layers", 0) or 0)
    inner = int(getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * hidden)
    vocab = int(getattr(config, "vocab_size", 0) or 0)
    positions = int(getattr(config, "max_position_embeddings", 0) or 0)
    return 4 * ((vocab + positions) * hidden + layers * (4 * hidden * hidden + 2 * hidden * inner))


_CONFIG_NAMES = {"hidden_size": ("hidden_size", "n_embd", "d_model", "dim"),
                 "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers"),
                 "num_attention_heads": ("num_attention_heads", "n_head", "num_heads", "n_heads"),
                 "intermediate_size": ("intermediate_size", "n_inner", "ffn_dim", "hidden_dim"),
                 "vocab_size": ("vocab_size",),
                 "max_position_embeddings": ("max_position_embeddings", "n_positions", "n_ctx")}


def config_from_json(path) -> object:
    """A config.json read as plain data under the names the estimates use (GPT-2's n_embd as hidden_size...):
    no transformers import, no network."""
    import json
    from types import SimpleNamespace

    with open(path) as f:
        raw = json.load(f)
    return SimpleNamespace(**{name: next((raw[k] for k in keys if raw.get(k) is not None), None)
                              for name, keys in _CONFIG_NAMES.items()})


def model_bytes(config) -> int:
    """What a model is counted as against the budget: its parameters plus an activation estimate."""
    return parameter_bytes(config) + activation_bytes(config)


class SharedLedger:
    """The bytes each worker process holds, in shared memory: one budget for all of a server's workers. A worker
    reserves before it loads (under the ledger's lock: two workers cannot both take the last room)."""

    def __init__(self, workers: int, budget: int | None = None, context=None):
        import multiprocessing

        self.budget = budget_bytes() if budget is None else budget
        ctx = context or multiprocessing.get_context("spawn")
        self._held = ctx.Array("q", workers)
        self._wanted = ctx.Value("q", 0)  # bytes a worker waits for: the others shed their unused models

    def bind(self, index: int) -> WorkerLedger:
        return WorkerLedger(self, index)

    def total(self) -> int:
        with self._held.get_lock():
            return sum(self._held)


class WorkerLedger:
    """One worker's row of the shared ledger (what `ModelMemo` reports to and checks against)."""

    def __init__(self, ledger: SharedLedger, index: int):
        self.ledger, self.index = ledger, index

    def settle(self, mine: int, need: int) -> bool:
        """Record `mine` (+ `need` when it fits beside the other workers' bytes, or when nothing at all is held:
        a model larger than the budget still loads alone); False, with only `mine` recorded, when it does not."""
        held = self.ledger._held
        with held.get_lock():
            others = sum(held) - held[self.index]
            fits = need == 0 or others + mine + need <= self.ledger.budget or others + mine == 0
            held[self.index] = mine + (need if fits else 0)
            return fits

    def others(self) -> int:
        held = self.ledger._held
        with held.get_lock():
            return sum(held) - held[self.index]

    def want(self, need: int) -> None:
        """Say that a load waits for `need` bytes (0: no longer): the other workers then drop unused models."""
        self.ledger._wanted.value = need

    def wanted(self) -> int:
        return self.ledger._wanted.value


@dataclass
class _Entry(Generic[M]):
    model: M
    nbytes: int
    users: int = 0


class ModelMemo(Generic[M]):
    """key -> model, loaded once (one lock per key), LRU-evicted under `budget` bytes, pinned while in use."""

    def __init__(self, budget: int | None = None, size: Callable[[M], int] = torch_bytes,
                 ledger: WorkerLedger | None = None):
        self.budget = budget_bytes() if budget is None else budget
        self._size = size
        self.ledger = ledger  # a worker's row of its server's shared budget (None: this process's own budget)
        self.wait_s = 30.0  # how long a load waits for room under a shared budget before it is refused
        self._entries: OrderedDict[Hashable, _Entry[M]] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[Hashable, threading.Lock] = {}

    def acquire(self, key: Hashable, load: Callable[[], M], need: int = 0) -> M:
        """The model for `key`, loading it if needed, marked most recently used and in use until `release`.
        `need`: its expected bytes, checked against the budget before it loads (with a shared ledger, the
        budget all workers share: ModelMemoryFull when the others' models in use leave no room)."""
        with self._lock:
            if key in self._entries:
                return self._use(key)
            lock = self._load_locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._entries:
                    return self._use(key)
            self._make_room(need)
            try:
                model = load()
            except BaseException:
                self._settle()
                raise
            nbytes = self._size(model)
            with self._lock:
                self._entries[key] = _Entry(model, nbytes)
                model = self._use(key)
                self._evict()
            return model

    def _make_room(self, need: int) -> None:
        """Before a load, with a ledger: evict this process's unused models until `need` fits beside the other
        workers' bytes and reserve it; while it does not fit, ask the others to shed their unused models and
        wait up to `wait_s`; then refuse (their models are in use)."""
        if self.ledger is None:
            return
        deadline = time.monotonic() + self.wait_s
        while True:
            with self._lock:
                others = self.ledger.others()
                for key in list(self._entries):
                    if others + self.loaded_bytes() + need <= self.budget:
                        break
                    if self._entries[key].users == 0:
                        del self._entries[key]
                        log.info("evicted model %s to make room under the server's shared budget", key)
                if self.ledger.settle(self.loaded_bytes(), need):
                    if self.ledger.wanted() == need:
                        self.ledger.want(0)
                    return
            if time.monotonic() >= deadline:
                self.ledger.want(0)
                raise ModelMemoryFull(
                    f"the server's model memory ({self.budget / 2**20:.0f} MB, shared by its computations) is held "
                    f"by models in use; this one needs about {need / 2**20:.0f} MB: please try again in a minute")
            self.ledger.want(need)
            time.sleep(0.1)

    def shed(self) -> None:
        """Drop every model not in use now (another worker waits for room under the shared budget)."""
        with self._lock:
            for key in [k for k, e in self._entries.items() if e.users == 0]:
                del self._entries[key]
                log.info("dropped model %s: another computation needs the room", key)
            self._settle()

    def _settle(self) -> None:
        if self.ledger is not None:
            self.ledger.settle(self.loaded_bytes(), 0)

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
        """Drop least recently used models not in use until the loaded total fits the budget (beside the other
        workers' bytes, with a ledger), then record what is held."""
        others = self.ledger.others() if self.ledger is not None else 0
        for key in list(self._entries):
            if others + self.loaded_bytes() <= self.budget:
                break
            entry = self._entries[key]
            if entry.users == 0 and len(self._entries) > 1:
                del self._entries[key]
                log.info("evicted model %s (%.0f MB) to stay under the %.0f MB budget",
                         key[0] if isinstance(key, tuple) else key, entry.nbytes / 2**20, self.budget / 2**20)
        self._settle()

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
            self._settle()

    def snapshot(self) -> list[dict]:
        """[{key, MB, users}] least recently used first (the About page shows it)."""
        with self._lock:
            return [{"key": k, "mb": round(e.nbytes / 2**20, 1), "users": e.users} for k, e in self._entries.items()]
