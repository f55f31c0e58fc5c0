"""Several masks: K tokens masked together; each mask's map, one head's cross view, and the curve over K."""

import streamlit as st

from dashboard import library
from dashboard.maps import clickable_map, run_caption
from dashboard.sidebar import chosen_copy, page_setup, sidebar, title
from dashboard.state import copy_to
from induction.config import MASK_SPANS, MAX_MASKS, head_name
from induction.figures.plots import cross_figure, curve_figure, map_figure

# inputs
state = sidebar()
title("Several masks")
state = page_setup(state)  # a decoder masks nothing: the page says so once and stops; repeat on an encoder: standard
st.caption("The study's open question: mask K tokens of the copy together and read each mask's attention. "
           "*Contiguous*: a run of K neighbours; *scattered*: K tokens with no two adjacent. The map over all "
           "(trial, mask) pairs is the Induction map with K masks; below, each mask on its own.")
a, b = st.columns(2)
st.session_state.w_masks, st.session_state.w_span = state.masks, state.span
a.number_input("Masks (K)", 1, MAX_MASKS, key="w_masks", on_change=chosen_copy("masks", "w_masks"))
b.radio("Span", MASK_SPANS, horizontal=True, key="w_span", on_change=copy_to("span", "w_span"))

# compute
config = library.map_config(state, masks=state.masks, mask_span=state.span)
result = library.get_map(config, f"{state.model} with {state.masks} masks")
if result is None:
    st.stop()

# render: the run first (a screenshot names its model, setup, target, trials and seed); one map per mask
st.caption(run_caption(result, state))
by_mask = result.by_mask(state.target)
top = float(by_mask.max()) or 1.0
for row in range(0, result.masks, 4):
    for k, column in zip(range(row, min(row + 4, result.masks)), st.columns(4), strict=False):
        with column:
            fig = map_figure(by_mask[k], None, title=f"mask {k + 1} of {result.masks}: {state.target}", zmin=0.0,
                             zmax=top, selected=[(state.layer, state.head)] if state.head_selected() else [],
                             narrow=True)
            if k == 0:  # the first map takes clicks
                clickable_map(fig)
            else:
                st.plotly_chart(fig, key=f"mask_map_{k}")
if result.cross is not None and state.head_selected() and state.layer < result.layers and state.head < result.heads:
    st.plotly_chart(cross_figure(result.cross[:, :, state.layer, state.head],
                                 title=f"{head_name(state.layer, state.head)}: joint attention between masks · "
                                       f"{state.model} · {result.trials} trials · seed {state.seed}"))
elif result.cross is not None:
    st.info("Click a head on the first map for its cross view: attention from each mask to every mask's earlier "
            "instance.")
curve_inputs = (config, state.target)
if st.button("Curve over K = 1..8"):
    st.session_state.mask_curve = (curve_inputs, library.get_mask_curve(*curve_inputs))
kept = st.session_state.get("mask_curve")
if kept and kept[0] == curve_inputs and kept[1]:
    curve = kept[1]
    ks = sorted({p["k"] for points in curve.values() for p in points})
    if len(ks) < 2:  # one point is no curve
        st.info(f"Only K = {', '.join(map(str, ks))} fits this model's positions: no curve over K to draw.")
    else:
        st.plotly_chart(curve_figure(ks, {span: ([p["score"] for p in points], [p["sem"] for p in points])
                                          for span, points in curve.items()},
                                     x_title="masks (K)", y_title=f"top head's {state.target} score", x_dtick=1,
                                     title=f"{state.model} · {state.setup} · {state.target} · {state.trials} trials "
                                           f"· seed {state.seed}"))
