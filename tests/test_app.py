"""Headless page tests with Streamlit's AppTest on the real toy: the numbers, the URL restores and records
state, bad parameters fall back with a notice, errors show as messages, a chart click selects a head.
(Each page's layout alone, on a stubbed library, is in test_pages.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.testing.v1 import AppTest

from induction.config import max_segment
from induction.figures.export import browser_available
from induction.models.registry import OFFLINE_MODELS
from induction.toys.toy_bert import MAX_POSITIONS

from .conftest import ROOT

# with a Chromium on the machine, the map offers SVG, PDF and PNG too
FIGURES = ["Figure (SVG)", "Figure (PDF)", "Figure (PNG)"] if browser_available() else []

APP = str(ROOT / "app.py")
TOY_MOST = max_segment("standard", "clean", MAX_POSITIONS)  # the longest clean segment the toy's positions fit


def make_app(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = str(value)
    return at


def shared_link(at) -> str:
    """The link the sidebar offers to copy (in its HTML box: no code block, see dashboard.sidebar.link_to_copy)."""
    from dashboard.sidebar import shared_link_in

    return shared_link_in(h.proto.body for h in at.sidebar.get("html"))


def charts(at):
    return at.get("plotly_chart")


def click_chart(at: AppTest, chart, layer: int, head: int) -> None:
    """Feed a Plotly selection through AppTest's widget-state path, as the browser would send it."""
    click_point(at, chart, [layer, head, 0.5, 0.01], x=head, y=layer)


