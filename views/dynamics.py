"""Training dynamics: watch induction heads form. The series trained here show the phase change offline (every
head's score, the training and late-token losses and the ICL score against step); other series are read from the
cache a sweep filled. A click on a checkpoint opens its map."""

import pandas as pd
import streamlit as st

from dashboard import library
from dashboard.maps import clicked_data
from dashboard.sidebar import fit_to_model, kind_of, sidebar, title
from induction.analyses.dynamics import ICL_LENGTHS, loss_curve, series_models
from induction.config import SETUP_TARGETS, InductionError, MapConfig, head_name
from induction.figures.plots import dynamics_figure
from induction.figures.roles import mechanism_figure
from induction.figures.training import phase_change_figure
from induction.models.kinds import setups_for
from induction.training.series import SERIES, shipped_series
from induction.trials.corpus import PYTHON_DOCS_HELD_OUT

OTHER = "another series (a folder, or MultiBERTs)"


def _open_checkpoint() -> None:
    """A click on a checkpoint's point: that checkpoint becomes the model, and the map page opens."""
    data = clicked_data("dyn_chart")
    if data and isinstance(data[0], str):
        s = st.session_state
        s.model, s.custom_model, s.w_model_custom = data[0], True, data[0]
        s.layer = s.head = None
        fit_to_model(restore=True)
        s.open_map = True


# inputs
state = sidebar()
if st.session_state.pop("open_map", False):
    st.switch_page("views/map.py")
title("Training dynamics")
shipped = [name for name in SERIES if shipped_series(name).is_dir()]
st.info("**What works here.** The series trained here from scratch "
        f"({', '.join(f'`{n}`' for n in shipped) or 'none in this install'}) work offline: their maps and ICL "
        "scores are computed on demand (seconds), beside the training log. Another series is read from the cache: "
        "a folder of `step_N` checkpoint folders, or the MultiBERTs checkpoints (they need the Hugging Face Hub), "
        "after `induction sweep --models …`. A single model is not a series: its map is on the Induction map page.")
choice = st.selectbox("Series", [*shipped, OTHER], key="dyn_choice",
                      help="trained-gpt: a Llama-style decoder; trained-bert: a RoFormer masked LM; both trained here "
                           "(`induction train`, docs/training.md)")
spec = choice
if choice == OTHER:
    spec = st.text_input("Checkpoints", "multiberts:seeds=0-4:steps=all", key="dyn_series",
                         help="a sweep's --models (multiberts:seeds=0-4:steps=all), or a folder of step_N checkpoints")

# guard
try:
    models = series_models(spec)
except InductionError as exc:
    st.error(str(exc))
    st.stop()
trained_here = spec in shipped
kind = kind_of(spec) or "encoder"
setup, target = state.setup, state.target
if setup not in setups_for(kind):
    setup = setups_for(kind)[0]
    target = SETUP_TARGETS[setup][0]
head = (state.layer, state.head) if state.head_selected() else None
template = MapConfig(setup=setup, protocol=state.protocol if kind != "causal" else "clean", trials=state.trials,
                     seed=state.seed, segment=state.segment)
what = "decoder" if kind == "causal" else "encoder"
st.caption(f"{len(models)} checkpoints · setup {setup} · target **{target}** · {state.trials} trials · seed "
           f"{state.seed}" + (f" (a {what}: the sidebar's {state.setup} setup does not run on it)"
                              if setup != state.setup else ""))

# compute
result = library.get_dynamics(models, template, target, head, compute=trained_here)
if result is None:
    st.stop()
if not result["rows"]:
    st.info(f"None of the {len(models)} checkpoints is in the cache yet. Fill it with:\n\n"
            f"`induction sweep --models {spec} --setups {setup} --seeds {state.seed} "
            f"--protocol {template.protocol} --trials {state.trials}"
            + (f" --segment {state.segment}`" if state.segment else "`"))
    st.stop()
curve = loss_curve(spec)
icl = library.get_icl_series(models) if trained_here else None

# render
appears = result["appears"]
if trained_here:
    st.plotly_chart(phase_change_figure(result["rows"], target=target, curve=curve, icl=icl, appears=appears,
                                        title=f"{spec}: the phase change"),
                    key="dyn_chart", on_select=_open_checkpoint, selection_mode="points", width="stretch")
    st.caption("Top: each head's score against step (dotted: the uniform baseline); middle: the training loss over "
               "every target and over the late tokens only an earlier instance predicts; bottom: the ICL gain "
               "of each checkpoint, the loss a longer context saves (positive when context helps; "
               f"{icl[0]['definition'] if icl else 'not computed'}, sign turned so; {ICL_LENGTHS[1]} tokens is "
               "what the trained models' 64 positions hold"
               + (f"; {icl[0]['trials']} documents of {icl[0]['corpus']}, paragraphs of python-docs topics the "
                  "model never trained on" if icl and icl[0]["corpus"] == PYTHON_DOCS_HELD_OUT else "")
               + "). Click a checkpoint's point to open its map.")
else:
    name = head_name(*head) if head else None
    st.plotly_chart(dynamics_figure(result["rows"], appears, head_name=name, title=f"{target} against training step"),
                    width="stretch", key="dyn_chart_cached")
formed = ", ".join(f"seed {s}: step {a}" for s, a in appears.items() if a is not None)
st.markdown(f"Induction heads appear (best head at half its highest score): {formed or 'not in this series'}")
if result["missing"]:
    st.caption(f"{len(result['missing'])} of {len(models)} checkpoints are not in the cache (or cannot be described "
               "here) and are left out.")
table = pd.DataFrame([{k: v for k, v in r.items() if k != "scores"} for r in result["rows"]])
if icl:
    table["icl_gain"] = [p["gain"] for p in icl][:len(table)]
st.dataframe(table.round(4), hide_index=True, width="stretch")
if trained_here:
    st.subheader("The mechanism forming")
    mechanism = library.get_mechanism(spec, state.trials, state.seed)
    if mechanism is not None:
        st.plotly_chart(mechanism_figure(mechanism, title=f"{spec}: the induction circuit against training step"),
                        key="dyn_mechanism", width="stretch")
        ind = head_name(*mechanism.induction_head)
        sources = ", ".join(head_name(*h) for h in mechanism.previous_token_heads) or "none"
        st.caption(f"The final checkpoint names the heads: induction head **{ind}** (its best prefix matching), "
                   f"previous-token heads **{sources}**. Beside {ind}'s prefix-matching score: its OV copying score "
                   "and the K-composition from each previous-token head into it (TransformerLens's conventions"
                   + (f"; rotary, so W_QK at {mechanism.rotary}" if mechanism.rotary else "")
                   + f"), against random matrices of the same shapes ({mechanism.random_mean:.3f} ± "
                   f"{mechanism.random_sd:.3f}; dashed: mean + 3 sd). Dotted: the step the induction head appears "
                   f"({mechanism.appears}). `induction roles --series {spec}` prints the same table.")
        st.dataframe(pd.DataFrame([{"step": r["step"], "prefix_matching": r["prefix_matching"],
                                    "copying": r["copying"], **{f"K {e['from']}→{ind}": e["K"]
                                                                for e in r["k_composition"]}}
                                   for r in mechanism.rows]).round(4), hide_index=True, width="stretch")
