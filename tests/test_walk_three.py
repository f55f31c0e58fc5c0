"""The third walk (issue 39) on the real library, page by page: each item a new user met, now checked.

Why a file of its own: each test opens the page the walk named with the link it used (tests/page_checks.py's
open_page: no exception, no magic output, no bare None or NaN) and asserts the answer the issue expected.
Scores and formation steps of the trained series are never hard-coded (they are retrained): relations only.
"""

from __future__ import annotations

import functools
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from induction.analyses.dynamics import appearance_step

from .conftest import ROOT
from .page_checks import assert_clean, open_page
from .test_app import click_point

visit = functools.partial(open_page, timeout=300)


def texts(at) -> str:
    return " ".join(e.value for kind in ("info", "warning", "error", "caption", "markdown", "success")
                    for e in at.get(kind) if isinstance(getattr(e, "value", None), str))


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_your_text_on_a_decoder_draws_its_tokens_and_speaks_of_queries(fresh_cache):
    """Item 1: /text?model=trained-gpt&doc=... crashed in tokens_figure; the intro spoke of masking."""
    at = visit("views/text.py", model="trained-gpt", doc="assert")
    assert len(at.get("plotly_chart")) >= 2  # the token chips and the map
    assert at.radio(key="text_target").value == "induction"
    intro = at.main.caption[0].value
    assert "nothing is masked" in intro and "earlier_next" not in intro


def test_your_text_target_follows_a_switch_to_a_decoder(fresh_cache):
    """Item 1: switching to trained-gpt in the sidebar left the Target radio empty."""
    words = "def f(x): return x + 1\ndef g(x): return x + 1\n"
    at = visit("views/text.py", model="toy", text="t100 t101 t102 t103 t104 t100 t101 t102 t103 t104")
    assert at.radio(key="text_target").value == "earlier"
    at.sidebar.selectbox(key="w_model").select("trained-gpt").run()
    at.text_area(key="user_text").input(words).run()
    assert_clean(at)
    assert at.radio(key="text_target").value == "induction"
    assert at.radio(key="text_target").options == ["induction", "duplicate", "previous_token"]


def test_the_paper_protocol_runs_on_the_toy_and_says_its_segment_was_cut(fresh_cache):
    """Item 4: /?model=toy&protocol=paper was refused (segment 200 too long), though About says it runs offline."""
    at = visit("views/map.py", model="toy", protocol="paper")
    assert not at.error
    caption = at.main.caption[0].value
    assert "paper protocol" in caption and "the paper's 200 cut to the longest that fits" in caption


@pytest.mark.parametrize("target", ["earlier", "later"])
def test_attention_by_offset_follows_the_target(target, fresh_cache):
    """Item 6: triple/later on toy drew the profile around the earlier instance (offset 0 read `earlier`)."""
    at = visit("views/map.py", model="toy", setup="triple", target=target, layer=1, head=0)
    score = float(re.search(rf"\*\*{target}\*\* score \*\*([0-9.]+)", texts(at)).group(1))
    chart = next(s for s in specs(at) if "attention by offset" in json.dumps(s["layout"].get("title", "")))
    bars = chart["data"][0]
    at_zero = bars["y"][bars["x"].index(0)]
    assert at_zero == pytest.approx(score, abs=1e-3)
    assert f"the {target} position" in json.dumps(chart["layout"]["title"])


def test_compare_across_depths_says_two_bins_rank_nothing(fresh_cache):
    """Item 3 (build 4): /compare?model=toy&model2=minilm gave -1.000 from two depth bins."""
    at = visit("views/compare.py", model="toy", model2="minilm", segment=8)
    rho = next(m for m in at.metric if m.label.startswith("Spearman"))
    assert rho.value == "undefined" and "only 2 depth bins" in texts(at)


def test_no_head_formed_is_no_step():
    """Build 4: a formation step needs a head that passes SIGNAL_RATIO x the uniform baseline."""
    assert appearance_step([(0, 0.02), (100, 0.028), (200, 0.027)], floor=0.05) is None
    assert appearance_step([(0, 0.02), (100, 0.3), (200, 0.6)], floor=0.05) == 100
    assert appearance_step([(0, 0.02), (100, 0.04), (200, 0.06)], floor=0.05) == 200  # half the top is under the floor


def test_dynamics_scores_an_encoder_series_with_its_own_setup(fresh_cache):
    """Item 2: from /dynamics?model=trained-gpt, the trained-bert series was scored with the repeat setup's
    induction target and said "heads form: step 0"."""
    at = visit("views/dynamics.py", model="trained-gpt", trials=6)
    at.selectbox(key="dyn_choice").select("trained-bert").run()
    assert_clean(at)
    caption = next(c.value for c in at.main.caption if "checkpoints" in c.value)
    assert "setup standard" in caption and "target **prev**" in caption
    assert "scored with its own standard setup" in texts(at)
    formed = next(m.value for m in at.markdown if "Induction heads appear" in m.value)
    steps = [int(v) for v in re.findall(r"step (\d+)", formed)]
    assert "no head formed" in formed or (steps and steps[0] > 0)  # not the first checkpoint


