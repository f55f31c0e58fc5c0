"""Mosaic: one small map per model, encoders beside decoders on one scale, from the cache; the offline models'
missing maps computed on demand."""

import streamlit as st

from dashboard import library
from dashboard.sidebar import kind_of, sidebar, title, use_repeat
from dashboard.state import open_page, select_head
from induction import deploy
from induction.analyses.mosaic import MOSAIC_MODELS, MOSAIC_SETUP, mosaic_figure
from induction.compatibility import reason
from induction.figures.plots import best_text
from induction.models.registry import KNOWN_MODELS, OFFLINE_MODELS


def cannot_load(missing: dict[str, str]) -> dict[str, list[str]]:
    """{reason: models} of the models that cannot load, the reason said once (without the model's own name)."""
    grouped: dict[str, list[str]] = {}
    for name, why in missing.items():
        if why.startswith("could not load model"):
            grouped.setdefault(why.partition("): ")[2] or why, []).append(name)
    return grouped


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
           "come from the cache; the offline models' missing maps are computed here with one click.")
if state.setup != MOSAIC_SETUP:
    st.info("Decoders run only the repeat setup (every token of the second copy a query, nothing masked), so only "
            f"encoders can show the {state.setup} setup. The repeat setup scores both kinds the same way.")
    st.button("Show the repeat setup", on_click=use_repeat)
allowed = deploy.limits().allowed_models
choices = [m for m in dict.fromkeys([*MOSAIC_MODELS, *KNOWN_MODELS, state.model]) if not allowed or m in allowed]
default = [m for m in dict.fromkeys([*MOSAIC_MODELS, state.model]) if m in choices]  # and the model you study
models = st.multiselect("Models", choices, default=default, key="mosaic_models")

# guard + compute: the cache first; the offline models' missing maps on demand (seconds each)
with st.spinner("reading the cached maps"):
    tiles, missing = library.get_mosaic(models, state)
never = {m: why for m in missing if (why := reason("mosaic", kind_of(m) or "encoder", state.setup))}
if never:  # the matrix decides: a decoder never has a map of a masked setup, so none is offered or computed
    st.caption(f"{', '.join(never)}: no {state.setup} map (decoders run only the repeat setup).")
computable = [m for m in missing if m in OFFLINE_MODELS and missing[m].startswith("no cached") and m not in never]
if computable and st.button(f"Compute {', '.join(computable)} here ({state.trials} trials; offline models, "
                            "seconds each)", type="primary"):
    computed = library.compute_mosaic(computable, state)
    if computed is not None:
        st.rerun()  # the maps are in the cache now: the page reads them, and the button is gone
missing = {m: why for m, why in missing.items() if m not in never}
unloadable = cannot_load(missing)
for why, names in unloadable.items():  # one line per reason, not the same error once per model
    st.info(f"{', '.join(names)}: cannot load here. {why[:1].upper()}{why[1:]}")
uncached = [m for m in missing if m not in {n for names in unloadable.values() for n in names}]
if uncached:
    st.caption(f"No cached {state.setup} map of {', '.join(uncached)} ({state.trials} trials, seed {state.seed}): "
               "open its map once, or run `python -m induction precompute`.")
if not tiles:
    st.info(f"No cached {state.setup} map of these models yet"
            + (": press the button above." if computable else "."))
    st.stop()

# render
st.session_state._mosaic_rows = [t.model for t in tiles]
fig = mosaic_figure(tiles, target=state.target,
                    title=f"{state.setup} · {state.target} · {state.trials} trials · seed {state.seed}")
st.plotly_chart(fig, key="mosaic_chart", on_select=_open_clicked, selection_mode="points", width="stretch")
st.caption("Hover a head for its score; click one to open its model's map with that head selected.")
st.markdown(" · ".join(f"**{t.model}** {best_text(f'L{t.best[0]}H{t.best[1]}', t.best[2], t.best[2] / t.baseline)}"
                       for t in tiles))
if st.session_state.pop("_open_map", False):
    open_page("views/map.py", "map")
