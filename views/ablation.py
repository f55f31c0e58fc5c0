"""Ablation: remove heads, recompute the map on the same trials, look for backup heads."""

import dataclasses

import pandas as pd
import streamlit as st

from dashboard import library, maps
from dashboard import state as view
from dashboard.downloads import public, to_json_text
from dashboard.sidebar import page_setup, sidebar, title
from induction.figures.export import file_stem
from induction.figures.plots import diff_figure, map_figure, sweep_figure
from induction.losses import loss_name

# inputs
state = sidebar()
title("Ablation")
state = page_setup(state)  # ablation masks one token a trial: the word unit's view runs on tokens (said once)
st.caption("Click heads on the clean map to add or remove them (or pick them below). Zero ablation removes a "
           "head's output before the output projection; mean ablation replaces it by its mean over the trials.")
clean = library.get_map(library.map_config(state))
if clean is None:
    st.stop()
st.caption(maps.run_caption(clean, state))  # a screenshot names the run
maps.ablation_picker(clean, state.target)  # mode and heads, in sync with clicks and the URL
state = dataclasses.replace(state, ablate=view.current_state().ablate, mode=view.current_state().mode)

# guard
run = f"{state.model} · {state.setup} · {state.target} · {clean.trials} trials · seed {state.seed}"
clean_mean, clean_sem = clean.stats(state.target)
zmin, zmax, null = maps.colour_range(clean_mean, clean.baseline, state.rescale)  # one scale for clean and ablated
if null:
    maps.null_notice(clean.top_heads(state.target, 1)[0], clean.baseline, state.target)
if not state.ablate:
    maps.clickable_map(map_figure(clean_mean, clean_sem, title=f"clean · {run}", zmin=zmin, zmax=zmax,
                                  baseline=clean.baseline), key="ablate_chart", on_select=maps.on_ablate_click)
    st.info("Choose at least one head to ablate.")
    st.stop()

# compute
result = library.get_ablation(library.map_config(state), state.ablate, state.mode)
if result is None:
    st.stop()

# render
left, right = st.columns(2)  # two maps a row: legible down to 800 pixels
with left:
    maps.clickable_map(map_figure(clean_mean, clean_sem, title=f"clean · {run}", selected=state.ablate, zmin=zmin,
                                  zmax=zmax, baseline=clean.baseline), key="ablate_chart",
                       on_select=maps.on_ablate_click)
right.plotly_chart(map_figure(result.ablated(state.target), None, title=f"ablated · {run}", ablated=state.ablate,
                              zmin=zmin, zmax=zmax, baseline=clean.baseline), width="stretch", key="ablated_chart")
left, right = st.columns(2)
left.plotly_chart(diff_figure(result.diff(state.target), result.diff_sem(state.target), ablated=state.ablate,
                              title=f"ablated − clean · {run}"), width="stretch", key="diff_chart")
right.markdown("**Reading the difference.** Heads whose score *rises* once the chosen heads are gone are backup "
               "candidates (red); heads that fall depended on them (blue).")
st.caption("Grey cells with a cross: ablated heads (no score). Red outline: the heads chosen on the clean map. "
           "Hover a cell of the difference for its change ± its standard error over the paired trials.")
loss_label = loss_name(clean.kind).capitalize()  # a decoder's: the next-token loss on the second copy
if result.loss_clean is None:
    st.markdown(f"{loss_label}: not available (no trained MLM head, or the repeat setup, which masks nothing).")
else:
    st.metric(f"{loss_label} on the RRT trials", f"{result.loss_ablated:.3f}",
              f"{result.loss_change:+.3f}"
              + (f" ± {result.loss_change_sem:.3f}" if result.loss_change_sem is not None else "")
              + f" vs clean {result.loss_clean:.3f}", delta_color="inverse")
stem = file_stem("ablation", public({"model": state.model})["model"].removeprefix("local folder "), state.setup,
                 state.target, state.mode, f"{clean.trials}trials", f"seed{state.seed}")
payload = {"model": public({"model": state.model})["model"], "setup": state.setup, "target": state.target,
           "trials": clean.trials, "seed": state.seed, **public(result.to_json())}
st.download_button("Ablation (JSON)", to_json_text(payload), f"{stem}.json", "application/json", key=f"dl_{stem}")

st.subheader("Cumulative sweep")
k = st.slider("Ablate the top 1..k heads of the clean map", 1, min(12, clean.layers * clean.heads), 3, key="sweep_k")
sweep_inputs = (library.map_config(state), state.target, k, state.mode)
if st.button("Run sweep"):
    st.session_state.ablation_sweep = (sweep_inputs, library.get_sweep(*sweep_inputs))
kept = st.session_state.get("ablation_sweep")
rows = kept[1] if kept and kept[0] == sweep_inputs else None  # kept until an input changes
if rows:
    st.plotly_chart(sweep_figure(rows, loss=loss_name(clean.kind), title=f"top-k ablation of {state.target} "
                                 f"({state.mode}) · {run}"), width="stretch", key="sweep_chart")
    if all(r.get("loss") is None for r in rows):
        st.caption(f"No {loss_name(clean.kind)}: no trained MLM head, or the repeat setup, which masks nothing.")
    table = pd.DataFrame(rows).assign(ablated=[", ".join(r["ablated"]) for r in rows]).round(4)
    st.dataframe(table, hide_index=True, width="stretch")
