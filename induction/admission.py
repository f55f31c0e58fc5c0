"""Admission control for heavy computations: a bounded number run at once, server-wide, the rest wait in order.

Why: a public demo shared widely gets many visitors computing at once; unbounded, every one of them
competes for the same cores and a visitor who only opens a cached map waits behind them all. Here at
most `slots` computations run at once (`INDUCTION_MAX_COMPUTE`, default one less than the cores), one
per visitor; the others wait first in, first out, and can see their place and give up. Results already
in the cache never come here: the engine asks for admission only when it has to compute
(`heavy_section`, called where a model is about to be used), through a gate the caller installs for the
current context (`gated`). Nothing here knows about Streamlit; the dashboard's gate shows the place and
a cancel button (dashboard/progress.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


def default_slots() -> int:
    """Heavy computations at once: INDUCTION_MAX_COMPUTE, else one less than the cores (one stays free for
    serving pages), at least one."""
    raw = os.environ.get("INDUCTION_MAX_COMPUTE", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return max(1, (os.cpu_count() or 2) - 1)


def torch_threads(slots: int) -> int:
    """Intra-op threads per computation so that `slots` of them leave one core for serving cached views."""
    return max(1, ((os.cpu_count() or 2) - 1) // max(slots, 1))


class Cancelled(Exception):
    """The visitor gave up waiting (or closed the page): the ticket left the queue."""


class QueueFull(Exception):
    """The queue already holds its limit of waiting tickets: the request was not queued."""


@dataclass(eq=False)
class Ticket:
    """One visitor's request for a slot: queued, then running, then released (exactly once)."""

    visitor: str
    admission: Admission
    number: int
    queued_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    released: bool = False

    def place(self) -> int:
        """0 when running; else 1 + the number of tickets ahead of this one in the queue."""
        return self.admission.place(self)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until admitted (True) or `timeout` seconds pass (False)."""
        return self.admission.wait(self, timeout)

    def release(self) -> None:
        """Leave the queue or free the slot; a second call does nothing."""
        self.admission.release(self)

    @property
    def waited_s(self) -> float:
        return (self.started_at or time.monotonic()) - self.queued_at


class Admission:
    """A FIFO of tickets over `slots` running places; a visitor runs at most one ticket at a time."""

    def __init__(self, slots: int | None = None):
        self.slots = slots or default_slots()
        self._cond = threading.Condition()
        self._queue: deque[Ticket] = deque()
        self._running: list[Ticket] = []
        self._numbers = itertools.count()
        self.longest_wait_s = 0.0

    def request(self, visitor: str, max_queue: int | None = None) -> Ticket:
        """A new ticket at the back of the queue (admitted at once when a slot is free and it is first). With
        `max_queue`, QueueFull instead when that many already wait: the check and the join are one step, so two
        visitors cannot both pass a check made before either joined."""
        with self._cond:
            if max_queue is not None and len(self._queue) >= max_queue:
                raise QueueFull(f"{len(self._queue)} computations already wait")
            ticket = Ticket(visitor, self, next(self._numbers))
            self._queue.append(ticket)
            self._promote()
            return ticket

    def _promote(self) -> None:
        """Start queued tickets in order while slots are free, skipping visitors already running one."""
        busy = {t.visitor for t in self._running}
        for ticket in list(self._queue):
            if len(self._running) >= self.slots:
                break
            if ticket.visitor in busy:
                continue
            self._queue.remove(ticket)
            ticket.started_at = time.monotonic()
            self.longest_wait_s = max(self.longest_wait_s, ticket.waited_s)
            self._running.append(ticket)
            busy.add(ticket.visitor)
        self._cond.notify_all()

    def place(self, ticket: Ticket) -> int:
        with self._cond:
            if ticket in self._running:
                return 0
            return self._queue.index(ticket) + 1 if ticket in self._queue else 0

    def wait(self, ticket: Ticket, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: ticket in self._running or ticket.released, timeout) and \
                not ticket.released

    def release(self, ticket: Ticket) -> None:
        with self._cond:
            if ticket.released:
                return
            ticket.released = True
            if ticket in self._queue:
                self._queue.remove(ticket)
            if ticket in self._running:
                self._running.remove(ticket)
            self._promote()

    def snapshot(self) -> dict:
        """What runs and waits now (the About page and the load test read it)."""
        with self._cond:
            return {"slots": self.slots, "running": len(self._running), "queued": len(self._queue),
                    "longest_wait_s": round(self.longest_wait_s, 3)}

    def queued_for(self, visitor: str) -> int:
        with self._cond:
            return sum(t.visitor == visitor for t in (*self._queue, *self._running))


class RateLimit:
    """At most `per_minute` new computations per visitor in any 60 s (a sliding window). Bounded: a visitor whose
    starts all left the window is forgotten, and beyond `max_visitors` the one idle longest goes first."""

    def __init__(self, per_minute: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_visitors: int = 10_000):
        self.per_minute, self.window_s, self._clock = per_minute, window_s, clock
        self.max_visitors = max_visitors
        self._starts: OrderedDict[str, deque[float]] = OrderedDict()  # least recently started first
        self._lock = threading.Lock()

    def allow(self, visitor: str) -> float:
        """0 and the start counted when allowed; else the seconds until the visitor may start another."""
        now = self._clock()
        with self._lock:
            self._forget(now)
            starts = self._starts.setdefault(visitor, deque())
            while starts and now - starts[0] >= self.window_s:
                starts.popleft()
            if len(starts) >= self.per_minute:
                return self.window_s - (now - starts[0])
            starts.append(now)
            self._starts.move_to_end(visitor)
            while len(self._starts) > self.max_visitors:
                self._starts.popitem(last=False)
            return 0.0

    def _forget(self, now: float) -> None:
        """Drop the visitors whose last start left the window (they are the oldest, at the front)."""
        while self._starts:
            visitor, starts = next(iter(self._starts.items()))
            if starts and now - starts[-1] < self.window_s:
                return
            del self._starts[visitor]

    def __len__(self) -> int:
        with self._lock:
            return len(self._starts)


def limit_torch_threads(slots: int) -> None:
    """Intra-op threads so the running computations leave a core free for serving pages (process-wide)."""
    import torch

    threads = torch_threads(slots)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
        log.info("torch intra-op threads set to %d for %d computation slot(s)", threads, slots)


def deprioritize_this_thread(niceness: int = 10) -> None:
    """Lower the OS priority of the calling thread only (Linux schedules threads as tasks): a computation then
    yields the cores to the threads serving pages and cached views. Streamlit runs each script run in a new
    thread, so the priority ends with the run (an unprivileged process could not raise it back)."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))


