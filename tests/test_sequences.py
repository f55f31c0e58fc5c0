"""Property tests of the RRT builders: copies repeat, the mask lands where the spec says,
and every target index points at the right token."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from induction.config import ConfigError
from induction.trials.rrt import PAPER_ID_RANGE, VocabSpec, build_trials

VOCAB = VocabSpec(cls_id=101, sep_id=102, mask_id=103, vocab_size=30522,
                  clean_ids=np.arange(1000, 1300, dtype=np.int64))

cases = st.tuples(st.sampled_from(["standard", "shuffled", "triple"]), st.sampled_from(["clean", "paper"]),
                  st.integers(3, 60), st.integers(0, 2**32), st.integers(1, 6))


def _copies(batch, segment, n):
    body = batch.original_ids[:, 1:1 + n * segment]
    return [body[:, c * segment:(c + 1) * segment] for c in range(n)]


@settings(max_examples=60, deadline=None)
@given(cases)
def test_builders_follow_the_spec(case):
    setup, protocol, segment, seed, trials = case
    b = build_trials(setup, protocol, segment=segment, trials=trials, seed=seed, vocab=VOCAB)
    t = np.arange(trials)
    n = 3 if setup == "triple" else 2
    seq = b.original_ids
    # layout: prefix + copies (+ [SEP] for clean)
    assert seq.shape == (trials, 1 + n * segment + (protocol == "clean"))
    if protocol == "clean":
        assert (seq[:, 0] == VOCAB.cls_id).all() and (seq[:, -1] == VOCAB.sep_id).all()
        body = seq[:, 1:-1]
        assert np.isin(body, VOCAB.clean_ids).all()
        assert all(len(set(row[:segment])) == segment for row in body)  # distinct within a segment
    else:
        assert (seq[:, 0] == VOCAB.sep_id).all()
        body = seq[:, 1:]
        assert ((body >= PAPER_ID_RANGE[0]) & (body < PAPER_ID_RANGE[1])).all()
    copies = _copies(b, segment, n)
    if setup == "shuffled":
        assert all(sorted(a) == sorted(c) for a, c in zip(copies[0], copies[1], strict=True))
    else:
        for c in copies[1:]:
            assert (c == copies[0]).all()
    # the mask: only the masked position differs from the original, in the copy the setup names
    changed = b.input_ids != b.original_ids
    assert (b.input_ids[t, b.mask_index] == VOCAB.mask_id).all()
    for i in range(trials):
        where = np.nonzero(changed[i])[0].tolist()
        assert where == [b.mask_index[i]] or (where == [] and seq[i, b.mask_index[i]] == VOCAB.mask_id)
    if protocol == "clean":  # the paper's id range includes 103 itself, as in the study
        assert (b.input_ids == VOCAB.mask_id).sum(axis=1).tolist() == [1] * trials
    j = b.mask_index - 1 - segment  # index within the masked copy
    low = 1 if setup == "shuffled" else 0
    high = segment - 2 if setup == "shuffled" else segment - 1
    assert ((j >= low) & (j <= high)).all()
    masked_tok = seq[t, b.mask_index]
    # targets point at the right tokens
    assert (seq[t, b.anchor_index] == masked_tok).all() and (b.anchor_index <= segment).all()
    tg = b.target_index
    if setup == "standard":
        assert (tg["prev"] == b.mask_index - segment).all()
        assert (tg["prev_before"] == tg["prev"] - 1).all() and (tg["prev_after"] == tg["prev"] + 1).all()
        i = np.nonzero(j > 0)[0]
        assert (seq[i, tg["prev_before"][i]] == seq[i, b.mask_index[i] - 1]).all()
        i = np.nonzero(j < segment - 1)[0]  # the last token of the copy has no right neighbour in it
        assert (seq[i, tg["prev_after"][i]] == seq[i, b.mask_index[i] + 1]).all()
    elif setup == "shuffled":
        # left_match is right after the earlier instance of the left neighbour, in the first copy
        assert (seq[t, tg["left_match"] - 1] == seq[t, b.mask_index - 1]).all()
        assert (tg["left_match"] - 1 <= segment).all()
        assert (seq[t, tg["right_match"] + 1] == seq[t, b.mask_index + 1]).all()
        assert (tg["right_match"] + 1 <= segment).all()
    else:
        assert (tg["earlier"] == b.mask_index - segment).all()
        assert (tg["later"] == b.mask_index + segment).all()
        assert (seq[t, tg["later"]] == masked_tok).all()


@given(cases)
@settings(max_examples=20, deadline=None)
def test_seeded_runs_reproduce_and_extend(case):
    setup, protocol, segment, seed, trials = case
    a = build_trials(setup, protocol, segment=segment, trials=trials, seed=seed, vocab=VOCAB)
    b = build_trials(setup, protocol, segment=segment, trials=trials * 2, seed=seed, vocab=VOCAB)
    assert (a.input_ids == b.input_ids[:trials]).all()
    assert (a.mask_index == b.mask_index[:trials]).all()
    c = build_trials(setup, protocol, segment=segment, trials=trials, seed=seed + 1, vocab=VOCAB)
    assert not (a.input_ids == c.input_ids).all()


def test_paper_ids_come_from_the_study_range_and_may_repeat():
    b = build_trials("standard", "paper", segment=200, trials=50, seed=0, vocab=VOCAB)
    body = b.original_ids[:, 1:201]
    assert body.min() >= 100 and body.max() < 20000
    # with replacement, as the study: across 50 x 200 draws some segment repeats an id
    assert any(len(set(row)) < len(row) for row in body)


def test_clean_segment_longer_than_vocabulary_is_refused():
    with pytest.raises(ConfigError, match="ordinary tokens"):
        build_trials("standard", "clean", segment=301, trials=1, seed=0, vocab=VOCAB)


def test_shuffled_needs_neighbours():
    with pytest.raises(ConfigError, match="at least 3"):
        build_trials("shuffled", "clean", segment=2, trials=1, seed=0, vocab=VOCAB)
