"""Mosaic: one small map per model, encoders beside decoders on one scale, from the cache (nothing is computed)."""

import streamlit as st

from dashboard import library
from dashboard.sidebar import sidebar, title, use_repeat
from dashboard.state import select_head
from induction import deploy
from induction.analyses.mosaic import MOSAIC_MODELS, MOSAIC_SETUP, mosaic_figure
from induction.models.registry import KNOWN_MODELS


def _open_clicked() -> None:
    """A click on a head opens that model's map with the head selected (customdata: row, layer, head)."""
    names = st.session_state.get("_mosaic_rows", [])
    points = (st.session_state.get("mosaic_chart") or {}).get("selection", {}).get("points", [])
    data = points[0].get("customdata") if points else None
    if data and len(data) >= 3 and 0 <= int(data[0]) < len(names):
        row, layer, head = (int(v) for v in data[:3])
        st.session_state.model = names[row]
        select_head(layer, head)
        st.session_state._open_map = True


# inputs
state = sidebar()
title("Mosaic")
st.caption("One small map per model: rows grouped by family and sorted by size, the layer axis as relative depth "
           "(0 = first layer, 1 = last) so models of different depth line up, one colour scale from 0 to 1. Maps "
           "come from the cache; a model without one is listed below, with the command that computes it.")
if state.setup != MOSAIC_SETUP:
    st.info("Decoders run only the repeat setup (every token of the second copy a query, nothing masked), so only "
            f"encoders can show the {state.setup} setup. The repeat setup scores both kinds the same way.")
    st.button("Show the repeat setup", on_click=use_repeat)
allowed = deploy.limits().allowed_models
choices = [m for m in dict.fromkeys([*MOSAIC_MODELS, *KNOWN_MODELS, state.model]) if not allowed or m in allowed]
default = [m for m in dict.fromkeys([*MOSAIC_MODELS, state.model]) if m in choices]  # and the model you study
models = st.multiselect("Models", choices, default=default, key="mosaic_models")

# guard + compute (cache reads only)
with st.spinner("reading the cached maps"):
    tiles, missing = library.get_mosaic(models, state)
if missing:
    with st.expander(f"{len(missing)} model(s) without a cached {state.setup} map"):
        for name, why in missing.items():
            st.markdown(f"- **{name}**: {why}")
if not tiles:
    st.info(f"No cached {state.setup} map of these models ({state.trials} trials, seed {state.seed}). Open a model's "
            "map to compute it, or run `python -m induction precompute`.")
    st.stop()

# render
st.session_state._mosaic_rows = [t.model for t in tiles]
fig = mosaic_figure(tiles, target=state.target,
                    title=f"{state.setup} · {state.target} · {state.trials} trials · seed {state.seed}")
st.plotly_chart(fig, key="mosaic_chart", on_select=_open_clicked, selection_mode="points", width="stretch")
st.caption("Hover a head for its score; click one to open its model's map with that head selected.")
st.markdown(" · ".join(f"**{t.model}** best L{t.best[0]}H{t.best[1]} {t.best[2]:.2f} "
                       f"({t.best[2] / t.baseline:.1f}x)" for t in tiles))
if st.session_state.pop("_open_map", False):
    st.switch_page("views/map.py")
