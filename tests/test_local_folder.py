"""A local model folder in the dashboard: typed in the sidebar, checked before anything loads (a model folder, a
family that can be captured, weights within the model memory budget), a clear error otherwise; a deployed server
offers no free field at all."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from induction.models.loading import folder_problem

from .conftest import ROOT

APP = str(ROOT / "app.py")


def _type_folder(path: str, **params) -> AppTest:
    from dashboard.sidebar import OTHER

    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in {"trials": 3, "segment": 8, **params}.items():
        at.query_params[key] = str(value)
    at.run()
    at.selectbox(key="w_model").select(OTHER).run()
    at.text_input(key="w_model_custom").input(path).run()
    return at


def test_a_model_folder_opens(random_bert):
    at = _type_folder(random_bert)
    assert not at.exception and not at.error
    assert any("Best head: **L" in m.value for m in at.markdown)


@pytest.mark.parametrize("case", ["empty", "no_weights", "bart", "over_budget"])
def test_a_folder_that_cannot_open_says_why_before_loading(case, tmp_path, random_bert, monkeypatch):
    folder = tmp_path / case
    folder.mkdir()
    expected = {"empty": "is not a model folder (it has no config.json)", "no_weights": "has no weights",
                "bart": "is an encoder-decoder", "over_budget": "model memory budget"}[case]
    if case == "no_weights":
        (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    if case == "bart":
        from transformers import BartConfig, BartModel

        BartModel(BartConfig(vocab_size=50, d_model=8, encoder_layers=1, decoder_layers=1, encoder_attention_heads=1,
                             decoder_attention_heads=1, encoder_ffn_dim=8, decoder_ffn_dim=8)).save_pretrained(folder)
    if case == "over_budget":
        folder = random_bert
        monkeypatch.setenv("INDUCTION_MODEL_MEMORY_MB", "0.01")  # the random BERT's weights are ~0.3 MB
    assert expected in (folder_problem(str(folder)) or "")
    at = _type_folder(str(folder))
    assert not at.exception
    assert [e.value for e in at.error] == [folder_problem(str(folder))]
    assert not at.get("plotly_chart")  # nothing computed


def test_no_folder_is_offered_in_deployed_mode(monkeypatch, random_bert):
    monkeypatch.setenv("INDUCTION_DEPLOYED", "1")
    monkeypatch.setenv("INDUCTION_ALLOWED_MODELS", "toy,minilm")
    at = AppTest.from_file(APP, default_timeout=180).run()
    assert not at.text_input and len(at.selectbox(key="w_model").options) == 2  # the allow-list, no free field
    linked = AppTest.from_file(APP, default_timeout=180)
    linked.query_params["model"] = random_bert
    linked.run()
    assert not linked.exception and not any(random_bert in c.value for c in linked.caption)  # a link cannot open it
    assert any("this server offers" in w.value for w in linked.warning)
