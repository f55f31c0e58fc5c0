"""Words, not word pieces: word-level targets against an independent one-trial-at-a-time reference, the
single-piece invariant, the dump's piece spans, and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from induction.config import ConfigError, MapConfig
from induction.engine import compute_map, get_model, make_trials
from induction.reference import load_eager
from induction.trials import words

from .conftest import ROOT
from .test_reproduce import stand_in


@pytest.fixture(scope="module")
def standard_vocab_bert(tmp_path_factory):
    """A random BERT with the standard uncased vocabulary: its tokenizer splits words into pieces."""
    return stand_in(tmp_path_factory.mktemp("words") / "bert", 3, 4)


def _reference(path, batch) -> dict[str, np.ndarray]:
    """Per real masked piece, every target's attention summed over its positions, one trial at a time."""
    eager = load_eager(path)
    out: dict[str, list] = {name: [] for name in batch.sets}
    for t in range(batch.trials):
        with torch.no_grad():
            att = eager(input_ids=torch.tensor(batch.input_ids[t:t + 1]), output_attentions=True).attentions
        for k in np.nonzero(batch.valid[t])[0]:
            q = int(batch.mask_index[t, k])
            for name, sets in batch.sets.items():
                keys = [int(p) for p in sets[t, k] if p >= 0]
                out[name].append([[float(a[0, h, q, keys].sum()) for h in range(a.shape[1])] for a in att])
    return {k: np.asarray(v) for k, v in out.items()}


@pytest.mark.parametrize("piece", ["all", "first", "last"])
def test_word_targets_agree_with_the_reference(standard_vocab_bert, piece):
    config = MapConfig(model=standard_vocab_bert, unit="word", mask_piece=piece, trials=5, segment=24, seed=3)
    result = compute_map(config, use_cache=False)
    batch = make_trials(config, get_model(standard_vocab_bert))
    expected = _reference(standard_vocab_bert, batch)
    for name, ref in expected.items():
        np.testing.assert_allclose(result.per_trial[name], ref, atol=1e-5, rtol=0, err_msg=name)
    np.testing.assert_allclose(result.word_split["first"] + result.word_split["rest"], result.per_trial["prev_word"],
                               atol=1e-6)
    assert result.trials == 5 and (piece != "all" or result.per_trial["prev_piece"].shape[0] >= 5)


def test_with_single_piece_words_the_piece_the_word_and_the_token_scores_are_one(standard_vocab_bert, monkeypatch):
    model = get_model(standard_vocab_bert)
    single, _ = words.word_pool(model)
    monkeypatch.setitem(words._POOLS, model.source, (single, single))  # every word one piece
    config = MapConfig(model=standard_vocab_bert, unit="word", trials=4, segment=16, seed=1)
    result = compute_map(config, use_cache=False)
    np.testing.assert_allclose(result.per_trial["prev_piece"], result.per_trial["prev_word"], atol=1e-7)
    batch = make_trials(config, model)
    assert batch.sets["prev_word"].shape[2] == 1  # one position a word
    eager = load_eager(standard_vocab_bert)  # the token map's prev: attention to the earlier instance
    for t in range(batch.trials):
        with torch.no_grad():
            att = eager(input_ids=torch.tensor(batch.input_ids[t:t + 1]), output_attentions=True).attentions
        prev = [[float(a[0, h, batch.mask_index[t, 0], batch.anchor_index[t, 0]]) for h in range(a.shape[1])]
                for a in att]
        np.testing.assert_allclose(result.per_trial["prev_piece"][t], prev, atol=1e-5)


def test_bad_word_settings_get_clear_errors(standard_vocab_bert):
    with pytest.raises(ConfigError, match="gives no word of two or more pieces for the tokenizer of 'toy'"):
        compute_map(MapConfig(model="toy", unit="word", trials=2), use_cache=False)
    with pytest.raises(ConfigError, match="word unit has the standard setup's targets"):
        compute_map(MapConfig(model=standard_vocab_bert, unit="word", setup="shuffled", trials=2), use_cache=False)
    with pytest.raises(ConfigError, match="use setup='standard', masks=1"):
        compute_map(MapConfig(model=standard_vocab_bert, unit="word", masks=2, trials=2), use_cache=False)
    with pytest.raises(ConfigError, match="unknown unit 'sentence'"):
        compute_map(MapConfig(model=standard_vocab_bert, unit="sentence", trials=2), use_cache=False)
    with pytest.raises(ConfigError, match="unknown mask piece"):
        compute_map(MapConfig(model=standard_vocab_bert, unit="word", mask_piece="middle", trials=2), use_cache=False)


def test_cli_words_dump_records_each_words_pieces(standard_vocab_bert, tmp_path):
    out = tmp_path / "words.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "map", "--model", standard_vocab_bert, "--unit", "word",
                           "--trials", "3", "--segment", "20", "--json", str(out), "--dump-trials"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data["unit"] == "word" and set(data["targets"]) == set(words.WORD_TARGETS) and "split" in data
    trial = data["trials_dump"][0]
    spans = trial["word_spans"]
    assert sum(b - a for a, b in spans) == 2 * 20  # two copies of 20 pieces
    masked = trial["mask_index"]
    assert any(a <= masked[0] < b and masked == list(range(a, b)) for a, b in spans)  # a whole word masked
