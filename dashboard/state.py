"""The view state: loaded from the URL once per session, kept in `st.session_state`, written back.

Why derived from `ViewState`: the session fields and the URL's are the dataclass's fields,
so adding a field to the view state adds it everywhere at once.
"""

from __future__ import annotations

import streamlit as st

from dashboard.viewstate import ViewState, from_query
from induction import deploy

FIELDS = ViewState.field_names()


def init_state() -> None:
    """Load the view state from the URL once per session; bad parameters become notices."""
    if st.session_state.get("_loaded"):
        return
    limits = deploy.limits()
    state, notices = from_query(st.query_params.to_dict(), allowed_models=limits.allowed_models,
                                max_trials=limits.max_trials, max_segment=limits.max_segment)
    for name in FIELDS:
        st.session_state[name] = getattr(state, name)
    st.session_state.notices = notices
    query = st.query_params.to_dict()
    st.session_state.chosen = {name: getattr(state, name) for name in FIELDS if name in query}  # a link is a choice
    st.session_state._loaded = True


def current_state() -> ViewState:
    s = st.session_state
    return ViewState(**{name: s[name] for name in FIELDS})


def sync_url(state: ViewState) -> None:
    query = state.to_query()
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def copy_to(field: str, widget: str):
    """A widget callback that copies the widget's value into the view state."""

    def callback() -> None:
        st.session_state[field] = st.session_state[widget]

    return callback


def select_head(layer: int, head: int) -> None:
    st.session_state.layer, st.session_state.head = int(layer), int(head)


def clear_head() -> None:
    """No head selected, and the Layer/Head boxes say so (a stale box would swallow the next pick of its value)."""
    st.session_state.layer = st.session_state.head = None
    st.session_state.sel_layer = st.session_state.sel_head = None
    st.session_state.ablate = ()
