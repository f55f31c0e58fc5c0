"""Model sizes: one setup and target across BERT Tiny..Large (the reference study's Figure 5)."""

import math

import streamlit as st

from dashboard import library, maps
from dashboard.sidebar import sidebar, title
from dashboard.state import clear_head, open_page, select_head
from induction.config import SIGNAL_RATIO
from induction.figures.plots import map_figure
from induction.models.registry import CAUSAL_MODELS, OFFLINE_MODELS, SIZES
from induction.scoring import late_layer_share


def _open(model: str, chart: str):
    """A click on a panel's head: that model and head in the drill-down (the Head page names both)."""
    def callback() -> None:
        head = maps.clicked(chart)
        if head:
            if st.session_state.model != model:
                st.session_state.model = model
                clear_head()
            select_head(*head)
            st.session_state._open_head = True
    return callback


# inputs
state = sidebar()
title("Model sizes")
st.caption(f"{state.setup} setup · target **{state.target}** · {state.protocol} protocol · {state.trials} trials · "
           f"seed {state.seed} · one colour scale (0..1) · click a head for its drill-down")
sizes, missing = library.loadable(SIZES)
if missing:  # said once, not in five red panels
    reason = next(iter(missing.values())).split(": ", 1)[-1]
    st.info(f"{', '.join(missing)} cannot load here ({reason.split('. ')[0]}). The offline models are shown "
            "beside the sizes that can.")
offline = [m for m in OFFLINE_MODELS if m not in CAUSAL_MODELS or state.setup == "repeat"]  # decoders: repeat only
extra = st.multiselect("Add offline models", offline, default=offline if missing else [],
                       key="sizes_extra")
threshold = st.slider("High-scoring threshold", 0.05, 1.0, 0.3, 0.05, key="sizes_threshold")
models = [*sizes, *extra]

# guard + compute + render: each model in its own panel, one colour scale, a failure stays in its panel
columns = st.columns(min(len(models), 4))
for i, name in enumerate(models):
    with columns[i % len(columns)]:
        st.subheader(name)
        result = library.get_map(library.map_config(state, model=name), label=name, compact=True)
        if result is None:
            continue
        mean, sem = result.stats(state.target)
        maps.clickable_map(map_figure(mean, sem, title=f"{name} · {state.setup} · {state.target} · {result.trials} "
                                                       f"trials · seed {state.seed}"),
                           key=f"size_{name}", on_select=_open(name, f"size_{name}"))
        share = late_layer_share(mean, threshold)
        frac = "–" if math.isnan(share["fraction"]) else f"{share['fraction']:.0%}"
        heads = f"{share['high']} head{'' if share['high'] == 1 else 's'}"
        st.markdown(f"{heads} ≥ {threshold:.2f}; in the last third (layer ≥ {share['first_late_layer']}): **{frac}**")
        top = result.top_heads(state.target, 3)
        st.markdown("Top: " + ", ".join(f"{h.name} {h.score:.2f}" for h in top) if top[0].ratio >= SIGNAL_RATIO
                    else f"No head above {SIGNAL_RATIO:g}x uniform (best {top[0].name} {top[0].score:.4f})")
if st.session_state.pop("_open_head", False):
    open_page("views/head.py", "head")
