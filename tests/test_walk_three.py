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

from induction.analyses.dynamics import appearance_step

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
