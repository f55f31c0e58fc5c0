"""Layering rules: pages render, the library computes."""

from __future__ import annotations

import re

from .conftest import ROOT

UI_FILES = [ROOT / "app.py", *sorted((ROOT / "dashboard").glob("*.py")), *sorted((ROOT / "views").glob("*.py"))]


def test_pages_never_import_model_code():
    for path in UI_FILES:
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(torch|transformers)\b", text, re.M), path.name


def test_library_never_imports_streamlit():
    for path in sorted((ROOT / "induction").glob("*.py")):
        assert not re.search(r"^\s*(import|from)\s+streamlit\b", path.read_text(), re.M), path.name


def test_no_pages_folder_beside_app():
    # Streamlit treats a pages/ folder next to the main script as a v1 multipage app and routes direct
    # links (…/head?…) straight to that file, past st.navigation: the views live in views/ instead.
    assert not (ROOT / "pages").exists()
