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

from .page_checks import assert_clean, open_page

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
