"""Training dynamics: watch induction heads form. The series trained here show the phase change offline (every
head's score, the training and late-token losses and the ICL score against step); other series are read from the
cache a sweep filled. A click on a checkpoint opens its map, with the clicked head selected."""

import pandas as pd
import streamlit as st

from dashboard import library
from dashboard.maps import clicked_data
from dashboard.pagestate import fit
from dashboard.sidebar import _defaults, fit_to_model, kind_of, sidebar, title
from dashboard.state import open_page, select_head
from induction.analyses.dynamics import ICL_LENGTHS, loss_curve, series_models
from induction.config import SIGNAL_RATIO, InductionError, MapConfig, head_name
from induction.figures.plots import dynamics_figure
from induction.figures.roles import mechanism_figure
from induction.figures.training import depth_curves_figure, phase_change_figure
from induction.models.registry import spec_of
from induction.training.series import SERIES, shipped_series
from induction.trials.corpus import PYTHON_DOCS_HELD_OUT

OTHER = "another series (a folder, or MultiBERTs)"


def _open_checkpoint() -> None:
    """A click on a checkpoint's point: that checkpoint (by name, `trained-gpt@step_500`) becomes the model, the
    clicked head is selected, and the map page opens."""
    data = clicked_data("dyn_chart")
    if data and isinstance(data[0], str):
        s = st.session_state
        s.model, s.custom_model = data[0], False
        s.layer = s.head = None
        fit_to_model(restore=True)
        if len(data) >= 4 and data[2] is not None:
            select_head(int(data[2]), int(data[3]))
        s.open_map = True


def series_setup(series_kind: str, view_kind: str | None, setup: str, target: str) -> tuple[str, str, str | None]:
    """(setup, target, note) a series is scored with: the view's when its model is of the series' kind and the
    series runs it, else the series' kind's default (the note says so, once)."""
    if view_kind == series_kind:
        fitted = fit("dynamics", series_kind, setup, target)
        return fitted.setup, fitted.target, fitted.note
    default = _defaults(series_kind)
    what = "a decoder" if series_kind == "causal" else "an encoder"
    note = None if (default["setup"], default["target"]) == (setup, target) else \
        f"the series is {what}: scored with its own {default['setup']} setup, target {default['target']}"
    return default["setup"], default["target"], note


# inputs (a click on a checkpoint opens its map before this page writes its own link: one history entry)
if st.session_state.pop("open_map", False):
    open_page("views/map.py", "map")
state = sidebar()
title("Training dynamics")
shipped = [name for name in SERIES if shipped_series(name).is_dir()]
st.info("**What works here.** The series trained here from scratch "
        f"({', '.join(f'`{n}`' for n in shipped) or 'none in this install'}) work offline: their maps and ICL "
        "scores are computed on demand (seconds), beside the training log. Another series is read from the cache: "
        "a folder of `step_N` checkpoint folders, or the MultiBERTs checkpoints (they need the Hugging Face Hub), "
        "once a sweep of it has filled the cache. A single model is not a series: its map is on the Induction map "
        "page.")
own = next((n for n in shipped if n == state.model.partition("@")[0]), None)  # the view's model is a series
s = st.session_state
if own and s.get("_dyn_model") != state.model:  # a link or a model switch to a series: its series is shown
    s.dyn_choice = own
s._dyn_model = state.model
choice = st.selectbox("Series", [*shipped, OTHER], key="dyn_choice",
                      help="trained-gpt: a Llama-style decoder; trained-bert: a RoFormer masked LM; both trained here "
                           "(docs/training.md)")
spec = choice
if choice == OTHER:
    spec = st.text_input("Checkpoints", "multiberts:seeds=0-4:steps=all", key="dyn_series",
                         help="a sweep's models (multiberts:seeds=0-4:steps=all), or a folder of step_N checkpoints")

# guard
try:
    models = series_models(spec)
except InductionError as exc:
    st.error(str(exc))
    st.stop()
trained_here = spec in shipped
kind = (spec_of(spec).kind if spec_of(spec) else None) or kind_of(models[0]) or "encoder"
setup, target, note = series_setup(kind, kind_of(state.model) or library.model_kind(state.model), state.setup,
                                   state.target)
if note:
    st.info(f"{spec}: {note}.")
head = (state.layer, state.head) if state.head_selected() else None
template = MapConfig(setup=setup, protocol=state.protocol if kind != "causal" else "clean", trials=state.trials,
                     seed=state.seed, segment=state.segment)
st.caption(f"{spec} · {len(models)} checkpoints · setup {setup} · target **{target}** · {state.trials} trials · "
           f"seed {state.seed}")

# compute
result = library.get_dynamics(models, template, target, head, compute=trained_here)
if result is None:
    st.stop()
