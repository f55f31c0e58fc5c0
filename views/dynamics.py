"""Training dynamics: does an encoder have an induction phase change? Scores against training step, from the cache."""

import pandas as pd
import streamlit as st

from dashboard.sidebar import sidebar, title
from induction.analyses.dynamics import dynamics, series_models
from induction.config import InductionError, MapConfig, head_name
from induction.figures.plots import dynamics_figure

# inputs
state = sidebar()
title("Training dynamics")
st.info("**What works here.** This page reads checkpoint maps from the cache; it computes nothing. The released "
        "MultiBERTs checkpoints need the Hugging Face Hub (or its local cache) and a `python -m induction sweep` "
        "first. Offline, the toy's own training run works: `python -m induction.toys.toy_bert --checkpoints DIR`, "
        "then `python -m induction sweep --models DIR/step_…` (or the folder), then type DIR below. A single model "
        "(toy, minilm) is not a series: its map is on the Induction map page.")
st.caption("One line per training seed: the best head's score (and the selected head's) at each checkpoint, for "
           f"the sidebar's setup ({state.setup}), target **{state.target}**, protocol, trials and seed. Read from "
           "the cache: fill it with `python -m induction sweep` (optionally on a Ray cluster).")
spec = st.text_input("Checkpoints", "multiberts:seeds=0-4:steps=all", key="dyn_series",
                     help="a sweep's --models (multiberts:seeds=0-4:steps=all), or a folder of step_N checkpoints "
                          "such as the toy's training run (python -m induction.toys.toy_bert --checkpoints ...)")

# guard + compute (cache reads only)
try:
    models = series_models(spec)
except InductionError as exc:
    st.error(str(exc))
    st.stop()
head = (state.layer, state.head) if state.head_selected() else None
template = MapConfig(setup=state.setup, protocol=state.protocol, trials=state.trials, seed=state.seed,
                     segment=state.segment)
result = dynamics(models, template, state.target, head)
if not result["rows"]:
    st.info(f"None of the {len(models)} checkpoints is in the cache yet. Fill it with:\n\n"
            f"`python -m induction sweep --models {spec} --setups {state.setup} --seeds {state.seed} "
            f"--protocol {state.protocol} --trials {state.trials}"
            + (f" --segment {state.segment}`" if state.segment else "`"))
    st.stop()

# render
name = head_name(*head) if head else None
st.plotly_chart(dynamics_figure(result["rows"], result["appears"], head_name=name,
                                title=f"{state.target} against training step"), width="stretch", key="dyn_chart")
appears = ", ".join(f"seed {s}: step {a}" for s, a in result["appears"].items() if a is not None)
st.markdown(f"Induction heads appear (best head at half its highest score): {appears or 'not in this series'}")
if result["missing"]:
    st.caption(f"{len(result['missing'])} of {len(models)} checkpoints are not in the cache (or cannot be described "
               "here) and are left out.")
st.dataframe(pd.DataFrame(result["rows"]).round(4), hide_index=True, width="stretch")
