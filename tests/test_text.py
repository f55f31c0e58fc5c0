"""Induction on natural text: the toy known answer, agreement with a one-occurrence-at-a-time reference,
the occurrence rules, and a clear error for every kind of bad input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from induction.analyses.text_map import TEXT_TARGETS, TextConfig, find_occurrences, prepare, text_map
from induction.config import ConfigError
from induction.engine import get_model
from induction.reference import load_eager, straightforward_scores
from induction.toys.toy_bert import N_WORDS

from .conftest import ROOT


def toy_words(n: int, seed: int = 0) -> list[str]:
    return [f"t{i:03d}" for i in np.random.default_rng(seed).choice(N_WORDS, n, replace=False)]


def test_find_occurrences_takes_the_nearest_earlier_one_far_enough_back():
    #      0  1  2  3  4  5  6  7
    ids = [9, 5, 6, 5, 7, 5, 6, 9]
    assert find_occurrences(ids, min_distance=2, skip={9}) == [(3, 1), (5, 3), (6, 2)]
    assert find_occurrences(ids, min_distance=4, skip={9}) == [(5, 1), (6, 2)]  # 3 is too close to 5


def test_toy_known_answer_a_text_said_twice():
    words = toy_words(30)
    result = text_map(TextConfig(model="toy", text=" ".join(words + words)), use_cache=False)
    assert result.trials == 30  # every word of the second saying is an occurrence
    assert result.mean("earlier")[1].min() >= 0.5  # both layer-1 heads find the earlier occurrence
    assert result.mean("earlier")[0].max() < 3 * result.baseline
    assert {o["earlier"] for o in result.occurrences} == set(range(1, 31))


def test_a_text_without_repeats_has_nothing_to_score():
    with pytest.raises(ConfigError, match="nothing to score"):
        text_map(TextConfig(model="toy", text=" ".join(toy_words(60))), use_cache=False)


def test_text_map_agrees_with_a_one_occurrence_at_a_time_reference(random_bert):
    words = toy_words(40, seed=3)
    text = " ".join(words[:25] + words[5:20] + words[30:40] + words[:10])
    config = TextConfig(model=random_bert, text=text, min_distance=3)
    result = text_map(config, use_cache=False)
    _, batches, occurrences, _, _ = prepare(config)
    reference = load_eager(random_bert)
    expected = {t: np.concatenate([straightforward_scores(reference, b, "text")[t] for b in batches])
                for t in TEXT_TARGETS}
    assert len(occurrences) == result.trials > 10
    for target in TEXT_TARGETS:
        np.testing.assert_allclose(result.per_trial[target], expected[target], atol=1e-5, rtol=0)


def test_long_texts_are_cut_into_windows_that_fit_the_model():
    model = get_model("toy")
    words = toy_words(100, seed=1)
    text = " ".join(words * 4)  # 400 tokens: windows of 126 (the toy's 128 positions), the last one 22 long
    _, batches, occurrences, _, _ = prepare(TextConfig(model="toy", text=text, max_occurrences=2000))
    assert all(b.input_ids.shape[1] <= model.max_positions for b in batches)
    assert {o["window"] for o in occurrences} == {0, 1, 2}  # the last window's 22 words do not repeat in it
    for b in batches:  # an occurrence's earlier instance is in its own window, never a special token
        assert (b.original_ids[np.arange(b.trials), b.mask_index] == b.original_ids[np.arange(b.trials),
                                                                                    b.target_index["earlier"]]).all()


def test_max_occurrences_samples_down_in_text_order():
    words = toy_words(30)
    config = TextConfig(model="toy", text=" ".join(words + words), max_occurrences=7, seed=2)
    occurrences = prepare(config)[2]
    assert len(occurrences) == 7 and occurrences == sorted(occurrences, key=lambda o: o["position"])


@pytest.mark.parametrize("config, message", [
    (TextConfig(text="   "), "the text is empty"),
    (TextConfig(text="the cat sat on the mat and the dog"), "unknown to the tokenizer of 'toy'"),
    (TextConfig(), "exactly one of"),
    (TextConfig(text="t001", corpus="python-docs"), "exactly one of"),
    (TextConfig(corpus="python-docs", document="no-such-topic"), "has no document 'no-such-topic'"),
    (TextConfig(text="t001 t002", min_distance=1), "min_distance must be between 2"),
])
def test_bad_text_input_gets_a_clear_error(config, message):
    with pytest.raises(ConfigError, match=message):
        text_map(config, use_cache=False)


def test_files_that_are_not_text_or_too_large_are_refused(tmp_path, monkeypatch):
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError, match="not a UTF-8 text file"):
        text_map(TextConfig(file=str(binary)), use_cache=False)
    from induction.analyses import text_map as text

    monkeypatch.setattr(text, "MAX_TEXT_BYTES", 100)
    big = tmp_path / "big.txt"
    big.write_text("t001 " * 50)
    with pytest.raises(ConfigError, match="larger than"):
        text_map(TextConfig(file=str(big)), use_cache=False)


def test_cli_text_writes_json_and_refuses_cleanly(tmp_path):
    words = toy_words(20)
    out = tmp_path / "text.json"
    proc = subprocess.run([sys.executable, "-m", "induction", "text", "--model", "toy", "--text",
                           " ".join(words + words), "--json", str(out), "--dump-trials"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import json

    data = json.loads(out.read_text())
    assert data["occurrences"] == 20 and len(data["per_occurrence"]) == 20 and len(data["trials_dump"]) == 20
    assert set(data["targets"]) == set(TEXT_TARGETS) and data["baseline"] > 0
    first = data["trials_dump"][0]
    assert first["input_ids"][first["mask_index"]] == get_model("toy").vocab.mask_id
    bad = subprocess.run([sys.executable, "-m", "induction", "text", "--model", "toy", "--text", "t001 t002"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "nothing to score" in bad.stderr and "Traceback" not in bad.stderr


DECODER_TEXT = " ".join(f"t{i:03d}" for i in [*range(40), *range(40)])  # toy-gpt's words, the 40 said twice


def test_a_decoder_text_map_finds_toy_gpts_induction_head_and_masks_nothing():
    from induction.analyses.text_map import TextConfig, prepare, text_map

    config = TextConfig(model="toy-gpt", text=DECODER_TEXT)
    result = text_map(config, use_cache=False)
    assert result.kind == "causal" and result.targets == ("induction", "duplicate", "previous_token")
    assert result.trials == 40  # every repeated word is a query
    best = result.top_heads("induction", 1)[0]
    assert best.name == "L1H0" and best.score >= 0.5
    assert result.top_heads("previous_token", 1)[0].name == "L0H0"
    model, batches, _, _, _ = prepare(config)
    ids = batches[0].input_ids
    assert ids[0, 0] == model.vocab.bos_id and not np.isin(ids, [101, 102, 103]).any()  # no [CLS]/[SEP]/[MASK]
    np.testing.assert_array_equal(batches[0].input_ids, batches[0].original_ids)  # nothing masked
    # the causal baseline: a query at position p sees p + 1 positions
    positions = np.concatenate([b.mask_index for b in batches])
    assert result.baseline == pytest.approx(float(np.mean(1.0 / (positions + 1))))


def test_a_decoder_text_map_agrees_with_the_eager_reference():
    from induction.analyses.text_map import TextConfig, prepare, text_map
    from induction.models.loading import resolve
    from induction.reference import load_eager, straightforward_scores

    config = TextConfig(model="toy-gpt", text=DECODER_TEXT, max_occurrences=12, seed=3)
    result = text_map(config, use_cache=False)
    _, batches, _, _, _ = prepare(config)
    reference = load_eager(resolve("toy-gpt")[0])
    expected = [straightforward_scores(reference, batch, "standard") for batch in batches]
    for target in result.targets:
        np.testing.assert_allclose(result.per_trial[target], np.concatenate([e[target] for e in expected]),
                                   atol=1e-5, rtol=0, err_msg=target)
