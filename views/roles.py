"""Head roles: what every head does (previous-token, induction, sink, ...), copying beside prefix matching, and which
earlier head each later head reads; a click on a head opens its drill-down."""

import streamlit as st

from dashboard import library
from dashboard.downloads import public, to_json_text
from dashboard.effects_panels import effect_click, open_clicked_head
from dashboard.sidebar import sidebar, title
from induction.analyses.roles import COMPOSITIONS, COPY_MIN, ROLE_FLOORS, SEM_MARGIN
from induction.config import SIGNAL_RATIO, head_name
from induction.figures.roles import composition_figure, copying_figure, roles_figure

# inputs
state = sidebar()
open_clicked_head()  # a click on the role map or the scatter opens that head's drill-down
title("Head roles")
st.caption(f"{state.model} · {state.trials} trials · seed {state.seed}. Roles read the repeat setup (every token of "
           "a repeated segment a query) and, for an encoder, the standard setup's [MASK]; the sidebar's setup and "
           "target do not change them.")

# guard + compute
result = library.get_roles(state)
if result is None:
    st.stop()

# render
st.markdown(f"A head has a role when its score beats **{SIGNAL_RATIO:g}x the uniform baseline** and a floor "
            f"({', '.join(f'{r} {f:g}' for r, f in ROLE_FLOORS.items())}), and stays above the baseline by "
            f"{SEM_MARGIN:g} standard errors; **copying** needs an OV eigenvalue score of at least {COPY_MIN:g} and a "
            "direct-logit copy above 0 by as many standard errors. A head may have several roles or none. "
            "**local** (most attention within a few positions of the query) goes only to heads that are neither "
            "previous- nor next-token heads: those are the local heads with a name, so a previous-token head is "
            "not also called local.")
if result.kind == "encoder":
    st.caption("An encoder's **induction** role reads prefix matching from the [MASK]: the standard setup's `prev` "
               "score (the masked token's earlier instance). The Setups and Mosaic pages' `induction` target is "
               "the repeat setup's (nothing masked: the token after the earlier instance), a different score of "
               "the same head, often far smaller on an encoder.")
selected = [(state.layer, state.head)] if state.head_selected() else []
st.plotly_chart(roles_figure(result, selected=selected, title="roles"), key="roles_map",
                on_select=effect_click("roles_map"), selection_mode="points", width="stretch")
st.caption("Hover a head for every score against its uniform baseline; click one to open its drill-down.")
for what, why in result.notes.items():
    st.info(f"No {what} scores: {why}")
if result.copying is not None:
    st.plotly_chart(copying_figure(result, title="copying against prefix matching"), key="roles_scatter",
                    on_select=effect_click("roles_scatter"), selection_mode="points", width="stretch")
    st.caption("Red: prefix matching and copying both, the mechanistic induction heads (Olsson et al. 2022).")
if result.composition is not None and result.layers > 1:
    kind = st.radio("Composition", COMPOSITIONS, horizontal=True, key="w_composition",
                    help="K: the later head's key reads the earlier head's output (a previous-token head feeding an "
                         "induction head); Q: its query does; V: its value does (Elhage et al. 2021)")
    st.plotly_chart(composition_figure(result, kind, title=f"{kind}-composition"), key="roles_composition",
                    width="stretch")
    base = result.composition_baseline
    st.caption(f"In TransformerLens's conventions (LayerNorm gammas folded into the weights that read them, writing "
               f"weights centred). Random matrices of these shapes score **{base['mean']:.3f} ± {base['sd']:.3f}** "
               f"({base['draws']} seeded draws); a pair counts as strong above {base['threshold']:.3f} (mean + 3 sd)."
               + (f" Rotary positions: W_QK is the bilinear form at {result.rotary}." if result.rotary else ""))
    top = result.strongest(kind)
    st.markdown("Strongest: " + (" · ".join(f"**{p['from']} → {p['to']}** {p[kind]:.3f} (random {p['random_mean']:.3f})"
                                            for p in top) or "none above the random baseline"))
named = [f"**{head_name(l, h)}** {', '.join(r)}" for l, row in enumerate(result.role_map()) for h, r in enumerate(row)
         if r]
st.markdown("Heads with a role: " + (" · ".join(named) if named else "none"))
st.caption("from the cache" if result.cached else f"computed in {result.elapsed_s:.1f}s")
st.download_button("Roles (JSON)", to_json_text(public(result.to_json())), "roles.json", "application/json")