if not result["rows"]:
    st.info(f"None of the {len(models)} checkpoints is in the cache yet: a sweep of this series from the command "
            f"line fills it (setup {setup}, seed {state.seed}, the {template.protocol} protocol, {state.trials} "
            "trials; docs/dashboard.md).")
    st.stop()
curve = loss_curve(spec)
icl = library.get_icl_series(models) if trained_here else None

# render
appears = result["appears"]
run = f"{spec} · {setup} · {target} · {state.trials} trials · seed {state.seed}"
if trained_here:
    st.plotly_chart(phase_change_figure(result["rows"], target=target, curve=curve, icl=icl, appears=appears,
                                        title=f"the phase change · {run}"),
                    key="dyn_chart", on_select=_open_checkpoint, selection_mode="points", width="stretch")
    st.caption("Top: each head's score against step (dotted: the uniform baseline); middle: the training loss over "
               "every target and over the late tokens only an earlier instance predicts; bottom: the ICL gain "
               "of each checkpoint, the loss a longer context saves (positive when context helps; "
               f"{icl[0]['definition'] if icl else 'not computed'}, sign turned so; {ICL_LENGTHS[1]} tokens is "
               "what the trained models' 64 positions hold"
               + (f"; {icl[0]['trials']} documents of {icl[0]['corpus']}, paragraphs of python-docs topics the "
                  "model never trained on" if icl and icl[0]["corpus"] == PYTHON_DOCS_HELD_OUT else "")
               + "). Click a head's point to open that checkpoint's map with the head selected.")
else:
    name = head_name(*head) if head else None
    st.plotly_chart(dynamics_figure(result["rows"], appears, head_name=name, title=f"{target} against training step "
                                    f"· {run}"), width="stretch", key="dyn_chart_cached")
formed = [f"seed {s}: step {a}" if len(appears) > 1 else f"step {a}" for s, a in appears.items() if a is not None]
never = [s for s, a in appears.items() if a is None]
st.markdown("Induction heads appear (the first checkpoint whose best head reaches half its highest score and "
            f"{SIGNAL_RATIO:g}x the uniform baseline): " + (", ".join(formed) if formed else "no head formed")
            + (f" (no head formed for seed {', '.join(map(str, never))})" if formed and never else ""))
if result["missing"]:
    st.caption(f"{len(result['missing'])} of {len(models)} checkpoints are not in the cache (or cannot be described "
               "here) and are left out.")
table = pd.DataFrame([{k: v for k, v in r.items() if k != "scores"} for r in result["rows"]])
if head is None or table["head"].isna().all():
    table = table.drop(columns="head")  # no head chosen: no column of blanks
else:
    table = table.rename(columns={"head": head_name(*head)})
if icl:
    table["icl_gain"] = [p["gain"] for p in icl][:len(table)]
st.dataframe(table.round(4), hide_index=True, width="stretch")
if st.toggle("Every depth series on one step axis (encoders and decoders of 2, 4 and 6 layers)", key="dyn_depth",
             help="the maps of every checkpoint of the six depth series trained here, each on its kind's own reading "
                  "(a minute the first time)"):
    curves = library.get_depth_curves(state.trials, state.seed)
    if curves is not None:
        st.plotly_chart(depth_curves_figure(curves, title=f"best head against step · {state.trials} trials · seed "
                                                          f"{state.seed}"), key="dyn_depth_chart", width="stretch")
        st.dataframe(pd.DataFrame([{"series": c["series"], "layers": c["layers"], "target": c["target"],
                                    "forms at step": c["forms_at"],
                                    "final best head": c["formation_curve"][-1]["name"],
                                    "final score": c["formation_curve"][-1]["score"]} for c in curves]).round(3),
                     hide_index=True, width="stretch")
        st.caption("Open circles: the step each series' heads form at (the first checkpoint whose best head reaches "
                   f"half its highest and {SIGNAL_RATIO:g}x the uniform baseline). Blue: encoders ([MASK] prev), "
                   "red: decoders (induction, every second-copy token); dotted 2 layers, dashed 4, solid 6.")
if trained_here and st.toggle("The mechanism forming: copying and K-composition per checkpoint", key="dyn_mech",
                              help="reads every checkpoint's weights and roles (seconds for trained-gpt, a minute or "
                                   "more for trained-bert)"):
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
                   f"({mechanism.appears}). The command line's roles command prints the same table for the series.")
        st.dataframe(pd.DataFrame([{"step": r["step"], "prefix_matching": r["prefix_matching"],
                                    "copying": r["copying"], **{f"K {e['from']}→{ind}": e["K"]
                                                                for e in r["k_composition"]}}
                                   for r in mechanism.rows]).round(4), hide_index=True, width="stretch")
