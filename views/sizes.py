"""Model sizes: one setup and target across BERT Tiny..Large (the reference study's Figure 5)."""

import math

import pandas as pd
import streamlit as st

from dashboard import library, maps
from dashboard.sidebar import sidebar, title
from dashboard.state import clear_head, open_page, select_head
from induction.config import SIGNAL_RATIO
from induction.figures.plots import map_figure
from induction.figures.training import depth_figure
from induction.models.registry import CAUSAL_MODELS, DEPTH_MODELS, OFFLINE_MODELS, SIZES
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
featured = [m for m in offline if m not in DEPTH_MODELS]  # the depth series have their own section below
extra = st.multiselect("Add offline models", offline, default=featured if missing else [],
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

# the depth series trained here (issues 36 and 41): the study's question on encoders and decoders of 2, 4 and 6 layers
st.subheader("Trained here: where the heads sit as a model gets deeper")
st.caption("Encoders and decoders of 2, 4 and 6 layers (4 heads, width 64), trained here on the same batches: they "
           "differ only in objective and attention mask (docs/training.md). Each series' final checkpoint is read "
           f"with {state.trials} trials, seed {state.seed}; relative depth is (layer + 1) / layers, 1.0 the last "
           "layer.")
if st.toggle("The depth series: strongest heads, their sources, ablations and formation steps", key="sizes_depth",
             help="computes each series' maps, head roles, ablations and ICL gain where not cached (a minute or "
                  "two the first time)"):
    depth = library.get_depth(state.trials, state.seed)
    if depth is not None:
        st.plotly_chart(depth_figure(depth, title=f"strongest head's relative depth · {state.trials} trials · seed "
                                                  f"{state.seed}"), key="sizes_depth_chart", width="stretch")
        st.markdown(depth.summary())
        st.dataframe(pd.DataFrame(depth.table()).round(3), hide_index=True, width="stretch")
        st.caption("Readings: **mask_query** the [MASK] query (the study's score; encoders only), **every_token** "
                   "every token of the second copy, unmasked, **last_token** the last token only; each reads the "
                   "attention to the earlier instance of the token the model predicts there (an encoder's own "
                   "token, the duplicate target; a decoder's next token, the induction target). Source: the "
                   "earlier head with the highest K-composition into the strongest head, against random matrices "
                   "of the same shapes (mean + 3 sd). Loss: the change (nats) when the head is ablated, on the "
                   "kind's own trials; the weakest head of the strongest head's layer is the control.")
if st.session_state.pop("_open_head", False):
    open_page("views/head.py", "head")
