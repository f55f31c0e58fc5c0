"""Several masked tokens a trial (the study's joint-attention question): the toy's known answer, agreement with
the one-trial-at-a-time reference, the cross view, one mask exactly as before, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from induction.analyses.ablation import ablate
from induction.config import ConfigError, MapConfig
from induction.engine import compute_map, get_model, make_trials
from induction.reference import load_eager, straightforward_scores
from induction.runs import map_key, resolve_run

from .conftest import ROOT


def test_toy_known_answer_a_contiguous_pair():
    """L1H0 finds the earlier instance through the left neighbour, L1H1 through the right one: the first mask of a
    pair (its right neighbour masked) keeps L1H0 and loses L1H1; the second keeps L1H1 and loses L1H0."""
    result = compute_map(MapConfig(model="toy", trials=40, masks=2, mask_span="contiguous"), use_cache=False)
    first, second = result.by_mask("prev")[:, 1]  # layer 1: [head 0, head 1] per mask
    assert first[0] >= 0.5 and first[1] < 0.1
    assert second[1] >= 0.5 and second[0] < 0.1
    assert result.trials == 40 and result.per_trial["prev"].shape[0] == 80  # (trial, mask) pairs


@pytest.mark.parametrize("setup", ["standard", "shuffled", "triple"])
@pytest.mark.parametrize("span", ["scattered", "contiguous"])
def test_several_masks_agree_with_the_reference(random_bert, setup, span):
    config = MapConfig(model=random_bert, setup=setup, trials=4, segment=12, seed=5, masks=3, mask_span=span)
    result = compute_map(config, use_cache=False)
    batch = make_trials(config, get_model(random_bert))
    assert batch.mask_index.shape == (4, 3)
    positions = np.sort(batch.mask_index, axis=1)
    gaps = np.diff(positions, axis=1)
    assert (gaps == 1).all() if span == "contiguous" else (gaps >= 2).all()
    expected = straightforward_scores(load_eager(random_bert), batch, setup)
    for target, ref in expected.items():
        np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5, rtol=0)


def test_the_cross_view_reads_each_masks_attention_to_every_masks_earlier_instance(random_bert):
    import torch

    config = MapConfig(model=random_bert, trials=3, segment=12, seed=2, masks=2, mask_span="scattered")
    result = compute_map(config, use_cache=False)
    batch = make_trials(config, get_model(random_bert))
    eager = load_eager(random_bert)
    cross = np.zeros((3, 2, 2, result.layers, result.heads))
    for t in range(3):
        with torch.no_grad():
            att = eager(input_ids=torch.tensor(batch.input_ids[t:t + 1]), output_attentions=True).attentions
        for i in range(2):
            for j in range(2):
                cross[t, i, j] = [[float(a[0, h, batch.mask_index[t, i], batch.anchor_index[t, j]])
                                   for h in range(result.heads)] for a in att]
    np.testing.assert_allclose(result.cross, cross.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(result.cross[1, 1], result.by_mask("prev")[1], atol=1e-6)  # its own instance


def test_one_mask_is_exactly_the_map_as_before(random_bert):
    default = MapConfig(model=random_bert, trials=4, segment=10)
    one = MapConfig(model=random_bert, trials=4, segment=10, masks=1, mask_span="contiguous")
    assert map_key(resolve_run(default)) == map_key(resolve_run(one))  # the same cache entry
    np.testing.assert_array_equal(compute_map(default, use_cache=False).per_trial["prev"],
                                  compute_map(one, use_cache=False).per_trial["prev"])
    assert make_trials(default, get_model(random_bert)).mask_index.shape == (4,)


def test_bad_mask_counts_get_clear_errors(random_bert):
    with pytest.raises(ConfigError, match="masks must be between 1 and 8"):
        compute_map(MapConfig(model=random_bert, trials=2, masks=9), use_cache=False)
    with pytest.raises(ConfigError, match="masks do not fit a segment of 6"):
        compute_map(MapConfig(model=random_bert, trials=2, segment=6, masks=4), use_cache=False)
    with pytest.raises(ConfigError, match="unknown mask span"):
        compute_map(MapConfig(model=random_bert, trials=2, masks=2, mask_span="random"), use_cache=False)
    with pytest.raises(ConfigError, match="leave masks=1, unit='token'"):
        ablate(MapConfig(model="toy", trials=2, masks=2), ["L1H0"], use_cache=False)


def test_cli_masks_json_and_dump(tmp_path):
    out = tmp_path / "masks.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "map", "--model", "toy", "--trials", "3", "--masks",
                           "2", "--mask-span", "contiguous", "--json", str(out), "--dump-trials"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["masks"] == 2 and data["mask_span"] == "contiguous" and len(data["mean_by_mask"]) == 2
    assert np.asarray(data["cross"]).shape == (2, 2, 2, 2)
    trial = data["trials_dump"][0]
    assert len(trial["mask_index"]) == 2 and trial["mask_index"][1] == trial["mask_index"][0] + 1
    assert all(len(v) == 2 for v in trial["target_index"].values())


def test_the_curve_over_k_and_the_page():
    from streamlit.testing.v1 import AppTest

    from induction.analyses.masks import mask_curve

    from .test_app import click_chart

    curve = mask_curve(MapConfig(model="toy", trials=6), ks=range(1, 4))
    assert [p["k"] for p in curve["contiguous"]] == [1, 2, 3] and [p["k"] for p in curve["scattered"]] == [1, 2, 3]
    one = compute_map(MapConfig(model="toy", trials=6)).top_heads("prev", 1)[0]
    assert curve["scattered"][0]["score"] == pytest.approx(one.score)  # K = 1 is the ordinary map

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in {"masks": "2", "span": "contiguous", "trials": "6"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/masks.py").run()
    assert not at.exception and len(at.get("plotly_chart")) == 2  # one map per mask
    assert at.number_input(key="w_masks").value == 2 and at.radio(key="w_span").value == "contiguous"
    click_chart(at, at.get("plotly_chart")[0], 1, 0)
    assert len(at.get("plotly_chart")) == 3  # and the clicked head's cross view
    at.number_input(key="w_masks").set_value(3).run()
    assert at.query_params["masks"] == "3" and len(at.get("plotly_chart")) == 4
