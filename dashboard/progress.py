"""Run a library call behind a progress bar; errors become messages and the server stays up.

A call that has to compute (not one served from the cache: the engine asks only then) first waits for one
of the server's computation slots (induction/admission.py): the page shows its place in the queue and a
cancel button; cancelling, or closing the tab (Streamlit stops the script), frees the place or the slot.

In the server (serve.py starts a pool of worker processes when deployed), the admitted computation runs in
a worker process, not in this page's thread, so it cannot hold up the pages of other visitors; the page
polls the worker's progress, and a cancel or a closed tab kills the worker (a fresh one replaces it).
Cached results never leave this thread: the computation moves only when the engine reaches real work.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import threading
import warnings
from collections import OrderedDict

import streamlit as st

from induction import admission, compute_workers, deploy
from induction.config import InductionError

_CANCELLED = "_induction_cancelled"  # session state: the computations this visitor cancelled (not rerun)
_RATES: dict[int, admission.RateLimit] = {}


class Refused(Exception):
    """A per-visitor limit of the deployed mode: shown as a notice, not an error."""


class Offload(BaseException):
    """Raised at the first heavy section when a worker pool runs computations: the call moves to a worker.
    A BaseException so that no library fallback (`except Exception`) mistakes it for a failure."""


def _offload() -> None:
    raise Offload


def visitor_id() -> str:
    """The Streamlit session id (one visitor, one tab); a constant outside a running server (AppTest)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else "local"


def _rate(per_minute: int) -> admission.RateLimit:
    return _RATES.setdefault(per_minute, admission.RateLimit(per_minute))


_BUSY = ("The server is busy with other visitors' computations; please try again in a minute "
         "(maps already computed still open at once).")


def _check_limits(visitor: str) -> None:
    """The deployed mode's per-visitor rate, before a computation joins the queue (the queue's own limit is
    checked as it is joined: `admission.admitted(max_queue=...)`)."""
    lim = deploy.limits()
    if lim.compute_per_minute is not None:
        wait = _rate(lim.compute_per_minute).allow(visitor)
        if wait > 0:
            raise Refused(f"You have started {lim.compute_per_minute} new computations in the last minute; "
                          f"please wait {math.ceil(wait)} s (maps already computed still open at once).")


def _gate(label: str, key: str, stack: contextlib.ExitStack, *, in_process: bool = True):
    """The wait for a slot, shown in the page: the place in the queue and a cancel button. `in_process`: the
    computation then runs in this thread (no worker pool), with fewer threads and a lower priority."""
    def gate() -> None:
        queue = admission.server_admission()
        visitor = visitor_id()
        _check_limits(visitor)
        box = st.empty()
        shown: list = []

        def on_wait(ticket: admission.Ticket) -> None:
            if not shown:  # the button once per wait (a widget key is used once a run)
                with box.container():
                    shown.append(st.empty())
                    st.button("cancel", key=f"cancel-{key}-{ticket.number}", on_click=_cancel, args=(key,))
            shown[0].info(f"{label}: waiting for a free computation slot, place {ticket.place()} in the queue "
                          f"({queue.slots} run at once; maps already computed open without waiting).")

        try:
            stack.enter_context(admission.admitted(visitor, on_wait, max_queue=deploy.limits().max_queue))
        except admission.QueueFull:
            raise Refused(_BUSY) from None
        box.empty()
        if in_process and deploy.limits().deployed:
            admission.limit_torch_threads(queue.slots)
            admission.deprioritize_this_thread()  # cached views and page serving come first
    return gate


def _in_worker(pool: compute_workers.Pool, label: str, key: str, bar, compute, args: tuple, kwargs: dict,
               progress) -> tuple:
    """Wait for a slot (place shown, cancel offered), then run the call in one of the pool's workers, redrawing
    the bar while it runs: each redraw lets Streamlit stop this run (a cancel, a closed tab), which kills the
    worker and frees the slot."""
    with contextlib.ExitStack() as stack:
        _gate(label, key, stack, in_process=False)()
        box = st.empty()
        stack.callback(box.empty)
        box.button("cancel", key=f"cancel-run-{key}", on_click=_cancel, args=(key,))
        last: list[tuple[int, int]] = []

        def on_progress(done: int, total: int) -> None:
            last[:] = [(done, total)]
            progress(done, total)

        def on_wait() -> None:  # the same bar again, but the redraw lets Streamlit stop this run
            if last:
                progress(*last[0])
            else:
                bar.progress(0.0, text=f"{label}: loading the model (the first time in this worker)…")

        return pool.run(compute, args, kwargs, on_progress=on_progress, on_wait=on_wait, poll_s=0.5)


