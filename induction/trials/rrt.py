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

from induction.config import COPIES, ConfigError, min_segment

PAPER_ID_RANGE = (100, 20000)


@dataclass(frozen=True)
class VocabSpec:
    """The ids a protocol needs from a model's tokenizer."""

    cls_id: int
    sep_id: int
    mask_id: int
    vocab_size: int
    clean_ids: np.ndarray  # ordinary token ids (no special, no [unusedN])
    causal: bool = False  # a decoder-only model: no [CLS]/[SEP]/[MASK], a BOS first where it has one
    bos_id: int | None = None


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


def mask_range(setup: str, segment: int) -> tuple[int, int]:
    """Positions of the masked copy a mask may take: the shuffled setup needs both neighbours in the copy."""
    return (1, segment - 2) if setup == "shuffled" else (0, segment - 1)


def check_masks(setup: str, segment: int, masks: int, span: str) -> None:
    """A clear error for K masks that do not fit the masked copy."""
    low, high = mask_range(setup, segment)
    room = high - low + 1
    need = masks if span == "contiguous" else 2 * masks - 1  # scattered masks have no masked neighbour
    if need > room:
        raise ConfigError(f"{masks} {span} masks do not fit a segment of {segment} in the {setup} setup: they need "
                          f"{need} positions of the masked copy and it has {room}; use fewer masks or a longer segment")


def _mask_positions(rng: np.random.Generator, setup: str, segment: int, masks: int, span: str) -> list[int]:
    """K positions in the masked copy, in order: a contiguous run, or scattered with no two adjacent."""
    low, high = mask_range(setup, segment)
    if span == "contiguous":
        first = int(rng.integers(low, high - masks + 2))
        return list(range(first, first + masks))
    picks = np.sort(rng.choice(high - low + 1 - (masks - 1), size=masks, replace=False))
    return [low + int(p) + i for i, p in enumerate(picks)]  # the i-th pick moved i places: never adjacent


def _one_trial(setup: str, protocol: str, segment: int, vocab: VocabSpec, rng: np.random.Generator,
               masks: int = 1, span: str = "scattered"):
    seg = _segment_ids(rng, protocol, segment, vocab)
    order = rng.permutation(segment) if setup == "shuffled" else np.arange(segment)
    # source[c][j] = index into `seg` of copy c, position j
    source = [np.arange(segment)] + [order if setup == "shuffled" else np.arange(segment)] * (COPIES[setup] - 1)
    body = np.concatenate([seg[s] for s in source])
    prefix = vocab.cls_id if protocol == "clean" else vocab.sep_id
    ids = np.concatenate([[prefix], body] + ([[vocab.sep_id]] if protocol == "clean" else [])).astype(np.int64)

    start = 1 + segment  # the copy holding the mask: second (standard, shuffled) or middle (triple)
    if masks == 1:  # one mask: drawn exactly as always, so a run's trials never change
        low, high = mask_range(setup, segment)
        positions = [int(rng.integers(low, high + 1))]
    else:
        positions = _mask_positions(rng, setup, segment, masks, span)
    first = 1  # position of seg[i] in the first copy is 1 + i
    per_mask = []
    for j in positions:
        anchor = first + int(order[j])
        if setup == "standard":
            targets = {"prev": anchor, "prev_before": anchor - 1, "prev_after": anchor + 1}
        elif setup == "shuffled":
            targets = {"left_match": first + int(order[j - 1]) + 1, "right_match": first + int(order[j + 1]) - 1}
        else:
            targets = {"earlier": anchor, "later": 1 + 2 * segment + j}
        per_mask.append((start + j, anchor, targets))
    return ids, per_mask


def build_trials(setup: str, protocol: str, *, segment: int, trials: int, seed: int, vocab: VocabSpec,
                 start: int = 0, masks: int = 1, span: str = "scattered") -> TrialBatch:
    """Trials `start .. start+trials-1` of the run with this seed. With `masks` > 1 every index array gains
    a mask axis, in position order: mask_index [T, K], anchor_index [T, K], each target [T, K]."""
    if segment < min_segment(setup):
        raise ConfigError(f"segment must be at least {min_segment(setup)} for the {setup} setup")
    if setup == "repeat":
        return build_repeat_trials(segment=segment, trials=trials, seed=seed, vocab=vocab, start=start)
    check_masks(setup, segment, masks, span)
    rows, mask_rows, anchor_rows, targets = [], [], [], {}
    for t in range(start, start + trials):
        ids, per_mask = _one_trial(setup, protocol, segment, vocab, np.random.default_rng([seed, t]), masks, span)
        rows.append(ids)
        mask_rows.append([m for m, _, _ in per_mask])
        anchor_rows.append([a for _, a, _ in per_mask])
        for name in per_mask[0][2]:
            targets.setdefault(name, []).append([tgt[name] for _, _, tgt in per_mask])
    original = np.stack(rows)  # [T, S]
    shape = (lambda a: a[:, 0]) if masks == 1 else (lambda a: a)  # one mask: the [T] arrays as always
    mask_index = shape(np.asarray(mask_rows, dtype=np.int64))
    masked = original.copy()
    masked[np.arange(trials)[:, None], np.asarray(mask_rows, dtype=np.int64)] = vocab.mask_id
    return TrialBatch(masked, original, mask_index, shape(np.asarray(anchor_rows, dtype=np.int64)),
                      {k: shape(np.asarray(v, dtype=np.int64)) for k, v in targets.items()})


def repeat_prefix(vocab: VocabSpec) -> list[int]:
    """What precedes the first copy: [CLS] for an encoder, the BOS for a causal model that has one."""
    if vocab.causal:
        return [] if vocab.bos_id is None else [vocab.bos_id]
    return [vocab.cls_id]


def repeat_suffix(vocab: VocabSpec) -> list[int]:
    """What follows the last copy: an encoder's closing [SEP]; nothing for a causal model."""
    return [] if vocab.causal else [vocab.sep_id]


def build_repeat_trials(*, segment: int, trials: int, seed: int, vocab: VocabSpec, start: int = 0) -> TrialBatch:
    """The repeat setup: prefix + segment + segment (+ [SEP] for an encoder), nothing masked. Every token of
    the second copy is a query: mask_index [T, Q] holds the queries (Q = segment), anchor_index [T, Q] each
    query's earlier instance, and each target [T, Q]: `induction` the token after the earlier instance,
    `duplicate` the earlier instance, `previous_token` the position before the query."""
    prefix, suffix = repeat_prefix(vocab), repeat_suffix(vocab)
    rows = []
    for t in range(start, start + trials):
        seg = _segment_ids(np.random.default_rng([seed, t]), "clean", segment, vocab)  # distinct ids
        rows.append(np.concatenate([prefix, seg, seg, suffix]).astype(np.int64))
    ids = np.stack(rows)  # [T, S]
    first = len(prefix)
    queries = np.tile(np.arange(first + segment, first + 2 * segment), (trials, 1))  # [T, Q]
    duplicate = queries - segment
    targets = {"induction": duplicate + 1, "duplicate": duplicate, "previous_token": queries - 1}
    return TrialBatch(ids, ids.copy(), queries, duplicate.copy(), targets)
