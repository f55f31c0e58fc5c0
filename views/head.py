"""Head drill-down on its own page, reachable by link (…/head?model=toy&layer=1&head=0)."""

import streamlit as st

from dashboard import drilldown, library, maps
from dashboard import state as view
from dashboard.sidebar import sidebar, title

# inputs
state = sidebar()
title("Head drill-down")

# guard + compute: the map the head belongs to (K masks count, as on the Induction map)
result = library.get_map(library.map_config(state, **maps.map_masks(state)))
if result is None:
    st.stop()

# render: which model and setup this head is of, first
drilldown.check_selected(result)
st.caption(maps.run_caption(result, view.current_state()))
drilldown.head_pickers(result.layers, result.heads)
drilldown.drilldown(view.current_state(), result, hint="Pick a layer and a head above to inspect a head.")
