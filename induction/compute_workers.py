"""Heavy computations in long-lived worker processes, so they cannot hold up the server serving pages.

Why: in one process a computation shares the interpreter (and its lock) with every page the server draws,
so on a small machine a visitor opening a cached map waits behind the visitors computing. Here the server
keeps one worker process per admission slot (spawned once and kept, so their loaded models stay warm;
each at the lowest OS priority, with the intra-op threads its share of the cores). A page submits a
module-level library call with picklable arguments (frozen config dataclasses), reads progress from the
pipe while it waits, and gets the result back pickled (only across the pipe; the disk cache stays
pickle-free). A caller that gives up (cancel, a closed tab) kills its worker, and a fresh one takes its place.

Only the server starts a pool (`start_server_pool`, from serve.py when deployed or when
`INDUCTION_COMPUTE_WORKERS` asks); the CLI, the library and AppTest compute in their own process.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import threading
import time
import warnings
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
_SPAWN = multiprocessing.get_context("spawn")  # no fork of a threaded server; the child imports afresh
LOWEST_PRIORITY = 19


class WorkerDied(RuntimeError):
    """The worker process ended before answering (killed, or out of memory)."""


def workers_wanted(deployed: bool) -> int:
    """How many workers the server should start: INDUCTION_COMPUTE_WORKERS (0 turns them off, any other
    number is ignored in favour of the admission slots), else one per slot when deployed, none otherwise."""
    from induction.admission import server_admission

    raw = os.environ.get("INDUCTION_COMPUTE_WORKERS", "").strip().lower()
    if raw in ("0", "no", "false", "off"):
        return 0
    if raw or deployed:
        return server_admission().slots
    return 0


def _exit_with(parent: int) -> None:
    """End this worker when the server that started it is gone (killed: nobody would read its answer)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _shed_when_wanted(memo, ledger) -> None:
    """In a worker: drop its unused models whenever another worker waits for room under the shared budget."""
    while True:
        time.sleep(0.25)
        if ledger.wanted() and memo.loaded_bytes():
            memo.shed()


def _serve(conn, threads: int, niceness: int, env: dict[str, str], ledger=None) -> None:
    """The worker's loop: one call at a time from the pipe, progress and the outcome back through it. `ledger`:
    this worker's row of the server's shared model budget (model_memory.WorkerLedger)."""
    threading.Thread(target=_exit_with, args=(os.getppid(),), daemon=True).start()
    os.environ.update(env)
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(niceness)
    import torch

    torch.set_num_threads(threads)
    from induction import engine
    from induction.engine import loaded_models, models_in_use

    if ledger is not None:  # one budget for all the server's workers, not a share each
        engine._MODELS.budget, engine._MODELS.ledger = ledger.ledger.budget, ledger
        threading.Thread(target=_shed_when_wanted, args=(engine._MODELS, ledger), daemon=True).start()

    conn.send(("models", loaded_models()))  # the budget, nothing loaded yet: the About page's row for it
    while True:
        try:
            fn, args, kwargs = conn.recv()
        except (EOFError, OSError):
            return  # the server went away

        def progress(done: int, total: int) -> None:
            conn.send(("progress", done, total))

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with models_in_use():
                    outcome: tuple = ("ok", fn(*args, progress=progress, **kwargs))
            except Exception as exc:  # the caller raises it in its own thread
                outcome = ("error", exc)
        conn.send(("models", loaded_models()))  # what this worker now holds, before the answer
        _answer(conn, outcome, page_notes(caught))


_PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_THIRD_PARTY = ("site-packages", "dist-packages", f"{os.sep}.venv{os.sep}")
_DEVELOPER_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ResourceWarning, ImportWarning)


def page_notes(caught: list[warnings.WarningMessage]) -> list[str]:
    """The warnings a page shows, once each, in order: the cache-write one and every other raised by this
    project's code (the library's, a page's, a worker's call); third-party and standard-library noise is left out.
    The same for a call in a worker (sent back with its result) and one in the server's thread."""
    from induction.cache import CacheWriteWarning

    notes: list[str] = []
    for w in caught:
        path = os.path.abspath(w.filename or "")
        ours = path.startswith(_PROJECT + os.sep) and not any(part in path for part in _THIRD_PARTY) and \
            not issubclass(w.category, _DEVELOPER_WARNINGS)  # deprecations: for developers
        if (ours or issubclass(w.category, CacheWriteWarning)) and str(w.message) not in notes:
            notes.append(str(w.message))
    return notes


