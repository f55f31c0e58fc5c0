"""Known answers: the bundled toy has an induction head; fresh weights do not; minilm loads offline."""

from __future__ import annotations

import numpy as np

from induction.config import OFFSETS, MapConfig
from induction.engine import compute_map, get_model, make_trials
from induction.models.loading import describe
from induction.models.registry import TOY_PATH
from induction.reference import load_eager, straightforward_scores
from induction.toys.toy_bert import FIRST_WORD, N_WORDS


def test_toy_has_an_induction_head():
    result = compute_map(MapConfig(model="toy", setup="standard", trials=50), use_cache=False)
    best = result.top_heads("prev", 1)[0]
    assert best.score >= 0.5, result.top_heads("prev", 3)
    assert best.score > 10 * result.baseline
    assert result.mean("prev")[0].max() < 3 * result.baseline  # layer 0 holds the previous/next-token heads
    at = {k: OFFSETS.index(k) for k in (-1, 0, 1)}
    profile = result.offsets[1, 0]  # L1H0 around the previous instance
    assert profile[at[0]] > profile[at[-1]] and profile[at[0]] > profile[at[1]]  # it peaks on the instance itself


def test_toy_circuit_reads_left_and_right_context_in_the_shuffled_setup():
    result = compute_map(MapConfig(model="toy", setup="shuffled", trials=50), use_cache=False)
    assert result.mean("left_match")[1, 0] >= 0.5 and result.mean("right_match")[1, 1] >= 0.5
    assert result.mean("right_match")[1, 0] < 0.2 and result.mean("left_match")[1, 1] < 0.2


def test_triple_setup_attends_both_ways():
    result = compute_map(MapConfig(model="toy", setup="triple", trials=50), use_cache=False)
    for target in ("earlier", "later"):
        assert 0.25 <= result.mean(target)[1, 0] <= 0.75


def test_same_architecture_freshly_initialised_has_none(tmp_path):
    from transformers import AutoConfig, BertForMaskedLM

    from induction.toys.toy_bert import save_tokenizer

    fresh = BertForMaskedLM(AutoConfig.from_pretrained(TOY_PATH))
    fresh.config.architectures = ["BertForMaskedLM"]
    fresh.save_pretrained(tmp_path)
    save_tokenizer(tmp_path)
    result = compute_map(MapConfig(model=str(tmp_path), trials=50, segment=describe("toy").default_segment),
                         use_cache=False)
    assert result.mean("prev").max() < 3 * result.baseline


def test_toy_clean_protocol_samples_only_its_ordinary_tokens():
    model = get_model("toy")
    batch = make_trials(MapConfig(model="toy", trials=20), model)
    body = batch.original_ids[:, 1:-1]
    assert body.min() >= FIRST_WORD  # no [PAD], [unusedN], [UNK], [CLS], [SEP], [MASK]
    assert set(model.vocab.clean_ids.tolist()) == set(range(FIRST_WORD, FIRST_WORD + N_WORDS))


def test_minilm_real_weights_load_offline_and_agree_with_the_reference(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = MapConfig(model="minilm", trials=2, segment=40)
    result = compute_map(config, use_cache=False)
    assert (result.layers, result.heads) == (6, 12)
    assert result.fingerprint.startswith("sha256:")
    model = get_model("minilm")
    assert model.mlm is None  # BertModel checkpoint: no MLM head, none invented
    expected = straightforward_scores(load_eager(model.source), make_trials(config, model), "standard")
    np.testing.assert_allclose(result.per_trial["prev"], expected["prev"], atol=1e-5)


def test_shipped_weights_are_what_the_script_builds():
    """The toy in the repo is exactly `python -m induction.toys.toy_bert`'s output (provenance check)."""
    import torch
    from safetensors.torch import load_file

    from induction.toys.toy_bert import build

    shipped = load_file(str(TOY_PATH / "model.safetensors"))
    built = build().state_dict()
    assert set(shipped) <= set(built)
    for name, tensor in shipped.items():  # float32 tolerance: another CPU's LAPACK may round differently
        torch.testing.assert_close(tensor, built[name], rtol=1e-5, atol=1e-5, msg=name)
