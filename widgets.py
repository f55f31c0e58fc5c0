"""Shared Streamlit widgets: the sidebar, URL sync, progress, the clickable map, the drill-down.

Why one module: every page shows the same inputs and reads the same view state;
writing them once keeps the URL, the sidebar and the pages in step. Pages call
these and the `induction` library; nothing here builds sequences or touches tensors.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import streamlit as st

from induction import deploy
from induction.cache import CacheWriteWarning
from induction.config import PROTOCOLS, SETUP_TARGETS, SETUPS, InductionError, MapConfig
from induction.hub import hub_reachable
from induction.models import KNOWN_MODELS, OFFLINE
from induction.viewstate import ViewState, from_query

OTHER = "other (Hugging Face id or folder)…"
_FIELDS = ("model", "setup", "protocol", "target", "trials", "seed", "segment", "rescale", "ablate", "mode")


def init_state() -> None:
    """Load the view state from the URL once per session; bad parameters become notices."""
    if st.session_state.get("_loaded"):
        return
    limits = deploy.limits()
    state, notices = from_query(st.query_params.to_dict(), allowed_models=limits.allowed_models,
                                max_trials=limits.max_trials, max_segment=limits.max_segment)
    for name in _FIELDS:
        st.session_state[name] = getattr(state, name)
    st.session_state.layer, st.session_state.head = state.layer, state.head
    st.session_state.notices = notices
    st.session_state._loaded = True


def current_state() -> ViewState:
    s = st.session_state
    return ViewState(model=s.model, setup=s.setup, protocol=s.protocol, target=s.target, trials=int(s.trials),
                     seed=int(s.seed), segment=s.segment, layer=s.layer, head=s.head, rescale=bool(s.rescale),
                     ablate=tuple(s.ablate), mode=s.mode)


def sync_url(state: ViewState) -> None:
    query = state.to_query()
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)


def _on_setup_change() -> None:
    if st.session_state.w_setup != st.session_state.setup:
        st.session_state.setup = st.session_state.w_setup
        st.session_state.target = SETUP_TARGETS[st.session_state.setup][0]


def _copy(widget: str, field: str):
    def callback() -> None:
        st.session_state[field] = st.session_state[widget]
    return callback


def _on_model_change() -> None:
    choice = st.session_state.w_model
    st.session_state.custom_model = choice == OTHER  # keep the free-text field open until it is used
    if choice != OTHER:
        st.session_state.model = choice
        _clear_head()


def _on_custom_model() -> None:
    text = (st.session_state.w_model_custom or "").strip()
    if text:
        st.session_state.model = text
        _clear_head()


def _on_segment_change() -> None:
    st.session_state.segment = None if st.session_state.w_segment_auto else int(st.session_state.w_segment)


def _clear_head() -> None:
    st.session_state.layer = st.session_state.head = None
    st.session_state.ablate = ()


def sidebar() -> ViewState:
    """Every input of the view, in the sidebar; returns the current state (the URL follows it)."""
    init_state()
    s, limits = st.session_state, deploy.limits()
    options = list(limits.allowed_models or KNOWN_MODELS)
    if limits.allowed_models is None:
        options.append(OTHER)
    s.w_model = OTHER if s.get("custom_model") or s.model not in options else s.model
    s.w_setup, s.w_protocol, s.w_target = s.setup, s.protocol, s.target
    s.w_trials, s.w_seed, s.w_rescale = s.trials, s.seed, s.rescale
    s.w_segment_auto = s.segment is None
    s.w_segment = s.segment or 16
    with st.sidebar:
        if not hub_reachable():
            st.info(f"Hugging Face Hub not reachable: the offline models ({', '.join(OFFLINE)}) work; "
                    "others need weights already in the local Hugging Face cache.")
        st.selectbox("Model", options, key="w_model", on_change=_on_model_change,
                     format_func=lambda m: m if m == OTHER or m not in KNOWN_MODELS else
                     f"{m} — {KNOWN_MODELS[m].note}")
        if s.w_model == OTHER:
            s.setdefault("w_model_custom", "" if s.model in KNOWN_MODELS else s.model)
            st.text_input("Hugging Face id or local folder", key="w_model_custom", on_change=_on_custom_model)
        st.selectbox("Setup", SETUPS, key="w_setup", on_change=_on_setup_change)
        st.selectbox("Protocol", PROTOCOLS, key="w_protocol", on_change=_copy("w_protocol", "protocol"),
                     help="clean: [CLS] + copies + [SEP], ordinary tokens only. paper: the reference study's "
                          "[SEP] + copies, ids from [100, 20000).")
        st.selectbox("Target", SETUP_TARGETS[s.setup], key="w_target", on_change=_copy("w_target", "target"))
        st.number_input("Trials", 1, limits.max_trials, key="w_trials", on_change=_copy("w_trials", "trials"))
        st.number_input("Seed", 0, 2**31 - 1, key="w_seed", on_change=_copy("w_seed", "seed"))
        st.checkbox("Default segment length", key="w_segment_auto", on_change=_on_segment_change,
                    help="paper: 200 (150 for triple); clean: the model's default")
        if not s.w_segment_auto:
            st.number_input("Segment length", 1, limits.max_segment, key="w_segment", on_change=_on_segment_change)
        st.checkbox("Rescale colours to the data", key="w_rescale", on_change=_copy("w_rescale", "rescale"))
    for notice in s.pop("notices", []):  # shown once, on the view the link opened
        st.warning(notice)
    state = current_state()
    sync_url(state)
    return state


def map_config(state: ViewState, **changes) -> MapConfig:
    fields = dict(model=state.model, setup=state.setup, protocol=state.protocol, trials=state.trials,
                  seed=state.seed, segment=state.segment)
    return MapConfig(**{**fields, **changes})


def show_error(text: str, *, compact: bool = False) -> None:
    """An error message; `compact` shows its first sentence and the rest on demand (for narrow panels)."""
    head, _, rest = text.partition(": ")
    if compact and rest:
        st.error(head)
        with st.expander("why"):
            st.write(rest)
    else:
        st.error(text)


def run_with_progress(label: str, compute, *args, compact: bool = False, **kwargs):
    """Call `compute(..., progress=cb)` with an st.progress bar; errors show as messages. None on error."""
    bar = st.progress(0.0, text=f"{label}: starting…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{label}: {done}/{total} trials")

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CacheWriteWarning)
            result = compute(*args, progress=progress, **kwargs)
        for w in caught:
            if issubclass(w.category, CacheWriteWarning):
                st.warning(str(w.message))
        return result
    except InductionError as exc:
        show_error(str(exc), compact=compact)
    except Exception as exc:  # noqa: BLE001 - the server stays up and says what failed
        st.error(f"{label} failed: {type(exc).__name__}: {str(exc)[:300]}" if not deploy.limits().deployed
                 else f"{label} failed; please try other settings.")
    finally:
        bar.empty()
    return None


def get_map(config: MapConfig, label: str | None = None, *, compact: bool = False):
    from induction.engine import compute_map

    return run_with_progress(label or f"{config.model} {config.setup}", compute_map, config, compact=compact)


def select_head(layer: int, head: int) -> None:
    st.session_state.layer, st.session_state.head = int(layer), int(head)


def _on_map_click() -> None:
    points = (st.session_state.get("map_chart") or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata"):
        select_head(*points[0]["customdata"][:2])


def clickable_map(fig, key: str = "map_chart", on_select=_on_map_click) -> None:
    st.plotly_chart(fig, key=key, on_select=on_select, selection_mode="points", width="stretch",
                    config={"toImageButtonOptions": {"format": "png", "filename": "induction_map", "scale": 2}})


def _toggle_ablated(layer: int, head: int) -> None:
    heads = list(st.session_state.ablate)
    heads.remove((layer, head)) if (layer, head) in heads else heads.append((layer, head))
    st.session_state.ablate = tuple(heads)


def on_ablate_click() -> None:
    points = (st.session_state.get("ablate_chart") or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata"):
        _toggle_ablated(*map(int, points[0]["customdata"][:2]))


def ablation_picker(result, target: str) -> None:
    """A multiselect of heads, in sync with clicks on the clean map; plus 'top k'."""
    s = st.session_state
    names = [f"L{l}H{h}" for l in range(result.layers) for h in range(result.heads)]
    s.w_ablate = [f"L{l}H{h}" for l, h in s.ablate if l < result.layers and h < result.heads]

    def changed() -> None:
        s.ablate = tuple(tuple(int(x) for x in n[1:].split("H")) for n in s.w_ablate)

    def top_k() -> None:
        s.ablate = tuple((h["layer"], h["head_index"]) for h in result.top_heads(target, int(s.w_top_k)))

    s.w_mode = s.mode
    st.radio("Mode", ["zero", "mean"], horizontal=True, key="w_mode", on_change=_copy("w_mode", "mode"))
    a, b, c = st.columns([4, 1, 1])
    a.multiselect("Heads to ablate", names, key="w_ablate", on_change=changed)
    b.number_input("k", 1, len(names), 1, key="w_top_k")
    c.button("Ablate top k", on_click=top_k)


def get_ablation(config: MapConfig, heads, mode: str):
    from induction.ablation import ablate

    return run_with_progress(f"ablating {len(heads)} head(s)", ablate, config, heads, mode=mode)


def get_sweep(config: MapConfig, target: str, k: int, mode: str):
    from induction.ablation import sweep

    return run_with_progress("sweep", sweep, config, target, k, mode=mode)


def get_icl(config):
    from induction.icl import icl_score

    return run_with_progress(f"ICL {config.model}", icl_score, config)


def max_positions(model: str, fallback: int = 512) -> int:
    """The model's usable positions (read from its config), or `fallback` when it cannot be read."""
    from induction.models import describe

    try:
        return describe(model).max_positions
    except InductionError:
        return fallback


def to_json_text(payload: dict) -> str:
    return json.dumps(payload)


def downloads(result, target: str, fig) -> None:
    mean, sem = result.stats(target)
    rows = [{"layer": l, "head": h, "score": float(mean[l, h]), "sem": float(sem[l, h])}
            for l in range(result.layers) for h in range(result.heads)]
    name = f"induction_{result.config.model.replace('/', '_')}_{result.config.setup}_{target}"
    c1, c2, c3 = st.columns(3)
    c1.download_button("Scores (CSV)", pd.DataFrame(rows).to_csv(index=False), f"{name}.csv", "text/csv")
    c2.download_button("Map (JSON)", to_json_text(result.to_json()), f"{name}.json", "application/json")
    c3.download_button("Figure (HTML)", lambda: fig.to_html(include_plotlyjs="cdn"), f"{name}.html", "text/html")
    st.caption("PNG: use the camera button in the figure's toolbar (top right of the map).")
