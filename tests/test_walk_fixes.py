"""The walk of issue 24 on the real toy, page by page: what a new user saw wrong, now checked."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from induction.study.reported import STUDY_CODE

from .conftest import ROOT


def make_app(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in {"trials": 4, **params}.items():
        at.query_params[key] = str(value)
    return at.run()


def test_the_map_cites_the_study_and_shows_the_segment(fresh_cache):
    at = make_app()
    assert any("Exploring Induction Heads in BERT" in c.value and STUDY_CODE in c.value for c in at.caption)
    assert any("segment 16 (the default)" in m.value for m in at.markdown)  # the toy's own default
    at.switch_page("views/about.py").run()
    assert "C. Chen" in at.markdown[0].value and "Induction Heads" in at.markdown[0].value


def test_a_null_map_ticks_the_rescale_box_and_its_bar_holds_the_baseline(fresh_cache):
    at = make_app(target="prev_before")
    assert not at.exception
    assert at.checkbox(key="w_rescale").value is True and at.query_params["rescale"] == "1"
    assert any("the app ticked" in i.value for i in at.main.info)
    heat = json.loads(at.get("plotly_chart")[0].proto.spec)["data"][0]
    baseline = heat["colorbar"]["tickvals"][-1]  # the baseline's tick comes last, labelled
    assert heat["colorbar"]["ticktext"][-1].startswith("— uniform") and heat["zmin"] <= baseline <= heat["zmax"]


def test_effects_with_a_head_ablated_first_cross_it_out(fresh_cache):
    at = make_app(pair="L1H1")
    at.switch_page("views/effects.py").run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    scatter = json.loads(at.get("plotly_chart")[2].proto.spec)["data"]
    assert "L1H1" not in scatter[0]["text"] and scatter[1]["text"] == ["L1H1 (ablated)"]


def test_a_decoder_drilldown_says_query_row(fresh_cache):
    at = make_app(model="toy-gpt", setup="repeat", target="induction", layer=1, head=0)
    assert not at.exception and not at.error
    labels = [b.label for b in at.get("download_button")]
    assert "This trial's tokens and query row (JSON)" in labels and not any("[MASK]" in b for b in labels)
    specs = " ".join(c.proto.spec for c in at.get("plotly_chart"))
    assert "query query row" not in specs


def test_reproduce_says_offline_up_front_and_writes_statuses_in_words(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    at = make_app()
    at.switch_page("views/reproduce.py").run()
    assert not at.exception and "What works here" in at.info[0].value and "cannot load" in at.info[0].value
    assert not any(ch in (ROOT / "views" / "reproduce.py").read_text() for ch in "✅❌⏸")


def test_model_sizes_never_call_a_null_panel_best(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    at = make_app(target="prev_before")
    at.switch_page("views/sizes.py").run()
    assert not at.exception and not any(" 0.00," in m.value or m.value.endswith(" 0.00") for m in at.markdown)
    assert any("No head above" in m.value for m in at.markdown)
