"""Setups: standard, shuffled and triple for one model, each target a panel (the study's Figures 3 and 4), and
repeat (nothing masked, every token of the second copy a query: the one setup a decoder runs)."""

import streamlit as st

from dashboard import library
from dashboard.sidebar import kind_of, sidebar, title
from induction.config import SETUP_TARGETS, SIGNAL_RATIO
from induction.figures.plots import map_figure
from induction.models.kinds import setups_for

# inputs
state = sidebar()
title("Setups")
st.caption(f"{state.model} · {state.protocol} protocol · {state.trials} trials · one colour scale (0..1)")

setups = setups_for(kind_of(state.model) or "encoder")

# guard + compute + render
for setup in setups:
    st.subheader(setup)
    repeat = dict(protocol="clean", unit="token") if setup == "repeat" else {}  # repeat: ordinary tokens, no mask
    result = library.get_map(library.map_config(state, setup=setup, **repeat), label=f"{state.model} {setup}")
    if result is None:
        continue
    for column, target in zip(st.columns(len(SETUP_TARGETS[setup])), SETUP_TARGETS[setup], strict=True):
        mean, sem = result.stats(target)
        with column:
            best = result.top_heads(target, 1)[0]
            st.markdown(f"**{target}** · best {best.name} {best.score:.3f}" if best.ratio >= SIGNAL_RATIO else
                        f"**{target}** · no head above {SIGNAL_RATIO:g}x uniform (best {best.score:.4f})")
            st.plotly_chart(map_figure(mean, sem), key=f"setup_{setup}_{target}", width="stretch")
