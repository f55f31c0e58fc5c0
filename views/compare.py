"""Compare: two maps side by side (two models, setups or seeds) on one colour scale, their difference when the
shapes match, the rank correlation of their heads, and for different depths the alignment by relative depth."""

import numpy as np
import streamlit as st

from dashboard import library
from dashboard.downloads import figures_html
from dashboard.sidebar import kind_of, sidebar, title
from induction.analyses.compare import depth_profile, depth_spearman, spearman
from induction.config import SETUP_TARGETS
from induction.figures.plots import curve_figure, diff_figure, map_figure
from induction.models.kinds import setups_for
from induction.models.registry import KNOWN_MODELS

# inputs: A is the sidebar's view; B differs in model, setup or seed
state = sidebar()
title("Compare")
st.caption("A is the sidebar's view; choose B below. Both maps share one colour scale; the difference is B − A. "
           "Spearman's rho ranks the heads of both maps (1: the same heads score high).")
a_col, b_col, c_col = st.columns(3)
models = list(dict.fromkeys([state.model, *KNOWN_MODELS]))
b_model = a_col.selectbox("B: model", models, key="cmp_model")
b_setups = setups_for(kind_of(b_model) or "encoder")
b_setup = b_col.selectbox("B: setup", b_setups, index=b_setups.index(state.setup) if state.setup in b_setups else 0,
                          key="cmp_setup")
b_seed = c_col.number_input("B: seed", 0, 2**31 - 1, state.seed, key="cmp_seed")
b_target = state.target if state.target in SETUP_TARGETS[b_setup] else SETUP_TARGETS[b_setup][0]

# compute
repeat = dict(protocol="clean", unit="token") if b_setup == "repeat" else {}
first = library.get_map(library.map_config(state), label=f"A: {state.model}")
second = library.get_map(library.map_config(state, model=b_model, setup=b_setup, seed=int(b_seed), **repeat),
                         label=f"B: {b_model}")
if first is None or second is None:
    st.stop()

# render
a_mean, b_mean = first.mean(state.target), second.mean(b_target)
top = 1.0 if not state.rescale else float(max(a_mean.max(), b_mean.max()) or 1.0)
names = (f"A: {state.model} · {state.setup} · {state.target} · seed {state.seed}",
         f"B: {b_model} · {b_setup} · {b_target} · seed {int(b_seed)}")
figures = [map_figure(a_mean, first.sem(state.target), title=names[0], zmin=0.0, zmax=top),
           map_figure(b_mean, second.sem(b_target), title=names[1], zmin=0.0, zmax=top)]
left, right = st.columns(2)
left.plotly_chart(figures[0], key="cmp_a", width="stretch")
right.plotly_chart(figures[1], key="cmp_b", width="stretch")
if a_mean.shape == b_mean.shape:
    diff = diff_figure(b_mean - a_mean, title="B − A")
    figures.append(diff)
    st.plotly_chart(diff, key="cmp_diff", width="stretch")
    rho, label = spearman(a_mean, b_mean), "Spearman rho, head by head"
else:
    profiles = {name.split(" · ")[0]: depth_profile(mean) for name, mean in zip(names, (a_mean, b_mean), strict=True)}
    depth = curve_figure([0.0], {}, x_title="relative depth (layer + 0.5) / layers", y_title="best head's score")
    for name, (xs, ys) in profiles.items():
        depth.add_scatter(x=xs.tolist(), y=ys.tolist(), mode="lines+markers", name=name)
    depth.update_layout(title="each layer's best head along relative depth")
    figures.append(depth)
    st.info(f"The maps differ in shape ({a_mean.shape[0]}x{a_mean.shape[1]} and {b_mean.shape[0]}x"
            f"{b_mean.shape[1]}): no head-by-head difference; the layers are aligned by relative depth instead.")
    st.plotly_chart(depth, key="cmp_depth", width="stretch")
    rho, label = depth_spearman(a_mean, b_mean), "Spearman rho, per-layer best along relative depth"
st.metric(label, "undefined (a constant map)" if np.isnan(rho) else f"{rho:.3f}")
st.caption(f"A: {first.trials} trials, baseline {first.baseline:.4f} · B: {second.trials} trials, baseline "
           f"{second.baseline:.4f}")
st.download_button("Comparison figures (HTML)", figures_html(figures), "compare.html", "text/html")
