"""Run a library call behind a progress bar; errors become messages and the server stays up."""

from __future__ import annotations

import re
import warnings

import streamlit as st

from induction import deploy
from induction.cache import CacheWriteWarning
from induction.config import InductionError


def show_error(text: str, *, compact: bool = False) -> None:
    """An error message; `compact` shows its first sentence and the rest on demand (for narrow panels)."""
    text = re.sub(r"use --setup ([\w ]+?)( \(|$)", r"choose the \1 setup in the sidebar\2", text)  # not a CLI flag
    head, _, rest = text.partition(": ")
    if compact and rest:
        st.error(head)
        with st.expander("why"):
            st.write(rest)
    else:
        st.error(text)


def run_with_progress(label: str, compute, *args, compact: bool = False, **kwargs):
    """Call `compute(..., progress=cb)` with an st.progress bar; errors show as messages. None on error."""
    bar = st.progress(0.0, text=f"{label}: loading the model (the first time in this server)…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done}/{total} trials")

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CacheWriteWarning)
            result = compute(*args, progress=progress, **kwargs)
        for w in caught:
            if issubclass(w.category, CacheWriteWarning):
                st.warning(str(w.message))
        return result
    except InductionError as exc:
        show_error(str(exc), compact=compact)
    except Exception as exc:
        st.error(f"{label} failed: {type(exc).__name__}: {str(exc)[:300]}" if not deploy.limits().deployed
                 else f"{label} failed; please try other settings.")
    finally:
        bar.empty()
    return None
