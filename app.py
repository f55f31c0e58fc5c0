"""Induction heads in BERT-family models: the dashboard's entry point.

`streamlit run app.py`. The sidebar (shared by every page) holds the view state,
which lives in the URL so a copied link reproduces the view.
"""

import streamlit as st

from induction import deploy
from induction.models.hub import quiet_environment

quiet_environment()  # before any page imports transformers: no per-load progress bars in the server log

st.set_page_config(page_title="Induction heads in BERT", page_icon="🔁", layout="wide")
if deploy.limits().deployed:
    st.set_option("client.showErrorDetails", False)  # INDUCTION_DEPLOYED=1: no stack traces in the page
PAGES = [
    st.Page("views/map.py", title="Induction map", url_path="map", default=True),
    st.Page("views/head.py", title="Head drill-down", url_path="head"),
    st.Page("views/sizes.py", title="Model sizes", url_path="sizes"),
    st.Page("views/setups.py", title="Setups", url_path="setups"),
    st.Page("views/mosaic.py", title="Mosaic", url_path="mosaic"),
    st.Page("views/compare.py", title="Compare", url_path="compare"),
    st.Page("views/masks.py", title="Several masks", url_path="masks"),
    st.Page("views/ablation.py", title="Ablation", url_path="ablation"),
    st.Page("views/effects.py", title="Effects", url_path="effects"),
    st.Page("views/roles.py", title="Head roles", url_path="roles"),
    st.Page("views/text.py", title="Your text", url_path="text"),
    st.Page("views/dynamics.py", title="Training dynamics", url_path="dynamics"),
    st.Page("views/icl.py", title="In-context learning", url_path="icl"),
    st.Page("views/reproduce.py", title="Reproduce the study", url_path="reproduce"),
    st.Page("views/about.py", title="About / method", url_path="about"),
]
# expanded: every page listed (About too, never under "View N more"); each page starts with
# dashboard.sidebar.sidebar(): the shared inputs, written once
page = st.navigation(PAGES, expanded=True)
st.session_state["_page"] = page.url_path or "map"  # which settings its link carries (viewstate.PAGE_ONLY)
page.run()
