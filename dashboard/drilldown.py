"""The head drill-down, shared by the map page and its own page: pickers, one trial, four views.

Why its own module: it is the one part of the UI that asks the library for a single
trial's full attention (one extra forward pass), memoized per process.
"""

from __future__ import annotations

import streamlit as st

from dashboard.viewstate import ViewState
from induction.config import InductionError, MapConfig, head_name, parse_head
from induction.figures.export import file_stem

from . import library
from .downloads import public, to_json_text
from .state import copy_to, current_state, select_head, sync_url


def check_selected(result) -> None:
    """A head the link names that the model does not have is dropped with a notice, not silently."""
    s = st.session_state
    if s.layer is not None and s.head is not None and (s.layer >= result.layers or s.head >= result.heads):
        st.warning(f"ignored the selected head {head_name(s.layer, s.head)}: {result.config.model!r} has layers "
                   f"0..{result.layers - 1} and heads 0..{result.heads - 1}")
        s.layer = s.head = None
        sync_url(current_state())


def head_pickers(layers: int, heads: int) -> None:
    """Keyboard-friendly (layer, head) selectboxes that stay in sync with clicks. A layer picked before a head
    stays picked (the selection is complete, and in the URL, once both are)."""
    s = st.session_state
    if s.layer is not None and s.head is not None and s.layer < layers and s.head < heads:
        s.sel_layer, s.sel_head = s.layer, s.head
    else:  # keep a half-made choice, but nothing the model does not have
        if s.get("sel_layer") is None or s.sel_layer >= layers:
            s.sel_layer = None
        if s.get("sel_head") is None or s.sel_head >= heads:
            s.sel_head = None

    def changed() -> None:
        if s.sel_layer is not None and s.sel_head is not None:
            select_head(s.sel_layer, s.sel_head)

    a, b = st.columns(2)
    a.selectbox("Layer", list(range(layers)), key="sel_layer", on_change=changed, placeholder="click a cell…")
    b.selectbox("Head", list(range(heads)), key="sel_head", on_change=changed, placeholder="click a cell…")


@st.cache_data(max_entries=64, show_spinner=False)
def _head_detail_here(config: MapConfig, layer: int, head: int, trial: int):
    from induction.analyses.head_detail import head_detail

    return head_detail(config, layer, head, trial=trial)


def _head_detail(config: MapConfig, layer: int, head: int, trial: int):
    """The head on one trial: computed here (cached per server) without a worker pool; through the queue and a
    worker with one (the server process loads no model), None after an error it showed."""
    from induction.analyses.head_detail import head_detail
    from induction.compute_workers import server_pool

    from .progress import call_on_model

    if server_pool() is None:
        return _head_detail_here(config, layer, head, trial)
    return call_on_model(f"head {head_name(layer, head)}", head_detail, config, layer, head, trial=trial)


def _named_roles(state: ViewState, result, layer: int, head: int) -> None:
    """The head's roles when the Head roles page has them cached (nothing is computed for this line)."""
    roles = library.cached_roles(state)
    if roles is not None and (roles.layers, roles.heads) == (result.layers, result.heads):
        named = roles.roles(layer, head)
        st.caption(f"Roles (Head roles page): {', '.join(named) if named else 'none above chance'}")


def drilldown(state: ViewState, result, hint: str = "Click a cell of the map (or pick a layer and head) to inspect "
              "a head.") -> None:
    """The selected head on one sample trial, its score distribution and offset profile."""
    from induction.figures.plots import distribution_figure, offset_figure, pattern_figure, row_figure

    layer, head = state.layer, state.head
    if layer is None or head is None or layer >= result.layers or head >= result.heads:
        st.info(hint)
        return
    name = head_name(layer, head)
    st.subheader(f"Head {name}", anchor="drilldown")
    if st.session_state.pop("_scroll_to_drilldown", False):
        from .maps import scroll_here

        scroll_here("drilldown")
    _named_roles(state, result, layer, head)
    if state.trial >= result.trials:  # a link's trial past this run's trials: said, and the link follows
        st.warning(f"ignored trial={state.trial}: this run has {result.trials} trials (0..{result.trials - 1}); "
                   "showing trial 0")
        st.session_state.trial = 0
        sync_url(current_state())
    st.session_state.sample_trial = min(st.session_state.trial, result.trials - 1)
    trial = st.number_input("Sample trial", 0, result.trials - 1, key="sample_trial",
                            on_change=copy_to("trial", "sample_trial"))
    try:
        detail = _head_detail(result.config, layer, head, int(trial))
    except InductionError as exc:
        st.error(str(exc))
        return
    if detail is None:  # the worker's error, already shown
        return
    c = result.config
    run = f"{c.model} · {c.setup} · {state.target} · {result.trials} trials · seed {c.seed}"
    mean, sem = result.stats(state.target)
    st.markdown(f"**{state.target}** score **{mean[layer, head]:.4f} ± {sem[layer, head]:.4f}** over "
                f"{result.trials} trials; uniform baseline {result.baseline:.4f} "
                f"({mean[layer, head] / result.baseline:.1f}x).")
    st.plotly_chart(row_figure(detail, title=f"{name}: {detail.query_label} attention on trial {trial} (targets in "
                                             f"orange) · {run}"), width="stretch", key="row_chart")
    others = [head_name(l, h) for l in range(result.layers) for h in range(result.heads) if (l, h) != (layer, head)]
    compare = st.multiselect("Compare with", others, key="compare_heads", max_selections=5,
                             help="overlay other heads' score distributions and offset profiles")
    heads = [(layer, head), *(parse_head(n) for n in compare)]
    left, right = st.columns(2)
    left.plotly_chart(distribution_figure({head_name(*x): result.per_trial[state.target][:, x[0], x[1]] for x in heads},
                                          baseline=result.baseline, title=f"{state.target} across trials · {run}"),
                      width="stretch")
    profile, around = result.offsets_for(state.target)  # offset 0 is the selected target's own score
    right.plotly_chart(offset_figure({head_name(*x): profile[x] for x in heads}, baseline=result.baseline,
                                     title=f"attention by offset from {around} · {run}",
                                     x_title=f"offset from {around}"),
                       width="stretch")
    if result.word_split is not None:  # the study's question: the earlier word's first piece or the rest?
        st.plotly_chart(distribution_figure({"first piece": result.word_split["first"][:, layer, head],
                                             "continuation pieces": result.word_split["rest"][:, layer, head]},
                                            baseline=result.baseline, x_title="attention to the earlier word's pieces",
                                            title=f"{name}: how attention to the earlier word splits"),
                        width="stretch", key="word_split")
    st.plotly_chart(pattern_figure(detail, title=f"{name} full pattern, trial {trial} · {run}"), width="stretch")
    # the trial's file says which run it is of (a local folder by its last part only)
    model = public({"model": c.model})["model"]
    payload = {"model": model, "setup": c.setup, "protocol": c.protocol, "target": state.target,
               "trials": result.trials, "seed": c.seed, "segment": c.segment, **detail.to_json()}
    stem = file_stem(model.removeprefix("local folder "), c.setup, name, f"trial{trial}", f"seed{c.seed}")
    st.download_button(f"This trial's tokens and {detail.query_label} row (JSON)", to_json_text(payload),
                       f"{stem}.json", "application/json")
