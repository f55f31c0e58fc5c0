"""Per-head causal effects: equal to `ablate` head by head, the fast path equals the straightforward one,
the toy's induction heads back each other up, and bad input gets a clear error."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from induction.analyses.ablation import ablate, run_trials
from induction.analyses.effects import effects
from induction.capture import layer_suffix as suffix
from induction.config import ConfigError, MapConfig
from induction.engine import get_model, make_trials

from .conftest import ROOT

TOY = MapConfig(model="toy", trials=24, seed=2)


@pytest.mark.parametrize("mode", ["zero", "mean"])
def test_single_head_effects_equal_ablate(mode):
    result = effects(TOY, mode=mode, use_cache=False)
    assert result.path == "suffix"
    for layer in range(result.layers):
        for head in range(result.heads):
            one = ablate(TOY, [(layer, head)], mode=mode, use_cache=False)
            assert result.effect[layer, head] == pytest.approx(one.loss_ablated - one.loss_clean, abs=1e-4)


def _straightforward(model, batch, mode, pair=()):
    """One full ablated run per head, as `ablate` does it: loss per trial [T, L, H]."""
    out = np.empty((batch.trials, model.layers, model.heads))
    for layer in range(model.layers):
        for head in range(model.heads):
            out[:, layer, head] = run_trials(model, batch, (*pair, (layer, head)), mode)[1]
    return out


@pytest.mark.parametrize("path", ["suffix", "full"])
def test_fast_paths_equal_the_straightforward_way(random_bert, monkeypatch, path):
    if path == "full":  # an architecture whose layers cannot be re-run alone
        monkeypatch.setattr(suffix, "encoder_layers", lambda encoder: None)
    config = MapConfig(model=random_bert, trials=5, segment=9, seed=4)
    result = effects(config, use_cache=False)
    assert result.path == path
    model = get_model(random_bert)
    batch = make_trials(config, model)
    np.testing.assert_allclose(result.loss_ablated_per_trial, _straightforward(model, batch, "zero"), atol=1e-5, rtol=0)
    np.testing.assert_allclose(result.loss_clean_per_trial, run_trials(model, batch, (), "zero")[1], atol=1e-5, rtol=0)


def test_pairs_with_equals_ablating_both(random_bert):
    config = MapConfig(model=random_bert, trials=4, segment=9, seed=6)
    result = effects(config, pairs_with="L1H2", use_cache=False)
    model = get_model(random_bert)
    batch = make_trials(config, model)
    expected = _straightforward(model, batch, "zero", ((1, 2),))
    np.testing.assert_allclose(result.loss_ablated_per_trial, expected, atol=1e-5)
    np.testing.assert_allclose(result.loss_base_per_trial, run_trials(model, batch, ((1, 2),), "zero")[1], atol=1e-5)
    assert np.abs(result.effect[1, 2]) < 1e-5  # ablating the paired head again changes nothing


def test_the_toy_induction_heads_back_each_other_up():
    single = effects(TOY, use_cache=False)
    both = ablate(TOY, [(1, 0), (1, 1)], use_cache=False)
    pair_effect = both.loss_ablated - both.loss_clean
    assert pair_effect > 5 * (single.effect[1, 0] + single.effect[1, 1])
    on_top = effects(TOY, pairs_with="L1H0", use_cache=False)  # L1H1 carries the task once L1H0 is gone
    assert on_top.effect[1, 1] == pytest.approx(both.loss_ablated - on_top.loss_base, abs=1e-4)
    assert on_top.effect[1, 1] > 10 * single.effect[1, 1]
    assert abs(on_top.effect[0, 0]) < 0.01  # L0H0 only feeds L1H0, which is already gone


def test_cached_and_adaptive(random_bert, fresh_cache):
    config = MapConfig(model=random_bert, trials=6, segment=9, seed=8)
    first, second = effects(config), effects(config)
    assert not first.cached and second.cached
    np.testing.assert_array_equal(first.loss_ablated_per_trial, second.loss_ablated_per_trial)
    adaptive = effects(MapConfig(model=random_bert, trials=40, segment=9, seed=8), until_sem=1e9, chunk=3)
    assert adaptive.trials == 3  # any standard error is below 1e9: the first chunk ends it
    fixed = effects(MapConfig(model=random_bert, trials=3, segment=9, seed=8), use_cache=False)
    np.testing.assert_allclose(adaptive.effect, fixed.effect, atol=1e-6)  # the same first three trials
    with pytest.raises(ConfigError, match="need zero ablation"):
        effects(config, mode="mean", until_sem=0.1)


def test_bad_input_gets_a_clear_error(random_bert):
    with pytest.raises(ConfigError, match="there is no L9H0"):
        effects(TOY, pairs_with="L9H0")
    with pytest.raises(ConfigError, match="L<layer>H<head>"):
        effects(TOY, pairs_with="head nine")
    with pytest.raises(ConfigError, match="unknown ablation mode"):
        effects(TOY, mode="half")
    out = subprocess.run([sys.executable, "-m", "induction", "effects", "--model", "minilm", "--trials", "2"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no trained masked-LM head" in out.stderr and "Traceback" not in out.stderr