def _cancel(key: str) -> None:
    st.session_state.setdefault(_CANCELLED, set()).add(key)


def _uncancel(key: str) -> None:
    st.session_state.setdefault(_CANCELLED, set()).discard(key)


def show_error(text: str, *, compact: bool = False) -> None:
    """An error message; `compact` shows its first sentence and the rest on demand (for narrow panels)."""
    text = re.sub(r"use --setup ([\w ]+?)( \(|$)", r"choose the \1 setup in the sidebar\2", text)  # not a CLI flag
    text = re.sub(r"`?--([a-z][\w-]*)`?", r"\1", text)  # any other flag: its setting's name
    head, _, rest = text.partition(": ")
    if compact and rest:
        st.error(head)
        with st.expander("why"):
            st.write(rest)
    else:
        st.error(text)


def computation_key(compute, args: tuple, kwargs: dict) -> str:
    """The one name of a computation that its cancel buttons store and the next run checks (a digest of the call,
    the same in every run and every process)."""
    call = f"{getattr(compute, '__module__', '')}.{getattr(compute, '__name__', compute)!s}{args!r}" \
           f"{sorted(kwargs.items())!r}"
    return hashlib.sha1(call.encode()).hexdigest()[:16]


def cancelled(key: str) -> bool:
    """Whether this visitor cancelled the computation named `key` (and has not asked for it again)."""
    return key in st.session_state.get(_CANCELLED, ())


def run_with_progress(label: str, compute, *args, compact: bool = False, unit: str = "trials", **kwargs):
    """Call `compute(..., progress=cb)` with an st.progress bar; errors show as messages. None on error or when
    the visitor cancelled this computation (until they ask for it again). `unit` names what the bar counts."""
    key = computation_key(compute, args, kwargs)
    if cancelled(key):
        st.info(f"{label}: cancelled.")
        st.button("compute it again", key=f"again-{key}", on_click=_uncancel, args=(key,))
        return None
    from induction.engine import models_in_use

    bar = st.progress(0.0, text=f"{label}: loading the model (the first time in this server)…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done}/{total} {unit}")

    pool = compute_workers.server_pool()
    stack = contextlib.ExitStack()  # the slot, held until the computation ends, however it ends
    try:
        with warnings.catch_warnings(record=True) as caught, stack, models_in_use(), \
                admission.gated(_offload if pool else _gate(label, key, stack)):
            warnings.simplefilter("always")
            notes: list[str] = []
            try:
                result = compute(*args, progress=progress, **kwargs)
            except Offload:  # not in the cache: the rest runs in a worker process, this thread only waits
                result, notes = _in_worker(pool, label, key, bar, compute, args, kwargs, progress)
        for note in dict.fromkeys([*compute_workers.page_notes(caught), *notes]):
            st.warning(note)
        return result
    except Refused as exc:
        st.warning(str(exc))
    except InductionError as exc:
        show_error(str(exc), compact=compact)
    except Exception as exc:
        st.error(f"{label} failed: {type(exc).__name__}: {str(exc)[:300]}" if not deploy.limits().deployed
                 else f"{label} failed; please try other settings.")
    finally:
        bar.empty()
    return None


_KEPT: OrderedDict[str, object] = OrderedDict()  # call_on_model's results in a worker pool server, newest last
_KEPT_LOCK = threading.Lock()
KEEP = 64


def call_on_model(label: str, fn, *args, **kwargs):
    """A page's model-touching call outside the engine's cache (a head's attention, a text occurrence, a text's
    tokens). Without a worker pool: `fn(*args, **kwargs)` here (errors raise, as before). In a server with the
    pool: through the queue and a worker exactly like a map, so the server process never loads a model; the
    results kept here (the 64 most recent), an error shown in the page and None returned."""
    if compute_workers.server_pool() is None:
        return fn(*args, **kwargs)
    key = computation_key(fn, args, kwargs)
    with _KEPT_LOCK:
        if key in _KEPT:
            _KEPT.move_to_end(key)
            return _KEPT[key]
    result = run_with_progress(label, compute_workers.without_progress, fn, *args, **kwargs)
    if result is not None:
        with _KEPT_LOCK:
            _KEPT[key] = result
            while len(_KEPT) > KEEP:
                _KEPT.popitem(last=False)
    return result
