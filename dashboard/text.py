"""The "Your text" page's pieces: the library calls behind progress, and the tokens as chips."""

from __future__ import annotations

import html

import streamlit as st

from induction.config import InductionError

from .progress import run_with_progress, show_error

CHIPS_SHOWN = 600
DEPLOYED_MAX_CHARS = 5000  # deployed mode: the most text a visitor may paste


PASTE, DOCUMENT = "paste", "python-docs document"


def on_source_change(first_doc: str) -> None:
    s = st.session_state
    s.doc = "" if s.w_text_source == PASTE else (s.get("w_doc") or first_doc)


def on_doc_change() -> None:
    st.session_state.doc = st.session_state.w_doc


def on_text_change() -> None:
    """The pasted text goes into the link only when it is short (MAX_LINK_TEXT); it always stays in the session."""
    from induction.viewstate import MAX_LINK_TEXT

    text = st.session_state.user_text
    st.session_state.text = text if len(text) <= MAX_LINK_TEXT else ""


def get_text_map(config):
    from induction.textmap import text_map

    return run_with_progress("scoring the text", text_map, config)


@st.cache_data(max_entries=32, show_spinner=False)
def _detail(config, occurrence: int, layer: int, head: int):
    from induction.textmap import text_detail

    return text_detail(config, occurrence, layer, head)


def occurrence_detail(config, occurrence: int, layer: int, head: int):
    try:
        return _detail(config, occurrence, layer, head)
    except InductionError as exc:
        show_error(str(exc))
        return None


@st.cache_data(max_entries=32, show_spinner=False)
def tokens(config) -> list[list[str]]:
    from induction.textmap import window_tokens

    return window_tokens(config)


def chips(windows: list[list[str]], occurrences: list[dict], selected: int | None) -> str:
    """The text's tokens as chips: repeated tokens orange, their earlier occurrences light orange, the
    selected occurrence red. At most CHIPS_SHOWN tokens."""
    repeat = {(o["window"], o["position"]) for o in occurrences}
    earlier = {(o["window"], o["earlier"]) for o in occurrences}
    chosen = occurrences[selected] if selected is not None else None
    out, shown = [], 0
    for w, window in enumerate(windows):
        for i, token in enumerate(window):
            if shown >= CHIPS_SHOWN:
                out.append(f"<i>… {sum(map(len, windows)) - shown} more tokens</i>")
                return _wrap(out)
            colour = "#eee"
            if (w, i) in earlier:
                colour = "#ffd9a8"
            if (w, i) in repeat:
                colour = "#ff9f40"
            if chosen and (w, i) == (chosen["window"], chosen["position"]):
                colour = "#ff4b4b"
            out.append(f'<span style="background:{colour};border-radius:4px;padding:1px 4px;margin:1px;'
                       f'display:inline-block;font-family:monospace">{html.escape(token)}</span>')
            shown += 1
    return _wrap(out)


def _wrap(parts: list[str]) -> str:
    return '<div style="line-height:1.9">' + "".join(parts) + "</div>"
