"""The view state: loaded from the URL once per session, kept in `st.session_state`, written back.

Why derived from `ViewState`: the session fields and the URL's are the dataclass's fields,
so adding a field to the view state adds it everywhere at once.
"""

from __future__ import annotations

import streamlit as st

from dashboard.viewstate import PAGE_ONLY, ViewState, from_query
from induction import deploy

FIELDS = ViewState.field_names()


def init_state() -> None:
    """Load the view state from the URL once per session (bad parameters become notices), and again when the
    URL is not the one this app last wrote: the browser's Back or Forward button moved through the history."""
    s = st.session_state
    query = st.query_params.to_dict()
    # an empty query is a page switch (Streamlit drops the query on the way), not a step through the history
    if s.get("_loaded") and (s.get("_written") is None or not query or query == s._written):
        return
    limits = deploy.limits()
    state, notices = from_query(query, allowed_models=limits.allowed_models,
                                max_trials=limits.max_trials, max_segment=limits.max_segment)
    page, again = current_page(), bool(s.get("_loaded"))
    for name in FIELDS:
        if again and page not in PAGE_ONLY.get(name, (page,)):
            continue  # a setting of another page, not in this page's link: kept for that page
        s[name] = getattr(state, name)
    if again:
        s.sel_layer, s.sel_head = state.layer, state.head  # the Layer/Head boxes follow the history too
    s.notices = [*s.get("notices", []), *notices]
    chosen = {name: getattr(state, name) for name in FIELDS if name in query}  # a link is a choice
    s.setdefault("chosen", {}).update(chosen)
    s._loaded = True
    s._written = None


def current_state() -> ViewState:
    s = st.session_state
    return ViewState(**{name: s[name] for name in FIELDS})


def current_page() -> str | None:
    """The url path of the page being run (app.py records it), or None outside the app's navigation."""
    return st.session_state.get("_page")


def sync_url(state: ViewState) -> None:
    """The URL follows the view; each page's link leaves out the settings only other pages read."""
    query = state.to_query(current_page())
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    st.session_state._written = query  # what init_state compares the next URL with


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


def open_page(script: str, url_path: str) -> None:
    """Switch to another page with the view in its link at once: one history entry (the browser's Back returns to
    this page), not a bare page the next run fills in."""
    query = current_state().to_query(url_path)
    st.session_state._page = url_path
    st.session_state._written = query
    st.switch_page(script, query_params=query)
