"""Induction map: layers x heads for one model, setup and target; click a head to drill down."""

import streamlit as st

from dashboard import drilldown, library, maps
from dashboard import state as view
from dashboard.downloads import downloads
from dashboard.sidebar import sidebar, title
from induction.figures.plots import map_figure, ratio_text, score_text
from induction.study.reported import STUDY_CITATION

# inputs
state = sidebar()
title("Induction map")
run_line = st.empty()  # the run this map shows, said first once it is known (its segment, its K masks)
st.caption(f"Following {STUDY_CITATION}. Targets and setups: the About / method page.")

# guard + compute: K masks (set on Several masks) count here too, as that page's caption says
result = library.get_map(library.map_config(state, **maps.map_masks(state)))
if result is None:
    st.stop()

# render
drilldown.check_selected(result)
state = view.current_state()
run_line.caption(maps.run_caption(result, state))
mean, sem = result.stats(state.target)
zmin, zmax, null = maps.colour_range(mean, result.baseline, state.rescale)
best = result.top_heads(state.target, 1)[0]
if null:
    maps.null_notice(best, result.baseline, state.target)
selected = [(state.layer, state.head)] if state.head_selected() else []
fig = map_figure(mean, sem, zmin=zmin, zmax=zmax, selected=selected, baseline=result.baseline)
left, right = st.columns([2, 1])
with left:
    maps.clickable_map(fig)
    st.caption("Red outline: the selected head. Hover a cell for its score ± standard error; small maps print "
               "each score in its cell. The colour bar marks the uniform baseline on rescaled maps.")
with right:
    default = " (the default)" if state.segment is None else ""  # a local folder may carry another default
    st.markdown(f"**Top heads** ({result.trials} trials, segment {result.config.segment}{default}, "
                f"{result.seq_len} tokens, baseline {result.baseline:.4f})")
    # a list, not a table: at 800 pixels a narrow table hides columns, a list only wraps
    st.markdown("\n".join(f"- **{h.name}** {score_text(h.score)} ± {score_text(h.sem)} · {ratio_text(h.ratio)} "
                          "uniform" for h in result.top_heads(state.target, 10)))
    st.markdown(f"Best head: **{best.name}** {best.score:.4f} ± {best.sem:.4f}")
    st.caption(maps.timing(result))
downloads(result, state.target, fig)
drilldown.head_pickers(result.layers, result.heads)
drilldown.drilldown(view.current_state(), result)
