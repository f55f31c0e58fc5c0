"""Head ablation: known answers on the toy, and a shared model is never left ablated."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from induction.ablation import ablate, sweep, top_heads
from induction.config import ConfigError, MapConfig
from induction.engine import compute_map, get_model

from .conftest import ROOT

CONFIG = MapConfig(model="toy", trials=40, seed=1)


@pytest.fixture(scope="module")
def toy_map():
    return compute_map(CONFIG)


def _outputs(model, ids):
    with torch.inference_mode():
        return model.mlm(input_ids=ids).logits.clone()


def test_ablating_the_induction_head_raises_the_copying_loss(toy_map):
    (l, h), = top_heads(toy_map, "prev", 1)
    res = ablate(CONFIG, [(l, h)])
    assert res.loss_clean is not None and res.loss_ablated > res.loss_clean + 0.5
    assert np.isnan(res.ablated("prev")[l, h])  # an ablated head has no score
    out = res.to_json()
    assert out["ablated"]["prev"][l][h] is None and out["diff"]["prev"][l][h] is None
    assert set(out) >= {"heads", "mode", "clean", "ablated", "diff", "loss_clean", "loss_ablated"}


def test_same_layer_heads_are_untouched_and_earlier_layers_matter(toy_map):
    (l, h), = top_heads(toy_map, "prev", 1)
    assert l == 1, "the toy's induction head sits in its second layer"
    others = [(l, x) for x in range(4) if x != h]
    same = ablate(CONFIG, others)
    np.testing.assert_array_equal(same.per_trial["prev"][:, l, h], toy_map.per_trial["prev"][:, l, h])
    earlier = ablate(CONFIG, [(0, x) for x in range(4)])
    assert earlier.ablated("prev")[l, h] < toy_map.mean("prev")[l, h] - 0.1


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


def test_mean_ablation_differs_from_zero(toy_map):
    (l, h), = top_heads(toy_map, "prev", 1)
    zero, mean = ablate(CONFIG, [(l, h)]), ablate(CONFIG, [(l, h)], mode="mean")
    assert mean.loss_ablated != zero.loss_ablated and mean.loss_ablated > mean.loss_clean


def test_bad_heads_are_refused():
    with pytest.raises(ConfigError, match="there is no L5H0"):
        ablate(CONFIG, ["L5H0"])
    with pytest.raises(ConfigError, match="L<layer>H<head>"):
        ablate(CONFIG, ["layer1"])
    with pytest.raises(ConfigError, match="unknown ablation mode"):
        ablate(CONFIG, ["L1H0"], mode="half")


def test_sweep_is_cumulative(toy_map):
    rows = sweep(CONFIG, "prev", 3)
    assert [r["k"] for r in rows] == [1, 2, 3]
    assert rows[2]["ablated"][:2] == rows[1]["ablated"]
    assert rows[0]["loss"] > rows[0]["loss_clean"]


def test_cli_ablate_json(tmp_path):
    out = tmp_path / "ab.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "ablate", "--model", "toy", "--setup", "standard",
                           "--heads", "L1H0,L0H2", "--trials", "8", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["heads"] == ["L1H0", "L0H2"] and data["mode"] == "zero"
    assert data["ablated"]["prev"][1][0] is None
    assert isinstance(data["loss_clean"], float) and isinstance(data["loss_ablated"], float)
