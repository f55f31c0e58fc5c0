"""Training from scratch: batches that reward induction and nothing simpler, a deterministic loop whose early
checkpoints are the full run's, and the command that regenerates the shipped series."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from induction.training.data import IGNORE, make_batch
from induction.training.recipes import RECIPES
from induction.training.vocabulary import CLS, FIRST_CHARACTER, MASK, SEP, VOCAB_SIZE, encode

GPT, BERT = RECIPES["trained-gpt"], RECIPES["trained-bert"]


def test_a_batch_is_a_pure_function_of_recipe_and_step():
    a, b, c = make_batch(GPT, 7), make_batch(GPT, 7), make_batch(GPT, 8)
    np.testing.assert_array_equal(a.input_ids, b.input_ids)
    assert not np.array_equal(a.input_ids, c.input_ids)
    assert not np.array_equal(a.input_ids, make_batch(dataclasses.replace(GPT, seed=1), 7).input_ids)
    assert a.input_ids.shape == (GPT.batch, GPT.positions) and (a.input_ids[:, 0] == CLS).all()


def test_every_late_target_of_a_decoder_is_predictable_by_induction_and_most_others_are_not():
    """A late target's bigram (previous token, target) occurred earlier in the sequence: an induction head can
    copy it. Outside the copies, random rows' next tokens are unpredictable: no earlier bigram starts with the
    previous token for most of them."""
    batch = make_batch(GPT, 3)
    ids, late = batch.input_ids, batch.late
    assert 0.2 < late.mean() < 0.6  # copies are a large share of the targets
    for row in range(ids.shape[0]):
        seq = list(ids[row])
        for p in np.flatnonzero(late[row]):  # position p predicts token p + 1
            prev, target = seq[p], seq[p + 1]
            assert any(seq[q] == prev and seq[q + 1] == target for q in range(p)), (row, p)
    np.testing.assert_array_equal(batch.labels[:, :-1], ids[:, 1:])  # the next token everywhere


def test_a_copy_span_varies_in_length_and_place_so_no_fixed_offset_solves_it():
    offsets = set()
    for step in range(4):
        batch = make_batch(GPT, step)
        for row in range(batch.input_ids.shape[0]):
            seq = batch.input_ids[row]
            for p in np.flatnonzero(batch.late[row])[:1]:
                offsets.add(int(p - max(q for q in range(p) if seq[q] == seq[p] and seq[q + 1] == seq[p + 1])))
    assert len(offsets) > 20


def test_an_encoder_batch_masks_inside_and_outside_the_copies():
    batch = make_batch(BERT, 5)
    ids, labels = batch.input_ids, batch.labels
    assert (ids[:, 0] == CLS).all() and (ids[:, -1] == SEP).all()
    masked = labels != IGNORE
    assert (ids[masked] == MASK).all() and (labels[masked] >= FIRST_CHARACTER).all()
    assert not (ids[~masked] == MASK).any()
    assert batch.late.any() and (masked & ~batch.late).any()  # masks outside the repeats too: counting fails
    assert ids.max() < VOCAB_SIZE


def test_the_vocabulary_reads_python_docs():
    from induction.training.data import character_stream

    assert (character_stream() == 1).mean() < 0.002  # [UNK] is id 1: almost every character is known
    assert encode("a\n")[0] != encode("a\n")[1]


def _tiny(recipe):
    return dataclasses.replace(recipe, hidden=16, inner=16, positions=32, batch=4, warmup=2,
                               checkpoints=(0, 3, 6), log_every=1)


@pytest.mark.parametrize("recipe", [GPT, BERT], ids=lambda r: r.name)
def test_training_is_deterministic_and_stopping_early_keeps_the_full_run_s_checkpoints(recipe, tmp_path):
    from induction.training.loop import train
    from induction.training.series import compare_series

    tiny = _tiny(recipe)
    full = train(tiny, tmp_path / "a")
    train(tiny, tmp_path / "b")
    early = train(tiny, tmp_path / "c", until=3)
    assert compare_series(tmp_path / "a", tmp_path / "b") == []
    assert compare_series(tmp_path / "c", tmp_path / "a") == []  # step_0 and step_3, bit for bit
    assert not (tmp_path / "c" / "step_6").exists()
    assert [e["step"] for e in full["log"]] == [1, 2, 3, 4, 5, 6] and len(early["log"]) == 3
    assert full["log"][:3] == early["log"]
    assert full["log"][-1]["loss"] < full["log"][0]["loss"]  # it learns something
    assert compare_series(tmp_path / "a", tmp_path / "missing") == [f"step_{s}/model.safetensors" for s in (0, 3, 6)]


def test_the_train_command_refuses_a_folder_it_would_overwrite(tmp_path, capsys):
    from induction.cli.parser import main

    (tmp_path / "keep.txt").write_text("mine")
    assert main(["train", "trained-gpt", "--out", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(("recipe", "until"), [("trained-gpt", 150), ("trained-bert", 300)])
def test_the_command_regenerates_the_shipped_series_bit_for_bit(recipe, until, tmp_path, capsys):
    """The first two checkpoints of each shipped series, retrained from scratch by `induction train --verify`
    (the whole series: `make trained-models`)."""
    from induction.cli.parser import main

    assert main(["train", recipe, "--out", str(tmp_path), "--until", str(until), "--verify"]) == 0
    assert "bit for bit" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.glob("step_*")) == ["step_0", f"step_{until}"]
