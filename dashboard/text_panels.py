"""The "Your text" page's pieces: the library calls behind progress, and the tokens as chips."""

from __future__ import annotations

import streamlit as st

from induction.config import InductionError

from .progress import call_on_model, run_with_progress, show_error

DEPLOYED_MAX_CHARS = 5000  # deployed mode: the most text a visitor may paste
LOCAL_MAX_CHARS = 20_000  # otherwise: about 10 s of scoring on a 2-core CPU (a 100 KB paste took 50 s)
CHARS_PER_SECOND = 2000  # what the estimate of a long text's wait assumes (the toy and minilm on 2 cores)


PASTE, DOCUMENT = "paste", "python-docs document"


def on_source_change(first_doc: str) -> None:
    s = st.session_state
    s.doc = "" if s.w_text_source == PASTE else (s.get("w_doc") or first_doc)


def on_doc_change() -> None:
    st.session_state.doc = st.session_state.w_doc


def on_text_change() -> None:
    """The pasted text goes into the link only when it is short (MAX_LINK_TEXT); it always stays in the session."""
    from dashboard.viewstate import MAX_LINK_TEXT

    text = st.session_state.user_text
    st.session_state.text = text if len(text) <= MAX_LINK_TEXT else ""


def get_text_map(config):
    from induction.analyses.text_map import text_map

    return run_with_progress("scoring the text", text_map, config)


@st.cache_data(max_entries=32, show_spinner=False)
def _detail_here(config, occurrence: int, layer: int, head: int):
    from induction.analyses.text_map import text_detail

    return text_detail(config, occurrence, layer, head)


def _detail(config, occurrence: int, layer: int, head: int):
    """Here (cached per server) without a worker pool; through the queue and a worker with one."""
    from induction.analyses.text_map import text_detail
    from induction.compute_workers import server_pool

    if server_pool() is None:
        return _detail_here(config, occurrence, layer, head)
    return call_on_model(f"occurrence #{occurrence}", text_detail, config, occurrence, layer, head)


def occurrence_detail(config, occurrence: int, layer: int, head: int):
    try:
        return _detail(config, occurrence, layer, head)
    except InductionError as exc:
        show_error(str(exc))
        return None


@st.cache_data(max_entries=32, show_spinner=False)
def _tokens_here(config) -> list[list[str]]:
    from induction.analyses.text_map import window_tokens

    return window_tokens(config)


def tokens(config) -> list[list[str]] | None:
    """Each window's tokens (the model's tokenizer): here without a worker pool; through the queue and a worker
    with one, so the server never loads a whole model for its tokenizer (None after an error it showed)."""
    from induction.analyses.text_map import window_tokens
    from induction.compute_workers import server_pool

    if server_pool() is None:
        return _tokens_here(config)
    return call_on_model("the text's tokens", window_tokens, config)


def keep_occurrence_in_range(config, count: int) -> None:
    """A new text (or document, or model) starts at occurrence #0: the picker and the plot never disagree."""
    s = st.session_state
    if s.get("_text_config") != config or s.get("text_occurrence", 0) >= count:
        s.text_occurrence = 0
    s._text_config = config


def wait_note(chars: int, heads: int = 4) -> str | None:
    """About how long a long text takes to score, said before it runs (None for a short one). The rate is the toys'
    (4 heads) on 2 cores, slower in proportion for a model with more heads (minilm's 72: 13.7 s for 7,000)."""
    if chars <= DEPLOYED_MAX_CHARS:
        return None
    seconds = chars / CHARS_PER_SECOND * max(1.0, (heads / 4) ** 0.5)
    return f"A long text ({chars:,} characters): scoring takes about {seconds:.0f} s on this machine's CPU."


def intro(kind: str) -> str:
    """What the page scores, in the words of the model's kind (a decoder masks nothing and has its own targets)."""
    if kind == "causal":
        return ("Every token that already appeared at least *min distance* tokens earlier (in the same window of the "
                "model's positions) is a query; nothing is masked, and a decoder sees only earlier tokens. A head's "
                "score is its attention to the token after the earlier occurrence (`induction`, what an induction "
                "head reads), to the earlier occurrence itself (`duplicate`) or to the token just before the query "
                "(`previous_token`).")
    return ("Every token that already appeared at least *min distance* tokens earlier (in the same window of the "
            "model's positions) is masked alone; a head's score is its attention to the earlier occurrence "
            "(`earlier`), the token after it (`earlier_next`, what an induction head reads) or before it.")


def on_token_click() -> None:
    """A click on a repeated token masks that occurrence."""
    points = (st.session_state.get("text_tokens") or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata") and int(points[0]["customdata"][0]) >= 0:
        st.session_state.text_occurrence = int(points[0]["customdata"][0])
