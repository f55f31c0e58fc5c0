"""The Effects page's clicks: a click on a head (scatter or effect map) opens that head's drill-down."""

from __future__ import annotations

import streamlit as st

from induction.config import parse_head

from .maps import clicked
from .state import open_page, select_head

NO_PAIR = "(none)"


def on_pair_change() -> None:
    choice = st.session_state.w_pair
    st.session_state.pair = None if choice == NO_PAIR else parse_head(choice)


def effect_click(chart_key: str):
    def callback() -> None:
        head = clicked(chart_key)
        if head:
            select_head(*head)
            st.session_state.open_head = True

    return callback


def open_clicked_head() -> None:
    """Switch to the drill-down page after a click (a callback itself cannot switch pages)."""
    if st.session_state.pop("open_head", False):
        open_page("views/head.py", "head")
