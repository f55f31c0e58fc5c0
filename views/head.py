"""Head drill-down on its own page, reachable by link (…/head?model=toy&layer=1&head=0)."""

import streamlit as st

import drilldown
import widgets

# inputs
state = widgets.sidebar()
st.title("Head drill-down")

# guard + compute
result = widgets.get_map(widgets.map_config(state))
if result is None:
    st.stop()

# render
drilldown.head_pickers(result.layers, result.heads)
drilldown.drilldown(widgets.current_state(), result)
