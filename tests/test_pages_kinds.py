"""Pages per model kind on the real library from an empty cache (toy: an encoder; toy-gpt: a decoder; minilm:
real weights, where cheap): each page's own behaviour for each kind, checked clean (tests/page_checks.py).

Why beside test_page_tour.py: the tour opens every page for toy and toy-gpt and checks only that nothing is
wrong on it; these follow what a page does for a kind (the run it names, K masks on the map, B of another kind
on Compare, the sweep's axes, the text page on real weights, the sidebar inputs a page reads).
"""

from __future__ import annotations

import functools

import pytest
from streamlit.testing.v1 import AppTest

from .page_checks import assert_clean, open_page
from .test_app import click_chart

visit = functools.partial(open_page, timeout=240)  # the real library, not stubs: minutes at most


def texts(at) -> str:
    return " ".join(e.value for kind in ("info", "warning", "error", "caption", "markdown", "success")
                    for e in at.get(kind) if isinstance(getattr(e, "value", None), str))


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def click(at, label: str) -> AppTest:
    next(b for b in at.button if b.label.startswith(label)).click().run()
    assert_clean(at)
    return at


@pytest.mark.parametrize("model, best", [("toy", "L1H1"), ("toy-gpt", "L1H0")])  # the known answers
def test_the_map_and_the_head_page_name_the_run_for_each_kind(model, best, fresh_cache):
    at = visit("views/map.py", model=model, layer=1, head=0)
    assert at.subheader[0].value == "Head L1H0"
    assert at.main.caption[0].value.startswith(f"{model} · ") and "segment 16" in at.main.caption[0].value
    assert any(f"Best head: **{best}**" in m.value for m in at.markdown)
    at = visit("views/head.py", model=model, layer=1, head=0)
    caption = at.main.caption[0].value
    assert caption.startswith(f"{model} · ") and " setup · " in caption and "trials" in caption


def test_k_masks_on_several_masks_and_on_the_map(fresh_cache):
    at = visit("views/masks.py", model="toy", masks=2, span="contiguous")
    assert charts(at) >= 2 and at.query_params["masks"] == "2"
    at = visit("views/map.py", model="toy", masks=2, span="contiguous")
    assert "**2 masks** per trial, contiguous" in at.main.caption[0].value  # the Map page honours K
    assert at.query_params["masks"] == "2"
    csv = next(b for b in at.get("download_button") if b.proto.label == "Scores (CSV)")
    assert "dl_induction_toy_standard_prev_4trials_seed0_2masks_" in csv.proto.id  # the file named by the run
    at = visit("views/sizes.py", model="toy", masks=2, span="contiguous")
    assert "masks" not in at.query_params  # a page that does not read K leaves it out of its link


def test_compare_an_encoder_with_a_decoder_and_open_bs_head(fresh_cache):
    at = visit("views/compare.py", model="toy", model2="toy-gpt")
    assert at.query_params["model2"] == "toy-gpt" and "B runs repeat" in texts(at)
    b = next(c for c in at.get("plotly_chart") if "cmp_b" in c.proto.id)
    click_chart(at, b, 1, 0)
    assert_clean(at)
    assert at.title[0].value == "Head drill-down" and at.subheader[0].value == "Head L1H0"
    assert (at.query_params["model"], at.query_params["setup"]) == ("toy-gpt", "repeat")  # B became the view


@pytest.mark.parametrize("model", ["toy", "toy-gpt"])
def test_the_ablation_sweep_for_each_kind(model, fresh_cache):
    at = visit("views/ablation.py", model=model, ablate="L1H0")
    at = click(at, "Run sweep")
    sweep = next(c for c in at.get("plotly_chart") if "sweep_chart" in c.proto.id)
    assert "attention score" in sweep.proto.spec and "(nats)" in sweep.proto.spec and "+L1H" in sweep.proto.spec


def test_your_text_on_minilm_reads_only_the_model_and_seed(fresh_cache):
    words = "the cat sat on the mat while the dog ran to the park and the cat sat on the mat while the dog ran"
    at = visit("views/text.py", model="minilm", text=words, layer=0, head=0)  # a short paste: a few seconds
    assert charts(at) == 3 and at.selectbox(key="text_occurrence").value == 0
    assert [s.key for s in at.sidebar.selectbox] == ["w_model"]  # the page's own target only
    assert "This page reads only the inputs above" in " ".join(c.value for c in at.sidebar.caption)


def test_the_restore_notice_survives_the_rescale_rerun_of_a_null_map(fresh_cache):
    """minilm's map is null: the app ticks Rescale and reruns; what it changed on the switch is still said."""
    at = visit("views/map.py", model="toy-gpt")
    at.sidebar.selectbox(key="w_model").select("minilm").run()
    assert_clean(at)
    assert any("setup repeat → standard" in w.value for w in at.warning)
    assert at.query_params["rescale"] == "1"
