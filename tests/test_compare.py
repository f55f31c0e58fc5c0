"""Comparing two maps: the rank correlation against a straightforward rank computation, the depth alignment,
and the Compare page on the toys."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from induction.analyses.compare import depth_spearman, rank_degenerate, ranks, relative_depth, spearman

from .conftest import ROOT


def straightforward_ranks(values) -> list[float]:
    """Rank i = 1 + (number of smaller values) + (number of equal others) / 2: the textbook average rank."""
    flat = list(np.asarray(values, dtype=float).ravel())
    return [1 + sum(v < x for v in flat) + (sum(v == x for v in flat) - 1) / 2 for x in flat]


def straightforward_spearman(a, b) -> float:
    ra, rb = np.array(straightforward_ranks(a)), np.array(straightforward_ranks(b))
    return float(np.corrcoef(ra, rb)[0, 1])


@pytest.mark.parametrize("seed", range(5))
def test_spearman_agrees_with_a_straightforward_rank_computation(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, size=(3, 4)).astype(float)  # small integers: many ties
    b = a + rng.normal(0, 1.5, size=a.shape)
    assert ranks(a).tolist() == straightforward_ranks(a)
    assert spearman(a, b) == pytest.approx(straightforward_spearman(a, b))


def test_known_answers():
    a = np.array([[0.1, 0.9], [0.3, 0.5]])
    assert spearman(a, a * 2 + 1) == pytest.approx(1.0)  # any increasing map of the same heads
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, np.zeros_like(a)))  # a constant map ranks nothing
    with pytest.raises(ValueError, match="align them by depth"):
        spearman(a, np.zeros((3, 2)))


def test_relative_depth_lines_up_models_of_different_depth():
    assert relative_depth(2).tolist() == [0.25, 0.75]
    shallow = np.array([[0.0, 0.1], [0.2, 0.2], [0.5, 0.3], [0.9, 0.2]])  # rising with depth, strongest last
    deep = np.zeros((8, 3))
    deep[:, 1] = np.linspace(0.1, 0.8, 8)  # also rising
    assert depth_spearman(shallow, deep) == pytest.approx(1.0)
    assert depth_spearman(shallow, deep[::-1]) == pytest.approx(-1.0)  # strongest first instead
    assert rank_degenerate(shallow, deep) is None


def test_a_rank_correlation_over_fewer_than_four_points_is_no_number():
    """Issue 39 item 3: toy (2 layers) against minilm (6) gave -1.000: two depth bins always rank to +-1."""
    two = np.array([[0.0, 0.1], [0.9, 0.2]])
    deep = np.random.default_rng(0).random((6, 12))
    assert np.isnan(depth_spearman(two, deep)) and np.isnan(depth_spearman(deep, two))
    assert "only 2 depth bins" in rank_degenerate(two, deep)
    assert np.isnan(spearman(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0])))  # three heads
    assert "only 3 heads" in rank_degenerate(np.array([1.0, 2.0, 3.0]), np.array([3.0, 1.0, 2.0]))


def make_app(**params) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for key, value in {"trials": 4, **params}.items():
        at.query_params[key] = str(value)
    at.run()
    return at.switch_page("views/compare.py").run()


def test_compare_page_two_seeds_of_the_toy(fresh_cache):
    at = make_app()
    at.number_input(key="cmp_seed").set_value(1).run()
    assert not at.exception and not at.error
    assert len(at.get("plotly_chart")) == 3  # both maps and their difference
    rho = next(m for m in at.metric if m.label.startswith("Spearman"))
    assert float(rho.value) > 0.5  # the same hand-set model: the same heads rank high on other trials
    import json

    a, b = (json.loads(c.proto.spec)["data"][0] for c in at.get("plotly_chart")[:2])
    assert (a["zmin"], a["zmax"]) == (b["zmin"], b["zmax"])  # one colour scale


def test_compare_page_models_of_different_depth_align_by_depth(fresh_cache):
    at = make_app(setup="repeat", target="induction")
    at.selectbox(key="cmp_model").select("minilm").run()
    assert not at.exception and not at.error
    assert any("relative depth" in c.proto.spec for c in at.get("plotly_chart"))
    assert any(m.label.startswith("Spearman") and "depth" in m.label for m in at.metric)


def test_b_lives_in_the_link_and_is_restored_from_it(fresh_cache):
    at = make_app()
    assert at.query_params["seed2"] == "1"  # a first visit: B is A's next seed, in the link from the start
    at.number_input(key="cmp_seed").set_value(3).run()
    assert at.query_params["seed2"] == "3" and not at.exception
    again = make_app(model2="toy", seed2="3")  # a new browser opens the link: B comes back
    assert again.number_input(key="cmp_seed").value == 3 and not again.exception
    names = [b.proto.label for b in again.get("download_button")]
    assert "Comparison (JSON)" in names and "Figure (HTML)" in names
    files = [b.proto.url for b in again.get("download_button")]
    assert files  # the exports are offered


def test_a_click_on_bs_map_opens_bs_head(fresh_cache):
    from .test_app import click_chart

    at = make_app(seed2="5")
    b_chart = at.get("plotly_chart")[1]
    click_chart(at, b_chart, 1, 0)
    assert not at.exception
    assert at.title[0].value == "Head drill-down"
    assert (at.query_params["seed"], at.query_params["layer"], at.query_params["head"]) == ("5", "1", "0")
