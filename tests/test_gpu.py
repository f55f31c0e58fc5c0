"""Half precision on a GPU: the score difference to float32 is measured and bounded (skipped without CUDA)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from induction.config import MapConfig
from induction.engine import compute_map

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.mark.parametrize("setup", ["standard", "shuffled", "triple"])
def test_half_precision_scores_stay_close_to_float32(random_bert, setup):
    base = dict(model=random_bert, setup=setup, trials=20, segment=30, seed=0)
    cpu = compute_map(MapConfig(**base, device="cpu", dtype="float32"), use_cache=False)
    gpu32 = compute_map(MapConfig(**base, device="cuda", dtype="float32"), use_cache=False)
    gpu16 = compute_map(MapConfig(**base, device="cuda", dtype="float16"), use_cache=False)
    for target in cpu.targets:
        d32 = np.abs(gpu32.per_trial[target] - cpu.per_trial[target]).max()
        d16 = np.abs(gpu16.per_trial[target] - cpu.per_trial[target]).max()
        print(f"{setup} {target}: |cuda fp32 - cpu| {d32:.2e}, |cuda fp16 - cpu fp32| {d16:.2e}")
        assert d32 < 1e-4 and d16 < 5e-3


def test_toy_known_answer_holds_in_half_precision():
    result = compute_map(MapConfig(model="toy", trials=50, device="cuda", dtype="float16"), use_cache=False)
    assert result.top_heads("prev", 1)[0].score >= 0.5
