"""Setups: standard, shuffled and triple for one model, each target a panel (the study's Figures 3 and 4), and
repeat (nothing masked, every token of the second copy a query: the one setup a decoder runs)."""

import streamlit as st

from dashboard import library, maps
from dashboard.sidebar import kind_of, sidebar, title
from dashboard.state import open_page, select_head
from induction.config import SETUP_TARGETS, SIGNAL_RATIO
from induction.figures.plots import map_figure
from induction.models.kinds import setups_for


def _open(setup: str, target: str, chart: str):
    """A click on a panel's head: its drill-down in that setup and target (a choice the user made)."""
    def callback() -> None:
        head = maps.clicked(chart)
        if head:
            s = st.session_state
            s.setup, s.target = setup, target
            if setup == "repeat":
                s.protocol, s.unit, s.masks = "clean", "token", 1
            s.setdefault("chosen", {}).update(setup=setup, target=target)
            select_head(*head)
            s._open_head = True
    return callback


# inputs
state = sidebar()
title("Setups")
st.caption(f"{state.model} · {state.protocol} protocol · {state.trials} trials · seed {state.seed} · one colour scale "
           "(0..1) · click a head for its drill-down")

setups = setups_for(kind_of(state.model) or "encoder")

# guard + compute + render
for setup in setups:
    st.subheader(setup)
    repeat = dict(protocol="clean", unit="token") if setup == "repeat" else {}  # repeat: ordinary tokens, no mask
    result = library.get_map(library.map_config(state, setup=setup, **repeat), label=f"{state.model} {setup}")
    if result is None:
        continue
    for column, target in zip(st.columns(len(SETUP_TARGETS[setup])), SETUP_TARGETS[setup], strict=True):
        mean, sem = result.stats(target)
        with column:
            best = result.top_heads(target, 1)[0]
            st.markdown(f"**{target}** · best {best.name} {best.score:.3f}" if best.ratio >= SIGNAL_RATIO else
                        f"**{target}** · no head above {SIGNAL_RATIO:g}x uniform (best {best.score:.4f})")
            key = f"setup_{setup}_{target}"
            maps.clickable_map(map_figure(mean, sem, title=f"{state.model} · {setup} · {target} · {result.trials} "
                                                           f"trials · seed {state.seed}"),
                               key=key, on_select=_open(setup, target, key))
if st.session_state.pop("_open_head", False):
    open_page("views/head.py", "head")
