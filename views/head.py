"""Head drill-down on its own page, reachable by link (…/head?model=toy&layer=1&head=0)."""

import streamlit as st

from dashboard import drilldown, library
from dashboard import state as view
from dashboard.sidebar import sidebar, title

# inputs
state = sidebar()
title("Head drill-down")

# guard + compute
result = library.get_map(library.map_config(state))
if result is None:
    st.stop()

# render
drilldown.check_selected(result)
drilldown.head_pickers(result.layers, result.heads)
drilldown.drilldown(view.current_state(), result, hint="Pick a layer and a head above to inspect a head.")
