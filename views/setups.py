"""Setups: standard, shuffled and triple for one model, each target a panel (the study's Figures 3 and 4)."""

import streamlit as st

import widgets
from induction.config import SETUP_TARGETS, SETUPS
from induction.plots import map_figure

# inputs
state = widgets.sidebar()
st.title("Setups")
st.caption(f"{state.model} · {state.protocol} protocol · {state.trials} trials · one colour scale (0..1)")

# guard + compute + render
for setup in SETUPS:
    st.subheader(setup)
    result = widgets.get_map(widgets.map_config(state, setup=setup), label=f"{state.model} {setup}")
    if result is None:
        continue
    for column, target in zip(st.columns(len(SETUP_TARGETS[setup])), SETUP_TARGETS[setup]):
        mean, sem = result.stats(target)
        with column:
            st.markdown(f"**{target}** · best {result.top_heads(target, 1)[0]['head']} {mean.max():.2f}")
            st.plotly_chart(map_figure(mean, sem), key=f"setup_{setup}_{target}", width="stretch")