_ADMISSION: Admission | None = None
_ADMISSION_LOCK = threading.Lock()


def server_admission() -> Admission:
    """The process's one admission queue (created on first use, sized from the environment)."""
    global _ADMISSION
    with _ADMISSION_LOCK:
        if _ADMISSION is None:
            _ADMISSION = Admission()
        return _ADMISSION


Gate = Callable[[], None]  # blocks until the current computation may run; raises Cancelled to give up
_GATE: contextvars.ContextVar[Gate | None] = contextvars.ContextVar("induction_gate", default=None)


@contextlib.contextmanager
def gated(gate: Gate) -> Iterator[None]:
    """Within this block, the first heavy section calls `gate` (once) before it runs."""
    entered = False

    def once() -> None:
        nonlocal entered
        if not entered:
            entered = True
            gate()

    token = _GATE.set(once)
    try:
        yield
    finally:
        _GATE.reset(token)


MODELS_IN_WORKERS = False  # set in a server whose worker pool holds the models (compute_workers.start_server_pool)


def heavy_section() -> None:
    """Called by the engine right before real work (a model about to run): waits for admission when a gate
    is installed; outside the dashboard (CLI, tests, the sweep's workers) nothing waits. In a server whose
    workers hold the models, a model about to load with no gate is a page's call that bypassed the workers:
    logged, so it is found (the server process should hold no model)."""
    gate = _GATE.get()
    if gate is not None:
        gate()
    elif MODELS_IN_WORKERS:
        log.warning("a model is about to load in the server process, outside the compute workers: send this call "
                    "through dashboard.progress (run_with_progress or call_on_model)", stack_info=True)


@contextlib.contextmanager
def admitted(visitor: str, on_wait: Callable[[Ticket], None] | None = None, *, admission: Admission | None = None,
             poll_s: float = 0.5, max_queue: int | None = None) -> Iterator[Ticket]:
    """Hold a slot for the block: queue (QueueFull when `max_queue` already wait), call `on_wait(ticket)` every
    `poll_s` while waiting (it may raise to give up, e.g. Cancelled or the dashboard's stop on a closed tab), and
    always free the slot after."""
    ticket = (admission or server_admission()).request(visitor, max_queue)
    try:
        while not ticket.wait(poll_s):
            if ticket.released:
                raise Cancelled("the request left the queue")
            if on_wait:
                on_wait(ticket)
        yield ticket
    finally:
        ticket.release()
