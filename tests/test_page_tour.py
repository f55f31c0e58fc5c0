"""Every page, for each model kind (the encoder `toy`, the decoder `toy-gpt`), from an empty cache, in AppTest.

Why: a bare expression in a page used to be printed by Streamlit's "magic" (the source line, a help
text, a stray "None"). Magic is off in .streamlit/config.toml, and this tour fails on any such output,
on an exception box, or on a page that crashes, whichever page a later change touches.
"""

from __future__ import annotations

import re
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import ROOT
from .page_checks import page_problems

PAGES = re.findall(r'st\.Page\("(views/\w+\.py)"', (ROOT / "app.py").read_text())
MODEL_KINDS = {"encoder": "toy", "decoder": "toy-gpt"}


def tour_page(page: str, model: str, **params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in {"model": model, "trials": 4, **params}.items():
        at.query_params[key] = str(value)
    at.run()
    at.switch_page(page).run()
    return at


def test_magic_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["magicEnabled"] is False


def test_the_tour_knows_every_view():
    assert sorted(PAGES) == sorted(f"views/{p.name}" for p in (ROOT / "views").glob("*.py"))


@pytest.mark.parametrize("kind", MODEL_KINDS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_is_sound_from_an_empty_cache(page, kind, fresh_cache):
    at = tour_page(page, MODEL_KINDS[kind])
    assert not page_problems(at), page_problems(at)


@pytest.mark.parametrize("masks, span", [(1, "scattered"), (2, "contiguous"), (2, "scattered")])
def test_several_masks_prints_no_python(masks, span, fresh_cache):
    at = tour_page("views/masks.py", "toy", masks=masks, span=span, layer=1, head=0)
    assert not page_problems(at), page_problems(at)
    assert len(at.get("plotly_chart")) >= masks


def test_the_check_catches_magic_output(tmp_path):
    """The checker itself: a page with magic on and a bare expression fails it."""
    script = tmp_path / "page.py"
    script.write_text("import streamlit as st\nst.help(st.plotly_chart)\nst.code('x if k else y')\nst.write(None)\n"
                      "st.markdown('best nan')\n")
    at = AppTest.from_file(str(script)).run()
    found = " ".join(page_problems(at))
    assert "code block" in found and "help block" in found and "bare None" in found and "'best nan'" in found
