"""Switching models in the sidebar: each kind is offered only the setups it runs, the app says when it changes a
setting, going back restores the user's choice or the model's default, and the Layer/Head boxes follow the selection."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from induction.config import CAUSAL_SETUPS, SETUPS

from .conftest import ROOT


def make_app(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in {"trials": 4, **params}.items():
        at.query_params[key] = str(value)
    return at.run()


def notices(at) -> list[str]:
    return [w.value for w in at.warning]


def test_a_decoder_is_offered_its_setups_and_told_why_the_setup_changed():
    at = make_app(layer=1, head=0)
    assert list(at.selectbox(key="w_setup").options) == list(SETUPS)
    at.selectbox(key="w_model").select("toy-gpt").run()
    assert not at.exception and not at.error
    assert list(at.selectbox(key="w_setup").options) == list(CAUSAL_SETUPS)
    assert at.query_params["setup"] == "repeat"
    assert any("setup standard → repeat" in n and "decoder" in n for n in notices(at)), notices(at)
    # the selection is cleared and the boxes say so: picking L0H0 (the old box said 1/0) selects it
    assert at.selectbox(key="sel_layer").value is None and at.selectbox(key="sel_head").value is None
    at.selectbox(key="sel_layer").select(0).run()
    at.selectbox(key="sel_head").select(0).run()
    assert at.subheader[0].value == "Head L0H0"


def test_going_back_restores_the_model_default_where_the_user_did_not_choose():
    at = make_app()
    at.selectbox(key="w_model").select("toy-gpt").run()
    at.selectbox(key="w_model").select("toy").run()
    assert not at.exception and not at.error
    assert at.query_params["setup"] == "standard" and at.query_params["target"] == "prev"  # toy's known answer
    assert any("setup repeat → standard" in n for n in notices(at)), notices(at)
    assert any("Best head: **L1H" in m.value for m in at.markdown)  # toy's induction heads, L1H0 / L1H1


def test_going_back_restores_the_users_own_choice():
    at = make_app()
    at.selectbox(key="w_setup").select("triple").run()
    at.selectbox(key="w_model").select("toy-gpt").run()
    assert at.query_params["setup"] == "repeat"
    at.selectbox(key="w_model").select("toy").run()
    assert at.query_params["setup"] == "triple" and not at.exception


def test_a_link_naming_a_setup_the_decoder_cannot_run_falls_back_with_a_notice():
    at = make_app(model="toy-gpt", setup="triple")
    assert not at.exception and not at.error and at.query_params["setup"] == "repeat"
    assert any("setup triple → repeat" in n for n in notices(at)), notices(at)


def test_a_setup_error_names_the_sidebar_not_a_flag():
    def page():
        from dashboard.progress import show_error

        show_error("model 'x' is causal: use --setup repeat (every token)")

    at = AppTest.from_function(page).run()
    assert at.error[0].value == "model 'x' is causal: choose the repeat setup in the sidebar (every token)"
