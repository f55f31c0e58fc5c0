"""Head ablation: known answers on the toy, and a shared model is never left ablated."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from induction.analyses.ablation import ablate, cumulative_ablation, top_heads
from induction.config import ConfigError, MapConfig
from induction.engine import compute_map, get_model, make_trials

from .conftest import ROOT

CONFIG = MapConfig(model="toy", trials=40, seed=1)


@pytest.fixture(scope="module")
def toy_map():
    return compute_map(CONFIG)


def _outputs(model, ids):
    with torch.inference_mode():
        return model.mlm(input_ids=ids).logits.clone()


def test_ablating_the_induction_heads_raises_the_copying_loss(toy_map):
    both = top_heads(toy_map, "prev", 2)
    assert sorted(both) == [(1, 0), (1, 1)], "the toy's two induction heads sit in its second layer"
    res = ablate(CONFIG, both)
    assert res.loss_clean is not None and res.loss_ablated > res.loss_clean + 2.0
    for l, h in both:
        assert np.isnan(res.ablated("prev")[l, h])  # an ablated head has no score
    out = res.to_json()
    assert out["ablated"]["prev"][1][0] is None and out["diff"]["prev"][1][1] is None
    assert set(out) >= {"ablated_heads", "mode", "clean", "ablated", "diff", "loss_clean", "loss_ablated"}
    # one induction head alone is backed up by the other: the loss rises far less
    single = ablate(CONFIG, both[:1])
    assert single.loss_ablated - single.loss_clean < 0.5 * (res.loss_ablated - res.loss_clean)


def test_same_layer_heads_are_untouched_and_earlier_layers_matter(toy_map):
    same = ablate(CONFIG, [(1, 1)])
    np.testing.assert_array_equal(same.per_trial["prev"][:, 1, 0], toy_map.per_trial["prev"][:, 1, 0])
    prev_token_head = ablate(CONFIG, [(0, 0)])  # feeds L1H0's queries and keys
    assert prev_token_head.ablated("prev")[1, 0] < toy_map.mean("prev")[1, 0] - 0.3
    assert prev_token_head.diff("prev")[1, 1] > -0.05  # L1H1 reads the next-token head, not L0H0


def test_model_is_never_left_ablated_even_when_the_call_raises():
    model = get_model("toy")
    ids = torch.tensor([[101, 110, 120, 130, 110, 103, 130, 102]])
    before = _outputs(model, ids)
    ablate(CONFIG, ["L1H0", "L0H1"], use_cache=False)

    def boom(done, total):
        raise RuntimeError("interrupted mid-call")

    with pytest.raises(RuntimeError, match="interrupted"):
        ablate(MapConfig(model="toy", trials=40, seed=2), ["L1H1"], mode="mean", progress=boom, use_cache=False)
    assert torch.equal(_outputs(model, ids), before)


def test_mean_ablation_replaces_a_head_by_its_mean_over_the_trials():
    """Known answer: on a batch of identical trials a head's mean over the trials is its own output, so mean
    ablation changes nothing, while zero ablation of both layer-0 heads breaks the toy's circuit."""
    from induction.analyses.ablation import run_trials
    from induction.trials.rrt import TrialBatch

    model = get_model("toy")
    one = make_trials(CONFIG, model, count=1)
    same = TrialBatch(*(np.repeat(a, 4, axis=0) for a in (one.input_ids, one.original_ids, one.mask_index,
                                                           one.anchor_index)),
                      {k: np.repeat(v, 4) for k, v in one.target_index.items()})
    layer0 = ((0, 0), (0, 1))
    clean = run_trials(model, same, (), "zero")[1]
    np.testing.assert_allclose(run_trials(model, same, layer0, "mean")[1], clean, atol=1e-5)
    assert run_trials(model, same, layer0, "zero")[1].min() > clean.max() + 1.0


def test_bad_heads_are_refused():
    with pytest.raises(ConfigError, match="there is no L5H0"):
        ablate(CONFIG, ["L5H0"])
    with pytest.raises(ConfigError, match="there is no L1H2"):
        ablate(CONFIG, ["L1H2"])
    with pytest.raises(ConfigError, match="L<layer>H<head>"):
        ablate(CONFIG, ["layer1"])
    with pytest.raises(ConfigError, match="unknown ablation mode"):
        ablate(CONFIG, ["L1H0"], mode="half")


def test_sweep_is_cumulative(toy_map):
    rows = cumulative_ablation(CONFIG, "prev", 3)
    assert [r["k"] for r in rows] == [1, 2, 3]
    assert rows[2]["ablated"][:2] == rows[1]["ablated"]
    assert rows[1]["loss"] > rows[0]["loss"]  # removing both induction heads hurts more than one


def test_cli_ablate_json(tmp_path):
    out = tmp_path / "ab.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "ablate", "--model", "toy", "--setup", "standard",
                           "--heads", "L1H0,L0H1", "--trials", "8", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["ablated_heads"] == ["L1H0", "L0H1"] and data["heads"] == 2 and data["mode"] == "zero"
    assert data["ablated"]["prev"][1][0] is None
    assert isinstance(data["loss_clean"], float) and isinstance(data["loss_ablated"], float)


def test_the_loss_change_has_a_standard_error_paired_over_the_trials():
    """Issue 40 item 11: effects gave a standard error, ablate did not. Restated independently: the per-trial losses
    with and without the head, differenced trial by trial."""
    from induction.analyses.ablation import clean_loss, run_trials
    from induction.engine import make_trials, model_for
    from induction.runs import resolve_run

    config = MapConfig(model="toy", trials=8)
    result = ablate(config, "L1H0", use_cache=False)
    run = resolve_run(config)
    model = model_for(run)
    ablated = run_trials(model, make_trials(run, model), ((1, 0),), "zero")[1]
    change = ablated - clean_loss(run, use_cache=False)
    assert result.loss_change == pytest.approx(change.mean(), abs=1e-6)
    assert result.loss_change_sem == pytest.approx(change.std(ddof=1) / np.sqrt(len(change)), abs=1e-6)
    assert result.to_json()["loss_change_sem"] == result.loss_change_sem
    assert "L1H0" in repr(result) and "±" in repr(result) and len(repr(result)) < 200