def test_dynamics_opened_with_a_series_shows_that_series(fresh_cache):
    """Issue 34: /dynamics?model=trained-bert showed trained-gpt's series and said the sidebar's standard setup
    does not run on it."""
    at = visit("views/dynamics.py", model="trained-bert", trials=6)
    assert at.selectbox(key="dyn_choice").value == "trained-bert"
    assert "does not run on it" not in texts(at) and "scored with its own" not in texts(at)
    table = at.dataframe[0].value
    assert "head" not in table.columns  # no head chosen: no column of blanks
    assert all(m.startswith("trained-bert@step_") for m in table["model"])  # names, not server paths


def test_a_clicked_checkpoint_opens_its_map_by_name_with_the_head_selected(fresh_cache):
    """Item 8: the checkpoint's map showed a server path in its title and model box, and no model in its link."""
    at = visit("views/dynamics.py", model="trained-gpt", trials=6)
    chart = next(c for c in at.get("plotly_chart") if "dyn_chart" in c.proto.id)
    click_point(at, chart, ["trained-gpt@step_500", 500, 1, 0], x=500, y=0.5)
    assert_clean(at)
    assert at.title[0].value == "Induction map"
    assert at.query_params["model"] == "trained-gpt@step_500"
    assert (at.query_params["layer"], at.query_params["head"]) == ("1", "0")
    assert at.subheader[0].value == "Head L1H0"
    page = texts(at) + " ".join(s.value for s in at.sidebar.selectbox) + str(at.sidebar.selectbox[0].options)
    assert "/induction/toys" not in page and "trained-gpt@step_500" in at.main.caption[0].value


def test_several_masks_on_a_decoder_says_once_it_applies_to_encoders(fresh_cache):
    """Item 5: /masks?model=trained-gpt drew "mask 1: induction", answered K>=2 with CLI flags, plotted one point."""
    at = visit("views/masks.py", model="trained-gpt")
    assert not at.get("plotly_chart") and not at.error
    notes = [i.value for i in at.info if "applies to encoders only" in i.value]
    assert len(notes) == 1 and "--" not in texts(at)
    at = visit("views/masks.py", model="toy", setup="repeat", target="induction", masks=2)  # repeat masks nothing
    assert "standard setup" in texts(at) and at.get("plotly_chart")


def test_one_point_is_no_curve(fresh_cache):
    """Item 5: the curve over K plotted a single point."""
    at = visit("views/masks.py", model="toy", masks=2)
    next(b for b in at.button if b.label.startswith("Curve over K")).click().run()
    assert_clean(at)
    curves = [s for s in specs(at) if s["layout"].get("xaxis", {}).get("title", {}).get("text") == "masks (K)"]
    assert all(len(trace["x"]) >= 2 for c in curves for trace in c["data"])


def test_a_long_paste_on_minilm_is_estimated_as_it_takes_and_sampling_is_said(fresh_cache):
    """Item 10: 7,000 characters on minilm said about 4 s and took 13.7 s; occurrences were sampled silently."""
    from dashboard.text_panels import wait_note

    assert int(re.search(r"about (\d+) s", wait_note(7000, 6 * 12)).group(1)) >= 12
    at = visit("views/text.py", model="toy")
    at.text_area(key="user_text").input(" ".join(f"t{100 + i % 12}" for i in range(900))).run()
    assert_clean(at)
    assert any("repeated-token occurrences" in i.value and "are scored" in i.value for i in at.info)


def test_the_map_says_where_it_came_from_in_words(fresh_cache):
    """Item 11: "cached in 0.00s" right after a computation; "interface capture path" unexplained."""
    at = visit("views/map.py", model="toy")
    first = texts(at)
    assert "attention read inside the model's attention function" in first and "cached in" not in first
    at.run()
    assert "from the cache" in texts(at) and "cached in" not in texts(at)


def test_the_mosaic_never_offers_a_decoders_masked_map_and_drops_its_button(fresh_cache):
    """Item 12: with the triple setup it asked to compute decoders' triple maps; the button stayed after Compute."""
    at = visit("views/mosaic.py", model="toy", setup="triple", target="earlier")
    button = next(b for b in at.button if b.label.startswith("Compute "))
    assert "toy-gpt" not in button.label and "trained-gpt" not in button.label
    assert "no triple map (decoders run only the repeat setup)" in texts(at)
    button.click().run()
    assert_clean(at)
    assert not any(b.label.startswith("Compute ") for b in at.button) and at.get("plotly_chart")


