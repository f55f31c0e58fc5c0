"""Setups: standard, shuffled and triple for one model, each target a panel (the study's Figures 3 and 4)."""

import streamlit as st

from dashboard import library
from dashboard.sidebar import sidebar, title
from induction.config import SETUP_TARGETS, SETUPS
from induction.plots import map_figure

# inputs
state = sidebar()
title("Setups")
st.caption(f"{state.model} · {state.protocol} protocol · {state.trials} trials · one colour scale (0..1)")

# guard + compute + render
for setup in SETUPS:
    st.subheader(setup)
    result = library.get_map(library.map_config(state, setup=setup), label=f"{state.model} {setup}")
    if result is None:
        continue
    for column, target in zip(st.columns(len(SETUP_TARGETS[setup])), SETUP_TARGETS[setup], strict=True):
        mean, sem = result.stats(target)
        with column:
            st.markdown(f"**{target}** · best {result.top_heads(target, 1)[0].name} {mean.max():.2f}")
            st.plotly_chart(map_figure(mean, sem), key=f"setup_{setup}_{target}", width="stretch")