def click_point(at: AppTest, chart, customdata: list, x: float = 0, y: float = 0) -> None:
    states = at._tree.get_widget_states()
    ws = WidgetState(id=chart.proto.id)
    point = {"curve_number": 1, "point_number": 0, "point_index": 0, "x": x, "y": y, "customdata": customdata}
    ws.string_value = json.dumps({"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}})
    states.widgets.append(ws)
    at._run(states)


def test_landing_page_shows_the_toy_map_with_no_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = make_app(trials=8).run()
    assert not at.exception
    assert at.title[0].value == "Induction map"
    assert len(charts(at)) == 1
    assert at.query_params["model"] == "toy" and at.query_params["trials"] == "8"
    assert any("Top heads" in m.value for m in at.markdown)
    assert any("Click a cell" in i.value for i in at.main.info)
    assert any("Hub not reachable" in i.value for i in at.sidebar.info)  # one line, offline models offered


def test_query_parameters_restore_the_state_and_selected_head():
    at = make_app(model="toy", setup="triple", target="later", trials=6, seed=4, segment=12, layer=1, head=1).run()
    assert not at.exception and not at.warning
    assert at.selectbox(key="w_setup").value == "triple"
    assert at.selectbox(key="w_target").value == "later"
    assert at.number_input(key="w_seed").value == 4
    assert at.number_input(key="w_segment").value == 12
    assert at.subheader[0].value == "Head L1H1"
    assert at.selectbox(key="sel_layer").value == 1 and at.selectbox(key="sel_head").value == 1
    assert len(charts(at)) == 5  # map, [MASK] row, distribution, offsets, full pattern
    assert "This trial's tokens and [MASK] row (JSON)" in [b.label for b in at.get("download_button")]
    assert at.query_params["layer"] == "1" and at.query_params["segment"] == "12"


@pytest.mark.parametrize("params, fragment", [
    ({"trials": "-4"}, "trials"),
    ({"model": "../../etc"}, "not a model name"),
    ({"setup": "nope"}, "setup='nope'"),
    ({"layer": "1"}, "both layer and head"),
])
def test_bad_parameters_fall_back_with_a_visible_notice(params, fragment):
    at = make_app(**{"trials": "5", **params}).run()
    assert not at.exception
    assert any(fragment in w.value for w in at.warning), [w.value for w in at.warning]
    assert len(charts(at)) == 1  # the default view still renders


def test_engine_errors_show_as_messages_and_the_app_keeps_running():
    at = make_app(trials=5, segment=500).run()  # too long for the toy's 128 positions
    assert not at.exception
    assert any(f"longest segment that fits is {TOY_MOST}" in e.value for e in at.error)
    at.checkbox(key="w_segment_auto").check().run()
    assert not at.exception and not at.error and len(charts(at)) == 1


def test_unloadable_model_shows_why():
    at = make_app(model="not-an-org/no-such-model", trials=2).run()
    assert not at.exception
    assert any("could not load model" in e.value and all(m in e.value for m in OFFLINE_MODELS) for e in at.error)


def test_chart_click_selects_the_head_and_syncs_pickers_and_url():
    at = make_app(trials=6).run()
    click_chart(at, charts(at)[0], 0, 1)
    assert not at.exception
    assert at.subheader[0].value == "Head L0H1"
    assert at.selectbox(key="sel_layer").value == 0 and at.selectbox(key="sel_head").value == 1
    assert at.query_params["layer"] == "0" and at.query_params["head"] == "1"
    at.selectbox(key="sel_head").select(0).run()  # keyboard path moves the selection too
    assert at.subheader[0].value == "Head L0H0" and at.query_params["head"] == "0"


def test_changing_setup_resets_the_target():
    at = make_app(trials=4).run()
    at.selectbox(key="w_setup").select("shuffled").run()
    assert not at.exception
    assert at.selectbox(key="w_target").value == "left_match"
    assert at.query_params["target"] == "left_match"


def test_sizes_page_offline_says_why_once_and_shows_the_offline_models(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as on a machine without network and with an empty HF cache
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    at = make_app(trials=4, segment=10).run()
    at.switch_page("views/sizes.py").run()
    assert not at.exception and not at.error  # no red panels
    notices = [i.value for i in at.main.info if "cannot load here" in i.value]
    assert len(notices) == 1 and "tiny, small, medium, base, large" in notices[0]
    encoders = ["toy", "trained-bert", "minilm"]  # the offline encoders (the decoders run only repeat)
    assert at.multiselect(key="sizes_extra").value == encoders
    panels = [s.value for s in at.subheader]
    assert panels[:-1] == encoders and len(charts(at)) == 3  # the depth series' section is last, behind a toggle
    assert panels[-1].startswith("Trained here") and not at.toggle(key="sizes_depth").value
    assert any("in the last third" in m.value for m in at.markdown)


def test_ablation_page_from_a_shared_link_and_by_click():
    at = make_app(trials=8, ablate="L1H0,L1H1").run()
    at.switch_page("views/ablation.py").run()
    assert not at.exception and not at.error
    assert len(charts(at)) == 3  # clean, ablated, difference
    assert any(m.label.startswith("Masked-token loss") for m in at.metric)
    assert float(at.metric[0].value) > 2.0  # both induction heads gone: the copying task fails
    assert at.query_params["ablate"] == "L1H0,L1H1"
    click_chart(at, charts(at)[0], 1, 1)  # clicking an ablated head removes it
    assert not at.exception
    assert at.query_params["ablate"] == "L1H0"
    assert at.multiselect(key="w_ablate").value == ["L1H0"]
    at.radio(key="w_mode").set_value("mean").run()
    assert not at.exception and at.query_params["mode"] == "mean"


def test_effects_page_on_the_toy_and_a_click_opens_the_head():
    at = make_app(trials=8).run()
    at.switch_page("views/effects.py").run()
    at.button[0].click().run()
    assert not at.exception and len(charts(at)) == 3
    scatter = charts(at)[2]
    click_chart(at, scatter, 1, 0)  # the scatter's points carry (layer, head) like the map's cells
    assert not at.exception
    assert at.title[0].value == "Head drill-down" and at.subheader[0].value == "Head L1H0"
    assert at.query_params["layer"] == "1" and at.query_params["head"] == "0"


def test_text_page_on_the_toy_from_a_link_and_a_click():
    words = [f"t{i:03d}" for i in range(100, 120)]
    at = make_app(text=" ".join(words + words)).run()
    at.switch_page("views/text.py").run()
    assert not at.exception and not at.error and len(charts(at)) == 2  # the tokens and the map
    click_chart(at, charts(at)[1], 1, 1)
    assert not at.exception and len(charts(at)) == 3
    assert any(m.value.startswith("**L1H1**") and "of 20 occurrences" in m.value for m in at.markdown)
    click_point(at, charts(at)[0], [7, 0, 28])  # a click on the 8th repeated token masks that occurrence
    assert not at.exception and at.selectbox(key="text_occurrence").value == 7
    at.text_area(key="user_text").input("t001 " * 70).run()  # over 300 characters: out of the link
    assert "text" not in at.query_params and any("not this text" in c.value for c in at.caption)
    assert at.selectbox(key="text_occurrence").value == 0  # a new text starts at its first occurrence
    tokens = json.loads(charts(at)[0].proto.spec)["data"][0]
    assert tokens["textfont"]["color"][tokens["marker"]["color"].index("#d62728")] == "white"  # white on red
    # the page's own Target: the sidebar offers no setup, target or segment that this page would ignore
    assert not [s for s in at.sidebar.selectbox if s.key in ("w_setup", "w_target")]
    assert at.text_area(key="user_text").max_chars == 20_000


def test_long_tokens_fit_their_chips_and_the_row_plot_names_its_tokens():
    from types import SimpleNamespace

    from induction.figures.plots import CHIP_CHARS, row_figure, tokens_figure

    fig = tokens_figure([["tokenization", "a"]], [], None)
    assert fig.data[0].text == ("toke…", "a") and len(fig.data[0].text[0]) == CHIP_CHARS
    assert fig.data[0].customdata[0][3] == "tokenization"  # whole on hover
    detail = SimpleNamespace(row=np.array([0.1, 0.6, 0.3]), tokens=["[CLS]", "t101", "[MASK]"],
                             original_tokens=["[CLS]", "t101", "t101"], target_index={"prev": 1}, mask_index=2,
                             query_label="[MASK]")
    row = row_figure(detail)
    assert "1 t101" in row.layout.xaxis.ticktext and "2 [MASK]" in row.layout.xaxis.ticktext
    assert [a.text for a in row.layout.annotations] == ["prev: t101", "[MASK]"]


def test_icl_page_refuses_a_model_without_an_mlm_head_before_any_button():
    at = make_app(model="minilm", trials=4).run()
    at.switch_page("views/icl.py").run()
    assert not at.exception and not at.button  # nothing to press: it is said up front
    assert any("no trained masked-LM head" in e.value for e in at.error)


def test_ablation_page_top_k_button():
    at = make_app(trials=8).run()
    at.switch_page("views/ablation.py").run()
    assert any("Choose at least one head" in i.value for i in at.info)
    at.number_input(key="w_top_k").set_value(2).run()
    at.button[0].click().run()
    assert not at.exception
    assert set(at.query_params["ablate"].split(",")) == {"L1H0", "L1H1"}


def test_icl_page_errors_and_result(tmp_path):
    from .test_icl import write_docs

    at = make_app(trials=6).run()
    at.switch_page("views/icl.py").run()
    # the study's 50/500 do not fit the toy's 128 positions: the defaults follow the model
    assert (at.number_input(key="icl_short").value, at.number_input(key="icl_long").value) == (32, 128)
    assert any("reads only its own tokens" in e.value for e in at.error) and not at.button  # said before a click
    at.text_input(key="icl_corpus").set_value(write_docs(tmp_path / "docs", repeats=True)).run()
    at.number_input(key="icl_long").set_value(500).run()
    at.button[0].click().run()
    assert not at.exception
    assert any("does not fit" in e.value for e in at.error)
    at.number_input(key="icl_short").set_value(25)
    at.number_input(key="icl_long").set_value(100).run()
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert float(at.metric[0].value) > 0.5


def test_a_free_model_id_or_folder_from_the_sidebar(random_bert):
    from dashboard.sidebar import OTHER

    at = make_app(trials=4, segment=10).run()
    at.selectbox(key="w_model").select(OTHER).run()
    at.text_input(key="w_model_custom").input(random_bert).run()
    assert not at.exception and not at.error
    assert at.caption[0].value.startswith(random_bert)
    assert any("Best head: **L" in m.value for m in at.markdown)
    assert not at.query_params.get("model")  # a link never names a local folder
    assert any("does not carry the local folder" in c.value for c in at.sidebar.caption)
    from dashboard.downloads import public

    exported = public({"model": random_bert, "model_source": random_bert, "setup": "standard"})
    assert random_bert not in str(exported) and exported["setup"] == "standard"


def _figure(chart) -> dict:
    return json.loads(chart.proto.spec)


def test_sidebar_inputs_drive_the_url_and_the_map():
    at = make_app(trials=4).run()
    assert _figure(charts(at)[0])["data"][0]["zmax"] == 1.0  # one shared 0..1 scale by default
    at.checkbox(key="w_rescale").check().run()
    heat = _figure(charts(at)[0])["data"][0]
    assert heat["zmax"] < 1.0 and at.query_params["rescale"] == "1"
    at.number_input(key="w_trials").set_value(6).run()
    at.number_input(key="w_seed").set_value(3).run()
    at.selectbox(key="w_protocol").select("paper").run()
    most = max_segment('standard', 'paper', MAX_POSITIONS)  # the paper's 200 does not fit: cut to fit, and said
    assert not at.error and f"segment {most} (the paper's 200 cut to the longest that fits" in at.caption[0].value
    at.checkbox(key="w_segment_auto").uncheck().run()
    at.number_input(key="w_segment").set_value(20).run()
    assert not at.exception and not at.error
    q = at.query_params
    assert (q["trials"], q["seed"], q["protocol"], q["segment"]) == ("6", "3", "paper", "20")
    assert "toy · standard setup · paper protocol" in at.caption[0].value
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["Scores (CSV)", "Map (JSON)", "Figure (HTML)", *FIGURES]


def test_head_page_pickers_select_a_head_from_a_blank_state():
    """Layer first, then head: the layer stays picked, and the pair opens the head (mouse or keyboard alike)."""
    at = make_app(trials=4).run()
    at.switch_page("views/head.py").run()
    assert any("Pick a layer and a head above" in i.value for i in at.info)
    at.selectbox(key="sel_layer").select(1).run()
    assert at.selectbox(key="sel_layer").value == 1 and not at.query_params.get("layer")
    at.selectbox(key="sel_head").select(0).run()
    assert not at.exception and at.subheader[0].value == "Head L1H0"
    assert at.query_params["layer"] == "1" and at.query_params["head"] == "0"


def test_the_figure_download_works_offline():
    from dashboard.downloads import figure_html
    from induction.figures.plots import map_figure

    page = figure_html(map_figure(np.zeros((2, 2))))
    assert '<script src="http' not in page and len(page) > 1_000_000  # plotly.js inlined, nothing fetched


def test_a_head_the_model_lacks_is_dropped_with_a_notice_under_the_title():
    at = make_app(trials=4, layer=5, head=0, seed="x").run()
    assert not at.exception
    assert at.main[0].value == "Induction map"  # the title first, the link's notices under it
    warnings = [w.value for w in at.warning]
    assert any("ignored seed='x'" in w for w in warnings)
    assert any("ignored the selected head L5H0: 'toy' has layers 0..1 and heads 0..1" in w for w in warnings)
    assert not at.query_params.get("layer") and any("Click a cell" in i.value for i in at.info)


def test_the_sample_trial_is_in_the_link():
    at = make_app(trials=6, layer=1, head=0, trial=3).run()
    assert at.number_input(key="sample_trial").value == 3 and any("trial 3" in str(c.proto) for c in charts(at))
    at.number_input(key="sample_trial").set_value(4).run()
    assert at.query_params["trial"] == "4"


def test_choosing_other_clears_the_previous_model_until_one_is_typed(monkeypatch, tmp_path):
    from dashboard.sidebar import OTHER

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    at = make_app(model="tiny", trials=2).run()
    assert any("could not load model" in e.value for e in at.error)
    at.selectbox(key="w_model").select(OTHER).run()
    assert not at.exception and not at.error and not charts(at)
    assert any("Type a Hugging Face id" in i.value for i in at.sidebar.info)


def test_the_sidebar_offers_the_link_to_copy_and_heads_can_be_compared():
    at = make_app(trials=5, layer=1, head=0).run()
    link = shared_link(at)
    assert "model=toy" in link and "layer=1" in link and "head=0" in link and "trials=5" in link
    at.multiselect(key="compare_heads").select("L1H1").select("L0H0").run()
    assert not at.exception
    import json as _json

    traces = [_json.loads(c.proto.spec)["data"] for c in charts(at)]
    assert sorted(len(t) for t in traces if t and t[0].get("type") == "histogram") == [3]  # three heads overlaid


def test_the_top_heads_list_keeps_every_number_at_any_width():
    at = make_app(trials=6).run()
    listing = next(m.value for m in at.markdown if m.value.startswith("- **L"))
    first = listing.splitlines()[0]
    assert "±" in first and "x uniform" in first and len(listing.splitlines()) == 4  # the toy's four heads


def test_words_from_the_sidebar_and_the_word_split_view():
    at = make_app(model="minilm", trials=3, segment=20, layer=0, head=1).run()
    at.radio(key="w_unit").set_value("word").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="w_target").value == "prev_piece"
    assert at.query_params["unit"] == "word" and at.query_params["piece"] == "all"
    assert any("how attention to the earlier word splits" in c.proto.spec for c in charts(at))
    at.radio(key="w_piece").set_value("first").run()
    assert not at.exception and at.query_params["piece"] == "first"
    fresh = make_app(model="minilm", trials=3, segment=20, unit="word", piece="last", target="word_after").run()
    assert not fresh.exception and not fresh.warning and fresh.selectbox(key="w_target").value == "word_after"


def test_a_click_on_model_sizes_or_setups_opens_the_head_of_that_panel(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = make_app(trials=4).run()
    at.switch_page("views/setups.py").run()
    assert not at.exception
    shuffled = next(c for c in charts(at) if c.proto.id and "setup_shuffled_left_match" in c.proto.id)
    click_chart(at, shuffled, 1, 1)
    assert not at.exception and at.title[0].value == "Head drill-down"
    q = at.query_params
    assert (q["setup"], q["target"], q["layer"], q["head"]) == ("shuffled", "left_match", "1", "1")
    assert any("shuffled setup" in c.value for c in at.caption)  # the Head page says which run it shows
    at.switch_page("views/sizes.py").run()
    assert not at.exception
    toy = next(c for c in charts(at) if "size_toy" in c.proto.id and "gpt" not in c.proto.id)
    click_chart(at, toy, 1, 0)
    assert not at.exception and at.title[0].value == "Head drill-down" and at.subheader[0].value == "Head L1H0"


def test_a_map_click_scrolls_to_the_drilldown_once():
    at = make_app(trials=4).run()
    click_chart(at, charts(at)[0], 1, 1)
    assert not at.exception and at.subheader[0].value == "Head L1H1"
    assert any("scrollIntoView" in h.proto.body for h in at.main.get("html"))
    at.run()  # a rerun that is not a click stays where the reader is
    assert not any("scrollIntoView" in h.proto.body for h in at.main.get("html"))


def test_back_and_forward_step_through_the_views():
    at = make_app(trials=4).run()
    at.number_input(key="w_seed").set_value(3).run()
    click_chart(at, charts(at)[0], 1, 0)
    assert (at.query_params["seed"], at.query_params["layer"]) == ("3", "1")
    for key in ("layer", "head"):  # Back: the browser restores the URL before the click
        del at.query_params[key]
    at.run()
    assert not at.exception and at.session_state.layer is None and at.selectbox(key="sel_layer").value is None
    at.query_params["seed"] = "0"  # Back again: the URL before the seed changed
    at.run()
    assert at.number_input(key="w_seed").value == 0 and at.session_state.seed == 0
    at.run()  # the app's own URL is not a step: nothing reloads
    assert at.number_input(key="w_seed").value == 0 and not at.warning


def test_page_only_settings_stay_on_their_page_and_out_of_the_others_links():
    at = make_app(trials=4, ablate="L1H0").run()
    assert "ablate" not in at.query_params  # the map's link: no ablation
    at.switch_page("views/ablation.py").run()
    assert at.query_params["ablate"] == "L1H0" and not at.exception  # kept for the page that reads it
    at.switch_page("views/map.py").run()
    assert "ablate" not in at.query_params
    assert "ablate" not in shared_link(at)  # nor in the link to copy


def test_the_sidebar_is_told_to_close_on_a_narrow_window_once_a_session():
    at = make_app(trials=4).run()
    scripts = [h.proto.body for h in at.sidebar.get("html")]
    assert any("stSidebarCollapseButton" in s and "innerWidth >= 1000" in s for s in scripts)
    at.run()  # once: a user who opens the sidebar again keeps it open
    assert not any("stSidebarCollapseButton" in h.proto.body for h in at.sidebar.get("html"))
