"""Induction map: layers x heads for one model, setup and target; click a head to drill down."""

import pandas as pd
import streamlit as st

import drilldown
import widgets
from induction.plots import map_figure

# inputs
state = widgets.sidebar()
st.title("Induction map")
st.caption(f"{state.model} · {state.setup} setup · {state.protocol} protocol · target **{state.target}** · "
           f"{state.trials} trials · seed {state.seed}")

# guard + compute
result = widgets.get_map(widgets.map_config(state))
if result is None:
    st.stop()

# render
mean, sem = result.stats(state.target)
zmin, zmax = (float(mean.min()), float(mean.max())) if state.rescale else (0.0, 1.0)
selected = [(state.layer, state.head)] if state.head_selected() else []
fig = map_figure(mean, sem, zmin=zmin, zmax=zmax, selected=selected)
left, right = st.columns([3, 1])
with left:
    widgets.clickable_map(fig)
with right:
    st.markdown(f"**Top heads** ({result.trials} trials, baseline {result.baseline:.4f})")
    st.dataframe(pd.DataFrame(result.top_heads(state.target, 10))[["head", "score", "sem", "x_baseline"]].round(4),
                 hide_index=True, width="stretch")
    best = result.top_heads(state.target, 1)[0]
    st.markdown(f"Best head: **{best['head']}** {best['score']:.4f} ± {best['sem']:.4f}")
    st.caption(("cached" if result.cached else "computed") + f" in {result.elapsed_s:.2f}s")
widgets.downloads(result, state.target, fig)
drilldown.head_pickers(result.layers, result.heads)
drilldown.drilldown(widgets.current_state(), result)
