"""Effects: is the head used? Each head's effect on the loss (masked-token; a decoder's next-token) beside its
attention score."""

import numpy as np
import streamlit as st

from dashboard import library, maps
from dashboard.downloads import public, to_json_text
from dashboard.effects_panels import NO_PAIR, effect_click, on_pair_change, open_clicked_head
from dashboard.maps import clickable_map
from dashboard.sidebar import page_setup, sidebar, title
from dashboard.state import copy_to
from induction.config import ABLATION_MODES, head_name
from induction.figures.export import file_stem
from induction.figures.plots import attention_vs_effect, effect_figure, map_figure
from induction.losses import loss_name

# inputs
state = sidebar()
open_clicked_head()  # a click on the scatter or the effect map opens that head's drill-down
title("Effects")
state = page_setup(state)  # an encoder's repeat setup masks nothing, so no loss: its standard setup (said once)
no_head = library.mlm_note(state.model)
if no_head:  # said before any button or cost: there is no loss to read
    st.info(f"Effects read the model's loss, and {state.model} has none: {no_head}. Its attention maps work on the "
            "other pages.")
    st.stop()
clean = library.get_map(library.map_config(state))
if clean is None:
    st.stop()
run = f"{state.model} · {state.setup} · {state.target} · {clean.trials} trials · seed {state.seed}"
st.caption(maps.run_caption(clean, state))
st.caption(f"Attention is not use. A head's **effect** is the {loss_name(clean.kind)} on the same RRT trials with "
           "that head alone ablated, minus the loss without it (nats; positive = the model relies on the head).")
names = [NO_PAIR] + [head_name(l, h) for l in range(clean.layers) for h in range(clean.heads)]
pair_head = state.pair if state.pair and head_name(*state.pair) in names else None
a, b = st.columns(2)
st.session_state.w_effect_mode, st.session_state.w_pair = state.mode, head_name(*pair_head) if pair_head else NO_PAIR
a.radio("Ablation", ABLATION_MODES, horizontal=True, key="w_effect_mode", on_change=copy_to("mode", "w_effect_mode"))
b.selectbox("Ablate first (backup heads)", names, key="w_pair", on_change=on_pair_change)

# guard + compute: shown from the cache when it is there; computing is one click
config = library.map_config(state)
result = library.cached_effects(config, state.mode, pair_head)
if result is None and st.button("Compute effects", type="primary"):
    result = library.get_effects(config, state.mode, pair_head)
if result is None:
    st.info(f"The effects of all {clean.layers * clean.heads} heads cost about "
            f"{clean.heads * (clean.layers + 1) / 2:.0f}x the forward passes of the map; cached once computed.")
    st.stop()

# render
score = clean.mean(state.target)
gone = [result.pairs_with] if result.pairs_with else []  # ablated in every run: no effect of its own
own = result.effect.copy()
for l, h in gone:
    own[l, h] = float("nan")
used = 0.1 * max(float(np.nanmax(own)) if np.isfinite(own).any() else 0.0, 1e-6)
left, right = st.columns(2)
with left:
    st.plotly_chart(map_figure(score, clean.sem(state.target), title=f"attention: {run}"), width="stretch",
                    key="effect_attention")
with right:
    clickable_map(effect_figure(result.effect, result.effect_sem, title=f"effect on the loss · {run}", ablated=gone),
                  key="effect_map",
                  on_select=effect_click("effect_map"))
scatter = attention_vs_effect(score, result.effect, result.effect_sem, baseline=clean.baseline, used=used,
                              title=f"attention against effect · {run}", loss=loss_name(clean.kind), ablated=gone)
st.plotly_chart(scatter, key="effect_scatter", on_select=effect_click("effect_scatter"), selection_mode="points",
                width="stretch")
base = f"; with {head_name(*result.pairs_with)} ablated {result.loss_base:.4f}" if result.pairs_with else ""
st.caption(f"clean loss {result.loss_clean:.4f}{base} · {result.trials} trials · {result.mode} ablation · "
           f"{result.path} capture path · "
           + ("from the cache" if result.cached else f"computed in {result.elapsed_s:.1f}s"))
stem = file_stem("effects", public({"model": state.model})["model"].removeprefix("local folder "), state.setup,
                 state.target, result.mode, f"{result.trials}trials", f"seed{state.seed}")
payload = {"model": public({"model": state.model})["model"], "setup": state.setup, "target": state.target,
           "trials": result.trials, "seed": state.seed, **public(result.to_json())}
st.download_button("Effects (JSON)", to_json_text(payload), f"{stem}.json", "application/json", key=f"dl_{stem}")
