"""Compare: two maps side by side (two models, setups or seeds) on one colour scale, their difference when the
shapes match, the rank correlation of their heads, and for different depths the alignment by relative depth."""

import numpy as np
import streamlit as st

from dashboard import library, maps
from dashboard import state as view
from dashboard.downloads import figure_downloads, figures_html, public, to_json_text
from dashboard.sidebar import kind_of, sidebar, title
from induction import deploy
from induction.analyses.compare import depth_profile, depth_spearman, rank_degenerate, spearman
from induction.config import MAX_SEED, SETUP_TARGETS
from induction.figures.export import file_stem, for_paper
from induction.figures.plots import compare_figure, curve_figure, diff_figure, map_figure
from induction.models.kinds import setups_for
from induction.models.registry import KNOWN_MODELS


def _copy_b(field: str, widget: str, same):
    """B's box into the view (and so the link); a value equal to A's is kept as "same as A" ("" or None)."""
    def callback() -> None:
        value = st.session_state[widget]
        st.session_state[field] = same if value == getattr(view.current_state(), field[:-1]) else value
    return callback


def _open(side: str, chart: str):
    """A click on either map opens that head's drill-down; on B's map, B becomes the view (and A becomes B)."""
    def callback() -> None:
        head = maps.clicked(chart)
        if not head:
            return
        s = st.session_state
        if side == "B":
            a = (s.model, s.setup, s.seed)
            s.model, s.setup, s.seed, s.target = b_model, b_setup, b_seed, b_target
            s.protocol, s.unit = repeat.get("protocol", s.protocol), repeat.get("unit", s.unit)
            s.model2, s.setup2, s.seed2 = a
        view.select_head(*head)
        s._open_head = True
    return callback


# inputs: A is the sidebar's view; B (in the link as model2, setup2, seed2) differs in model, setup or seed
state = sidebar()
title("Compare")
st.caption("A is the sidebar's view; choose B below. Both maps share one colour scale; the difference is B − A. "
           "Spearman's rho ranks the heads of both maps (1: the same heads score high). Click a head of either "
           "map for its drill-down (a click on B makes B the view).")
s = st.session_state
if not state.model2 and not state.setup2 and state.seed2 is None:  # a first visit: B starts as A's next seed
    s.seed2 = state.seed + 1
    state = view.current_state()
    view.sync_url(state)  # the link carries B from the start
a_col, b_col, c_col = st.columns(3)
b_model = state.model2 or state.model
offered = deploy.limits().allowed_models or tuple(KNOWN_MODELS)  # a deployed server offers its allow-list only
models = list(dict.fromkeys([state.model, b_model, *offered]))
b_setups = setups_for(kind_of(b_model) or "encoder")
b_setup = state.setup2 or state.setup
if b_setup not in b_setups:
    st.caption(f"{b_model} runs only {', '.join(b_setups)}: B runs {b_setups[0]}.")
    b_setup = b_setups[0]
b_seed = state.seed if state.seed2 is None else state.seed2
s.cmp_model, s.cmp_setup, s.cmp_seed = b_model, b_setup, b_seed
a_col.selectbox("B: model", models, key="cmp_model", on_change=_copy_b("model2", "cmp_model", ""))
b_col.selectbox("B: setup", b_setups, key="cmp_setup", on_change=_copy_b("setup2", "cmp_setup", ""))
c_col.number_input("B: seed", 0, MAX_SEED, key="cmp_seed", on_change=_copy_b("seed2", "cmp_seed", None))
b_target = state.target if state.target in SETUP_TARGETS[b_setup] else SETUP_TARGETS[b_setup][0]
if (b_model, b_setup, b_seed) == (state.model, state.setup, state.seed):
    st.info("B is the same run as A: choose another model, setup or seed for B.")
    st.stop()

# compute
repeat = dict(protocol="clean", unit="token") if b_setup == "repeat" else \
    (dict(unit="token") if b_setup != "standard" else {})  # the word unit runs on standard only
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
selected = [(state.layer, state.head)] if state.head_selected() else []
figures = [map_figure(a_mean, first.sem(state.target), title=names[0], zmin=0.0, zmax=top,
                      selected=[h for h in selected if h[0] < first.layers and h[1] < first.heads]),
           map_figure(b_mean, second.sem(b_target), title=names[1], zmin=0.0, zmax=top)]
left, right = st.columns(2)
with left:
    maps.clickable_map(figures[0], key="cmp_a", on_select=_open("A", "cmp_a"))
with right:
    maps.clickable_map(figures[1], key="cmp_b", on_select=_open("B", "cmp_b"))
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
degenerate = rank_degenerate(a_mean, b_mean)
st.metric(label, "undefined" if degenerate or np.isnan(rho) else f"{rho:.3f}")
if degenerate:
    st.caption(f"Spearman rho {degenerate}.")
st.caption(f"A: {first.trials} trials, baseline {first.baseline:.4f} · B: {second.trials} trials, baseline "
           f"{second.baseline:.4f}")

# exports: both maps (and the difference) in one titled figure, the comparison with both runs as JSON
stem = file_stem("compare", state.model, state.setup, f"seed{state.seed}", "vs", b_model, b_setup, f"seed{b_seed}",
                 f"{first.trials}trials")
paper = compare_figure(a_mean, b_mean, names=names, zmin=0.0, zmax=top,
                       diff=b_mean - a_mean if a_mean.shape == b_mean.shape else None)
payload = {"a": public(first.to_json()), "b": public(second.to_json()), "target_a": state.target,
           "target_b": b_target, "spearman": None if degenerate or np.isnan(rho) else float(rho),
           "spearman_kind": label, "spearman_note": degenerate}
figure_downloads(for_paper(paper, f"{names[0]}  vs  {names[1]} · {first.trials} trials"), stem,
                 data=[("Comparison (JSON)", to_json_text(payload), f"{stem}.json", "application/json"),
                       ("Comparison figures (HTML)", figures_html(figures), f"{stem}_panels.html", "text/html")])
if s.pop("_open_head", False):
    view.open_page("views/head.py", "head")