def _answer(conn, outcome: tuple, notes: list[str]) -> None:
    """Send the outcome; one that cannot be pickled becomes an error naming why (the pipe stays usable, since
    pickling happens before anything is written)."""
    try:
        conn.send((*outcome, notes))
    except Exception as exc:
        conn.send(("error", RuntimeError(f"the result could not be sent back: {type(exc).__name__}: {exc}"), notes))


class Worker:
    """One long-lived worker process and the server's end of its pipe."""

    def __init__(self, threads: int = 1, niceness: int = LOWEST_PRIORITY, env: dict[str, str] | None = None,
                 ledger=None, on_end: Callable[[], None] | None = None):
        self._conn, child = _SPAWN.Pipe()
        self.process = _SPAWN.Process(target=_serve, args=(child, threads, niceness, env or {}, ledger), daemon=True,
                                      name="induction-compute")
        self._on_end = on_end  # the pool frees this worker's row of the shared budget
        self.process.start()
        child.close()
        self.busy = False  # a call was sent and its answer has not come back
        self.models: dict | None = None  # the worker's engine.loaded_models() after its last call
        self._killing, self._killed = threading.Lock(), False

    def call(self, fn: Callable, args: tuple, kwargs: dict, *, on_progress: Callable[[int, int], None] | None = None,
             on_wait: Callable[[], None] | None = None, poll_s: float = 0.25) -> tuple[Any, list[str]]:
        """(fn(*args, **kwargs, progress=...), the warnings a page shows: `page_notes`) computed in the worker.
        `on_wait` runs every `poll_s` while waiting and may raise to give up (the caller must then `kill` it)."""
        self._conn.send((fn, args, kwargs))
        self.busy = True
        while True:
            try:
                ready = self._conn.poll(poll_s)
                message = self._conn.recv() if ready else None
            except (EOFError, OSError) as exc:  # killed, or its pipe closed by Pool.close
                raise WorkerDied("the computation's worker process ended") from exc
            if ready:
                kind, *rest = message
                if kind == "progress":
                    if on_progress:
                        on_progress(*rest)
                    continue
                if kind == "models":
                    self.models = rest[0]
                    continue
                value, notes = rest
                self.busy = False
                if kind == "error":
                    raise value
                return value, notes
            if not self.process.is_alive():
                raise WorkerDied("the computation's worker process ended")
            if on_wait:
                on_wait()

    def rss_mb(self) -> float | None:
        """The worker's resident memory (Linux /proc), None elsewhere or once it has ended."""
        try:
            with open(f"/proc/{self.process.pid}/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, ValueError, IndexError):
            return None

    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        """End the process now (a computation nobody waits for any more) and close the pipe; once, however many
        threads ask (Pool.close and the caller giving the worker back may both)."""
        with self._killing:
            if self._killed:
                return
            self._killed = True
            self.process.kill()
            self.process.join(5)
            with contextlib.suppress(OSError):
                self._conn.close()
            if self._on_end is not None:
                self._on_end()


class Pool:
    """`size` idle workers; a caller holding an admission slot takes one, and gives it back or kills it."""

    def __init__(self, size: int, threads: int = 1, env: dict[str, str] | None = None,
                 niceness: int = LOWEST_PRIORITY, budget: int | None = None):
        """`budget`: bytes of models all the workers may hold together (a shared ledger); None: each worker
        keeps its own INDUCTION_MODEL_MEMORY_MB."""
        from induction.model_memory import SharedLedger

        self.size = size
        self._lock = threading.Lock()
        rows = 2 * size + 4  # replacements and extra workers get a row too
        self.ledger = SharedLedger(rows, budget, _SPAWN) if budget is not None else None
        self._free_rows = list(range(rows))

        def make() -> Worker:
            with self._lock:
                row = self._free_rows.pop(0) if self.ledger is not None and self._free_rows else None
            if row is None:
                return Worker(threads, niceness, env)
            self.ledger._held[row] = 0
            return Worker(threads, niceness, env, self.ledger.bind(row), on_end=lambda: self._free_row(row))

        self._make = make
        self._idle = [self._make() for _ in range(size)]
        self._busy: set[Worker] = set()  # taken and not given back: `close` ends these too
        self.restarts = 0
        self.closed = False

    def _free_row(self, row: int) -> None:
        """A worker ended: its models are gone, its row of the shared budget is free again (and a wait for room it
        may have left behind is withdrawn: a worker still waiting says so again within 0.1 s)."""
        self.ledger._held[row] = 0
        self.ledger._wanted.value = 0
        with self._lock:
            self._free_rows.append(row)

    def take(self) -> Worker:
        """An idle worker (a fresh one if none is idle: admission normally keeps one free per slot)."""
        with self._lock:
            if self.closed:
                raise WorkerDied("the server is shutting down")
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    self._busy.add(worker)
                    return worker
                self.restarts += 1
        worker = self._make()  # spawned outside the lock (it takes a moment)
        with self._lock:
            self._busy.add(worker)
        return worker

    def give_back(self, worker: Worker, *, finished: bool) -> None:
        """Keep a worker that finished its call; kill one that did not and start its replacement."""
        with self._lock:
            self._busy.discard(worker)
            if self.closed:
                worker.kill()
                return
        if not finished or not worker.alive():
            worker.kill()
            worker = self._make()
            with self._lock:
                self.restarts += 1
        with self._lock:
            if len(self._idle) < self.size:
                self._idle.append(worker)
                return
        worker.kill()

    def run(self, fn: Callable, args: tuple, kwargs: dict, **hooks) -> tuple[Any, list[str]]:
        """`Worker.call` on a worker of the pool; killed and replaced when the caller gives up or it dies."""
        worker = self.take()
        try:
            return worker.call(fn, args, kwargs, **hooks)
        finally:  # an answer (a result or the call's own error) leaves the worker ready for the next call
            self.give_back(worker, finished=not worker.busy)

    def report(self) -> list[dict]:
        """Per worker: pid, busy, resident MB and the models it held after its last call (the About page)."""
        with self._lock:
            workers = [(w, False) for w in self._idle] + [(w, True) for w in self._busy]
        return [{"pid": w.process.pid, "busy": busy, "rss_mb": w.rss_mb(), "models": (w.models or {}).get("models", []),
                 "loaded_mb": (w.models or {}).get("loaded_mb", 0.0), "budget_mb": (w.models or {}).get("budget_mb")}
                for w, busy in workers]

    def pids(self) -> list[int]:
        with self._lock:
            return [w.process.pid for w in self._idle if w.process.pid]

    def close(self) -> None:
        """End every worker, idle or busy (a busy one's caller gets WorkerDied); no new call is taken after."""
        with self._lock:
            self.closed = True
            workers, self._idle = [*self._idle, *self._busy], []
            self._busy.clear()
        for worker in workers:
            worker.kill()


def without_progress(fn: Callable, *args, progress=None, **kwargs):
    """`fn(*args, **kwargs)` for a call that reports no progress (a drill-down, a text's tokens), so it can be sent
    to a worker like a map."""
    return fn(*args, **kwargs)


_POOL: Pool | None = None


def start_server_pool(size: int) -> Pool | None:
    """The server's pool of `size` workers (none for 0), each with its share of the cores, all sharing the one
    model memory budget (INDUCTION_MODEL_MEMORY_MB); started once."""
    global _POOL
    from induction.admission import torch_threads
    from induction.model_memory import budget_bytes

    if _POOL is None and size > 0:  # one budget shared by the workers (the server process holds no model)
        import induction.admission as admission

        _POOL = Pool(size, threads=torch_threads(size), budget=budget_bytes())
        admission.MODELS_IN_WORKERS = True
        log.info("started %d compute worker process(es)", size)
    return _POOL


def server_pool() -> Pool | None:
    """The pool serve.py started, or None (AppTest, `streamlit run app.py` when not deployed)."""
    return _POOL