def test_head_roles_say_what_local_and_induction_read(fresh_cache):
    """Item 13: toy L0H0 would be local by the page's rule; the encoder's induction role is another score."""
    at = visit("views/roles.py", model="toy")
    page = texts(at)
    assert "not also called local" in page and "standard setup's `prev`" in page


def test_ablation_and_several_masks_name_their_run(fresh_cache):
    """Item 14 (build 5): a screenshot or export of Ablation or Several masks named no model, setup or seed."""
    at = visit("views/ablation.py", model="toy", ablate="L1H0")
    run = "toy · standard · prev · 4 trials · seed 0"
    assert any(run in json.dumps(s["layout"].get("title", ""), ensure_ascii=False) for s in specs(at))
    download = next(b for b in at.get("download_button") if b.proto.label == "Ablation (JSON)")
    assert "ablation_toy_standard_prev_zero_4trials_seed0" in download.proto.id
    at = visit("views/masks.py", model="toy", masks=2)
    assert at.main.caption[1].value.startswith("toy · standard setup") and "seed 0" in at.main.caption[1].value


def test_effects_on_a_model_without_a_head_says_so_before_any_button(fresh_cache):
    """Item 15: Effects for minilm offered "Compute effects" and a cost before saying it has no MLM head."""
    at = visit("views/effects.py", model="minilm", segment=8)
    assert not any(b.label == "Compute effects" for b in at.button)
    assert any("has none" in i.value and "masked-LM head" in i.value for i in at.info)


def test_stale_settings_do_not_follow_the_user(fresh_cache):
    """Item 15: the app's rescale for minilm stayed on for toy; trial=60 of 4 trials showed another trial silently;
    the "app changed setup" banner showed on About."""
    at = visit("views/map.py", model="minilm", segment=8)
    assert at.query_params["rescale"] == "1"  # minilm's map is null: the app ticked it
    at.sidebar.selectbox(key="w_model").select("toy").run()
    assert_clean(at)
    assert "rescale" not in at.query_params and at.checkbox(key="w_rescale").value is False
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)  # the link opens the map page itself
    for key, value in dict(model="toy", trials=4, trial=60, layer=1, head=0).items():
        at.query_params[key] = str(value)
    at.run()
    assert_clean(at)
    assert any("ignored trial=60" in w.value for w in at.warning) and "trial" not in at.query_params
    assert at.number_input(key="sample_trial").value == 0
    at = visit("views/about.py", model="toy")
    at.sidebar.selectbox(key="w_model").select("toy-gpt").run()
    assert not any("The app changed" in w.value for w in at.warning)
    at.switch_page("views/map.py").run()
    assert any("The app changed" in w.value for w in at.warning)  # said on the next page that reads the setup


def test_cosmetics():
    """Item 16: 0.00 in every joint-attention cell, 12 head labels run together, cut labels with backticks, a typo
    told a network would fix it."""
    import numpy as np

    from dashboard.sidebar import _model_label
    from induction.figures.plots import cross_figure, map_figure
    from induction.models.registry import KNOWN_MODELS

    cross = cross_figure(np.full((2, 2), 0.003) + np.eye(2) * 0.001)
    assert cross.data[0].texttemplate not in ("%{z:.2f}",) and "5f" in cross.data[0].texttemplate
    assert map_figure(np.zeros((6, 12)), narrow=True).layout.xaxis.dtick == 3
    assert all("`" not in _model_label(m) and len(_model_label(m)) < 80 for m in KNOWN_MODELS)


def test_a_misspelled_model_is_told_so(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    from induction.models.loading import describe

    with pytest.raises(Exception) as caught:
        describe("gpt-99")
    assert "is not a model this app knows" in str(caught.value) and "toy-gpt" in str(caught.value)


SETUP_PAGES = ("map", "head", "sizes", "compare", "masks", "ablation", "effects", "mosaic")


@pytest.mark.parametrize("page", SETUP_PAGES)
@pytest.mark.parametrize("model, setup, target", [("toy", "repeat", "induction"), ("toy-gpt", "triple", "later")])
def test_every_setup_page_follows_the_model_and_says_so_once(page, model, setup, target, fresh_cache):
    """Build 1: a link whose setup does not apply to the model (or to the page) never computes or offers it, never
    answers with a CLI flag, and says what the page runs once."""
    from dashboard.pagestate import fit

    at = visit(f"views/{page}.py", model=model, setup=setup, target=target, ablate="L1H0")
    page_text = texts(at)
    assert "--" not in page_text
    kind = "causal" if model == "toy-gpt" else "encoder"
    view_setup = "repeat" if kind == "causal" else setup  # the sidebar gives a decoder its repeat setup
    fitted = fit(page, kind, view_setup, "induction" if kind == "causal" else target, model=model)
    if fitted.note:
        assert sum(fitted.note in i.value for i in at.info) == 1, fitted.note
    if not fitted.runs:
        assert not at.get("plotly_chart")
