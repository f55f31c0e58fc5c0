"""Repeated-random-token (RRT) trials: pure builders, numpy only.

Why targets come from construction, not from searching for equal ids: the paper
protocol draws ids with replacement, so a segment may hold the same id twice and
"the earlier instance" would be ambiguous. Each trial records where every copy of
each segment position went, so target positions are exact by construction.

Trial t of a run is built from its own generator seeded with (seed, t): a run of
N trials is a prefix of a run of 2N, and batch size never changes a trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import COPIES, ConfigError, min_segment

PAPER_ID_RANGE = (100, 20000)


@dataclass(frozen=True)
class VocabSpec:
    """The ids a protocol needs from a model's tokenizer."""

    cls_id: int
    sep_id: int
    mask_id: int
    vocab_size: int
    clean_ids: np.ndarray  # ordinary token ids (no special, no [unusedN])


@dataclass
class TrialBatch:
    """`trials` sequences of one setup; every index is a position in `input_ids`."""

    input_ids: np.ndarray  # [T, S] int64, [MASK] already in place
    original_ids: np.ndarray  # [T, S] int64, before masking
    mask_index: np.ndarray  # [T] position of [MASK]
    anchor_index: np.ndarray  # [T] earlier instance of the masked token (first copy)
    target_index: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [T]

    @property
    def trials(self) -> int:
        return int(self.input_ids.shape[0])

    def slice(self, start: int, stop: int) -> TrialBatch:
        return TrialBatch(
            self.input_ids[start:stop], self.original_ids[start:stop], self.mask_index[start:stop],
            self.anchor_index[start:stop], {k: v[start:stop] for k, v in self.target_index.items()},
        )


def _segment_ids(rng: np.random.Generator, protocol: str, segment: int, vocab: VocabSpec) -> np.ndarray:
    if protocol == "paper":
        high = min(PAPER_ID_RANGE[1], vocab.vocab_size)
        if high <= PAPER_ID_RANGE[0]:
            raise ConfigError(f"the paper protocol draws ids from [{PAPER_ID_RANGE[0]}, {PAPER_ID_RANGE[1]}) but the "
                              f"model's vocabulary has only {vocab.vocab_size} ids: use the clean protocol")
        return rng.integers(PAPER_ID_RANGE[0], high, size=segment)
    if segment > len(vocab.clean_ids):
        raise ConfigError(f"segment {segment} is longer than the {len(vocab.clean_ids)} ordinary tokens "
                          "of the vocabulary")
    return rng.choice(vocab.clean_ids, size=segment, replace=False)  # distinct ids: one earlier instance


def _one_trial(setup: str, protocol: str, segment: int, vocab: VocabSpec, rng: np.random.Generator):
    seg = _segment_ids(rng, protocol, segment, vocab)
    order = rng.permutation(segment) if setup == "shuffled" else np.arange(segment)
    # source[c][j] = index into `seg` of copy c, position j
    source = [np.arange(segment)] + [order if setup == "shuffled" else np.arange(segment)] * (COPIES[setup] - 1)
    body = np.concatenate([seg[s] for s in source])
    prefix = vocab.cls_id if protocol == "clean" else vocab.sep_id
    ids = np.concatenate([[prefix], body] + ([[vocab.sep_id]] if protocol == "clean" else [])).astype(np.int64)

    start = 1 + segment  # the copy holding the mask: second (standard, shuffled) or middle (triple)
    # the shuffled setup needs a left and a right neighbour in this copy
    j = int(rng.integers(1, segment - 1)) if setup == "shuffled" else int(rng.integers(0, segment))
    mask = start + j
    first = 1  # position of seg[i] in the first copy is 1 + i
    anchor = first + int(order[j])
    if setup == "standard":
        targets = {"prev": anchor, "prev_before": anchor - 1, "prev_after": anchor + 1}
    elif setup == "shuffled":
        targets = {"left_match": first + int(order[j - 1]) + 1, "right_match": first + int(order[j + 1]) - 1}
    else:
        targets = {"earlier": anchor, "later": 1 + 2 * segment + j}
    return ids, mask, anchor, targets


def build_trials(setup: str, protocol: str, *, segment: int, trials: int, seed: int, vocab: VocabSpec,
                 start: int = 0) -> TrialBatch:
    """Trials `start .. start+trials-1` of the run with this seed."""
    if segment < min_segment(setup):
        raise ConfigError(f"segment must be at least {min_segment(setup)} for the {setup} setup")
    rows, masks, anchors, targets = [], [], [], {}
    for t in range(start, start + trials):
        ids, mask, anchor, tgt = _one_trial(setup, protocol, segment, vocab, np.random.default_rng([seed, t]))
        rows.append(ids)
        masks.append(mask)
        anchors.append(anchor)
        for name, pos in tgt.items():
            targets.setdefault(name, []).append(pos)
    original = np.stack(rows)  # [T, S]
    mask_index = np.asarray(masks, dtype=np.int64)
    masked = original.copy()
    masked[np.arange(trials), mask_index] = vocab.mask_id
    return TrialBatch(masked, original, mask_index, np.asarray(anchors, dtype=np.int64),
                      {k: np.asarray(v, dtype=np.int64) for k, v in targets.items()})
