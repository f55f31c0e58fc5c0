"""The engine agrees with the straightforward reference, and bad input gets clear errors."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from induction.config import OFFSETS, ConfigError, MapConfig, ModelLoadError, max_segment
from induction.engine import compute_map, get_model, make_trials
from induction.models.registry import OFFLINE_MODELS
from induction.reference import load_eager, straightforward_scores
from induction.scoring import mean_sem
from induction.toys.toy_bert import MAX_POSITIONS

from .conftest import ROOT


@pytest.mark.parametrize("setup", ["standard", "shuffled", "triple"])
@pytest.mark.parametrize("protocol", ["clean", "paper"])
def test_engine_agrees_with_straightforward_reference(random_bert, setup, protocol):
    config = MapConfig(model=random_bert, setup=setup, protocol=protocol, trials=6, seed=3, segment=12)
    result = compute_map(config, use_cache=False)
    batch = make_trials(config, get_model(random_bert))
    expected = straightforward_scores(load_eager(random_bert), batch, setup)
    assert set(result.targets) == set(expected)
    for target, ref in expected.items():
        np.testing.assert_allclose(result.per_trial[target], ref, atol=1e-5, rtol=0)
    assert result.baseline == pytest.approx(1 / batch.input_ids.shape[1])


def test_mean_sem_on_a_hand_worked_example():
    # scores 1, 2, 3, 6: mean 3; squared deviations 4 + 1 + 0 + 9 = 14; sample variance 14 / 3;
    # standard error sqrt(14 / 3 / 4) = sqrt(7 / 6)
    mean, sem = mean_sem(np.array([[1.0], [2.0], [3.0], [6.0]]))
    assert mean[0] == pytest.approx(3.0) and sem[0] == pytest.approx((7 / 6) ** 0.5)
    assert mean_sem(np.array([[0.4]]))[1][0] == 0.0  # one trial: no spread to estimate


def test_trial_count_and_shapes_follow_the_config(random_bert):
    result = compute_map(MapConfig(model=random_bert, trials=7, segment=10), use_cache=False)
    assert result.trials == 7 and result.per_trial["prev"].shape == (7, result.layers, result.heads)


def test_offset_profile_reads_attention_around_the_previous_instance(random_bert):
    result = compute_map(MapConfig(model=random_bert, trials=5, segment=10), use_cache=False)
    centre = result.offsets[:, :, OFFSETS.index(0)]  # offset 0 is the previous instance itself
    np.testing.assert_allclose(centre, result.mean("prev"), atol=1e-6)
    np.testing.assert_allclose(result.offsets[:, :, OFFSETS.index(-1)], result.mean("prev_before"), atol=1e-6)
    np.testing.assert_allclose(result.offsets[:, :, OFFSETS.index(1)], result.mean("prev_after"), atol=1e-6)


@pytest.mark.parametrize("changes, message", [
    ({"setup": "quadruple"}, "unknown setup"),
    ({"protocol": "fancy"}, "unknown protocol"),
    ({"trials": 0}, "trials must be between 1"),
    ({"trials": -5}, "trials must be between 1"),
    ({"trials": "ten"}, "trials must be a whole number"),
    ({"seed": -1}, "seed must be between"),
    # random_bert has the toy's 128 positions
    ({"segment": 100}, f"the longest segment that fits is {max_segment('standard', 'clean', MAX_POSITIONS)}"),
])
def test_bad_input_gets_a_clear_error(random_bert, changes, message):
    config = dataclasses.replace(MapConfig(model=random_bert, trials=2, segment=8), **changes)
    with pytest.raises(ConfigError, match=message):
        compute_map(config, use_cache=False)


def test_unknown_target_is_refused(random_bert):
    result = compute_map(MapConfig(model=random_bert, trials=2, segment=8), use_cache=False)
    with pytest.raises(ConfigError, match="unknown target 'earlier' for setup 'standard'"):
        result.mean("earlier")


def test_folder_without_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match="has no weights"):
        compute_map(MapConfig(model=str(tmp_path), trials=1), use_cache=False)


def test_model_that_is_neither_an_encoder_nor_a_decoder(tmp_path):
    from transformers import ViTConfig, ViTModel

    ViTModel(ViTConfig(num_hidden_layers=1, num_attention_heads=2, hidden_size=16, intermediate_size=16,
                       image_size=8, patch_size=4)).save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match=r"neither a BERT-family encoder .* nor a decoder-only model"):
        compute_map(MapConfig(model=str(tmp_path), trials=1), use_cache=False)


def test_unreachable_hub_names_the_model_and_the_way_out(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        compute_map(MapConfig(model="large", trials=1), use_cache=False)
    text = str(err.value)
    assert "bert-large-uncased" in text and ", ".join(OFFLINE_MODELS) in text and "\n" not in text
    assert "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set" in text
    assert "set HF_HUB_OFFLINE=1" not in text  # issue 40: it was already set


@pytest.mark.parametrize("name", ["../../etc/passwd", "/nonexistent/model", "a b c", "x" * 300])
def test_path_like_or_malformed_ids_are_refused(name):
    with pytest.raises(ModelLoadError):
        compute_map(MapConfig(model=name, trials=1), use_cache=False)


def test_interrupted_run_leaves_no_cache_entry(random_bert, fresh_cache):
    config = MapConfig(model=random_bert, trials=40, segment=8)

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        compute_map(config, progress=interrupt)
    assert compute_map(config).cached is False  # nothing half-written was served
    assert compute_map(config).cached is True


def test_cli_map_json_and_trial_dump(random_bert, tmp_path):
    out = tmp_path / "map.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "map", "--model", random_bert, "--setup", "shuffled",
                           "--trials", "3", "--segment", "9", "--json", str(out), "--dump-trials"],
                          cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    for key in ("model", "setup", "protocol", "trials", "seed", "layers", "heads", "targets", "sem", "baseline",
                "elapsed_s", "cached"):
        assert key in data
    assert data["targets"] == ["left_match", "right_match", "sum"] and set(data["mean"]) == set(data["targets"])
    assert np.asarray(data["mean"]["sum"]).shape == (3, 4)
    dump = data["trials_dump"]
    assert len(dump) == 3
    for trial in dump:
        assert trial["input_ids"][trial["mask_index"]] == 103
        assert trial["target_index"]["left_match"] <= 10
    assert "left_match" in proc.stdout


def test_cli_bad_input_exits_2_with_one_line(random_bert):
    proc = subprocess.run([sys.executable, "-m", "induction", "map", "--model", random_bert, "--trials", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "trials must be between 1" in proc.stderr and "Traceback" not in proc.stderr


def test_adaptive_trials_stop_at_the_bound_and_equal_the_fixed_count_map(random_bert, fresh_cache):
    from induction.engine import compute_map_until

    config = MapConfig(model=random_bert, trials=60, segment=10)
    loose = compute_map_until(config, 0.01, chunk=5)
    assert loose.trials < 60  # a random model's scores vary little: the bound is met early
    assert max(float(loose.sem(t).max()) for t in loose.targets) < 0.01
    fixed = compute_map(dataclasses.replace(config, trials=loose.trials), use_cache=False)
    np.testing.assert_array_equal(loose.per_trial["prev"], fixed.per_trial["prev"])
    capped = compute_map_until(config, 1e-9, chunk=20)
    assert capped.trials == 60


def test_cli_precompute_fills_what_fits_and_skips_what_cannot_load(fresh_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    proc = subprocess.run([sys.executable, "-m", "induction", "precompute", "--models", "toy", "tiny", "--trials", "4"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=os.environ.copy())
    assert proc.returncode == 1  # an image build asked for tiny must not pass without it...
    assert "could not precompute tiny" in proc.stderr
    lines = proc.stdout.splitlines()  # ...but everything that could be computed was
    maps = [l for l in lines if l.startswith("toy") and "effects" not in l]
    assert sum("computed" in l for l in maps) == 4  # clean: four setups (repeat has no paper protocol)
    assert any(l.startswith("toy") and "effects" in l and "computed" in l for l in lines)
    assert sum("too long for 'toy'" in l for l in lines) == 3  # paper's 200-token segments do not fit
    assert any(l.startswith("tiny") and "could not load model 'tiny'" in l for l in lines)
    assert compute_map(MapConfig(model="toy", setup="triple", trials=4)).cached is True
    from induction.analyses.effects import cached_effects

    assert cached_effects(MapConfig(model="toy", trials=4)) is not None  # the Effects page reads it as it is


def test_runs_are_exactly_reproducible(random_bert):
    config = MapConfig(model=random_bert, setup="shuffled", trials=5, segment=9, seed=42)
    a, b = compute_map(config, use_cache=False), compute_map(config, use_cache=False)
    for t in a.targets:
        np.testing.assert_array_equal(a.per_trial[t], b.per_trial[t])


def test_cli_models_lists_what_works_offline(monkeypatch):
    proc = subprocess.run([sys.executable, "-m", "induction", "models"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()}
    from induction.models.registry import KNOWN_MODELS

    assert set(rows) == set(KNOWN_MODELS)
    assert {"toy", "minilm", "tiny", "small", "medium", "base", "large", "roberta-base", "deberta-v3-base",
            "mpnet-base", "modernbert-base", "xlm-roberta-base", "mbert", "distilbert", "albert-base",
            "electra-generator", "roberta-large"} <= set(rows)  # the encoders researchers reach for
    assert "needs network" in rows["mpnet-base"] and "microsoft/mpnet-base" in rows["mpnet-base"]
    assert " offline " in rows["toy"] and " offline " in rows["minilm"]
    assert "24x16" in rows["large"] and "bert-large-uncased" in rows["large"]


def test_a_checkpoint_claiming_an_mlm_head_it_lacks_gets_none(tmp_path):
    """Weights without the head must not come back with a freshly initialised one."""
    import json as _json

    from .conftest import save_random_bert

    path = save_random_bert(tmp_path / "headless", mlm=False)
    cfg = _json.loads((path / "config.json").read_text())
    cfg["architectures"] = ["BertForMaskedLM"]  # a lie: only the encoder's weights are there
    (path / "config.json").write_text(_json.dumps(cfg))
    assert get_model(str(path)).mlm is None


def test_reduced_precision_path_runs_and_stays_close(random_bert):
    """bfloat16 on the CPU exercises the half-precision path the GPU uses (rows are read in float32)."""
    base = dict(model=random_bert, trials=6, segment=12, device="cpu")
    full = compute_map(MapConfig(**base, dtype="float32"), use_cache=False)
    half = compute_map(MapConfig(**base, dtype="bfloat16"), use_cache=False)
    assert half.per_trial["prev"].dtype == np.float32
    diff = np.abs(half.per_trial["prev"] - full.per_trial["prev"]).max()
    assert 0 < diff < 0.02


def test_toy_known_answer_survives_bfloat16():
    result = compute_map(MapConfig(model="toy", trials=20, device="cpu", dtype="bfloat16"), use_cache=False)
    assert result.top_heads("prev", 1)[0].score >= 0.5


def test_each_target_has_its_own_offset_profile(fresh_cache):
    """Issue 39 item 6: the profile around a target's own position, so offset 0 reads that target's score (triple's
    `later` lies in the third copy, not around the earlier instance)."""
    result = compute_map(MapConfig(model="toy", setup="triple", trials=4))
    for target in ("earlier", "later"):
        profile, around = result.offsets_for(target)
        np.testing.assert_allclose(profile[:, :, OFFSETS.index(0)], result.mean(target), atol=1e-6)
        assert around == f"the {target} position"
    assert compute_map(MapConfig(model="toy", setup="triple", trials=4)).offsets_for("later")[1] == "the later position"
