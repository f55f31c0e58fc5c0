"""Pure scoring: captured attention rows -> per-trial scores -> an InductionMap.

Why separate from the engine: these functions see only numpy arrays, so the
known-answer tests, the straightforward reference and the cache all share them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from induction.config import (
    OFFSETS,
    SETUP_TARGETS,
    CapturePath,
    ConfigError,
    MapConfig,
    ModelKind,
    check_target,
    head_name,
)
from induction.trials.rrt import TrialBatch

if TYPE_CHECKING:
    from induction.trials.words import WordBatch


def gather_targets(rows: np.ndarray, batch: TrialBatch, setup: str) -> dict[str, np.ndarray]:
    """rows: [T, L, H, S] attention of each trial's [MASK]. Returns target -> [T, L, H].
    The repeat setup: rows [T, L, H, Q, S] of its Q queries, each trial's score the mean over them."""
    if setup == "repeat":
        return {name: _at_queries(rows, idx).mean(axis=1) for name, idx in batch.target_index.items()}
    t = np.arange(rows.shape[0])
    scores = {name: rows[t, :, :, idx] for name, idx in batch.target_index.items()}  # [T, L, H]
    if setup == "shuffled":
        scores["sum"] = scores["left_match"] + scores["right_match"]
    return {name: scores[name] for name in SETUP_TARGETS[setup]}


def _at_queries(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    """rows [T, L, H, Q, S] read at index [T, Q] (one key position per query): [T, Q, L, H]."""
    t, q = np.arange(rows.shape[0])[:, None], np.arange(rows.shape[3])[None, :]
    return rows[t, :, :, q, index]


def offset_profile(rows: np.ndarray, batch: TrialBatch, anchor: np.ndarray | None = None) -> np.ndarray:
    """Attention at anchor + k for k in OFFSETS: [T, L, H, len(OFFSETS)], NaN where out of range. The anchor is
    the earlier instance unless given (a target's positions: the profile around that target).
    Rows [T, L, H, Q, S] with anchors [T, Q] (the repeat setup): each trial's mean over its queries."""
    seq = rows.shape[-1]
    anchor_index = batch.anchor_index if anchor is None else anchor
    out = np.full((*rows.shape[:3], len(OFFSETS)), np.nan, dtype=np.float32)
    if rows.ndim == 5:
        for j, k in enumerate(OFFSETS):
            pos = anchor_index + k  # [T, Q]
            ok = (pos >= 0) & (pos < seq)
            values = np.where(ok[:, :, None, None], _at_queries(rows, np.clip(pos, 0, seq - 1)), np.nan)
            out[..., j] = nanmean_trials(values.transpose(1, 0, 2, 3))  # mean over queries: [T, L, H]
        return out
    for j, k in enumerate(OFFSETS):
        pos = anchor_index + k
        ok = (pos >= 0) & (pos < seq)
        t = np.nonzero(ok)[0]
        out[t, :, :, j] = rows[t, :, :, pos[ok]]
    return out


def to_pairs(rows: np.ndarray, batch: TrialBatch) -> tuple[np.ndarray, TrialBatch]:
    """Several masks a trial -> one (trial, mask) pair a row, trial-major: rows [T, L, H, K, S] ->
    [T*K, L, H, S] and a batch whose indices are one a pair (what the one-mask scoring reads)."""
    t, layers, heads, k, s = rows.shape
    flat = rows.transpose(0, 3, 1, 2, 4).reshape(t * k, layers, heads, s)
    pairs = TrialBatch(np.repeat(batch.input_ids, k, axis=0), np.repeat(batch.original_ids, k, axis=0),
                       batch.mask_index.reshape(-1), batch.anchor_index.reshape(-1),
                       {name: v.reshape(-1) for name, v in batch.target_index.items()})
    return flat, pairs


def cross_attention(rows: np.ndarray, batch: TrialBatch) -> np.ndarray:
    """[T, K, K, L, H]: entry [t, i, j] is the attention from mask i to the earlier instance of mask j's token."""
    t, _, _, k, _ = rows.shape
    by_mask = rows.transpose(0, 3, 1, 2, 4)  # [T, K, L, H, S]
    return by_mask[np.arange(t)[:, None, None], np.arange(k)[None, :, None], :, :, batch.anchor_index[:, None, :]]


def nanmean_trials(values: np.ndarray) -> np.ndarray:
    """Mean over trials ignoring NaN (offsets that fall outside a sequence); NaN where all are."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(values, axis=0)


def mean_sem(per_trial: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over the first axis (sem 0 for a single trial)."""
    n = per_trial.shape[0]
    mean = per_trial.mean(axis=0)
    sem = per_trial.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    return mean, sem


class HeadScore(NamedTuple):
    """One head's score for one target: what `top_heads` lists."""

    layer: int
    head: int
    name: str  # "L9H9"
    score: float  # mean over trials
    sem: float  # standard error of that mean
    ratio: float  # score / uniform baseline: how many times what even attention would give


def rank_heads(mean: np.ndarray, sem: np.ndarray, baseline: float, k: int) -> list[HeadScore]:
    """The k highest means of a layers x heads map as HeadScores, best first (ties in layer-then-head order)."""
    order = np.argsort(-mean, axis=None, kind="stable")[:k]
    return [HeadScore(int(l), int(h), head_name(int(l), int(h)), float(mean[l, h]), float(sem[l, h]),
                      float(mean[l, h] / baseline)) for l, h in (np.unravel_index(i, mean.shape) for i in order)]


class PerHeadScores:
    """Means, standard errors and the ranking of per-trial scores (`per_trial`: target -> [T, L, H]), shared
    by the RRT map and the natural-text map; each says which targets it has and what uniform attention scores."""

    per_trial: dict[str, np.ndarray]
    _stats: dict

    def check(self, target: str) -> None:
        """Raise a ConfigError naming the choices when `target` is not one of this result's targets."""
        raise NotImplementedError

    @property
    def baseline(self) -> float:
        """The score a head spreading its attention evenly would get (what every score is read against)."""
        raise NotImplementedError

    def stats(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        """(mean, sem), each [L, H]."""
        self.check(target)
        if target not in self._stats:
            self._stats[target] = mean_sem(self.per_trial[target])
        return self._stats[target]

    def mean(self, target: str) -> np.ndarray:
        """[L, H] the mean over trials of every head's score at `target` (attention, 0..1)."""
        return self.stats(target)[0]

    def sem(self, target: str) -> np.ndarray:
        """[L, H] the standard error of `mean` over trials."""
        return self.stats(target)[1]

    def _describe_run(self) -> str:
        """The run in a few words, for the repr."""
        return ""

    def to_frame(self):
        """Every (target, layer, head) as a row of the tidy long format (`induction.frames.FRAME_COLUMNS`): score,
        sem, baseline, ratio, with the run's model, step, setup, segment, trials and seed (pandas DataFrame)."""
        from induction.frames import frame, map_rows

        return frame(map_rows(self))

    def __repr__(self) -> str:
        """Short: the run and its best head (the per-trial arrays are in `per_trial`)."""
        first = self.targets[0]
        best = self.top_heads(first, 1)[0]
        return (f"{type(self).__name__}({self._describe_run()}{self.layers} layers x {self.heads} heads, "
                f"{self.trials} trials, baseline {self.baseline:.4f}, best {first} {best.name} {best.score:.3f})")

    def top_heads(self, target: str, k: int = 5) -> list[HeadScore]:
        """The k highest-scoring heads, best first (ties in layer-then-head order)."""
        return rank_heads(*self.stats(target), self.baseline, k)


@dataclass(repr=False)
class InductionMap(PerHeadScores):
    """One model's induction scores for one setup: every target, every head."""

    config: MapConfig  # resolved: segment filled in
    model_source: str
    fingerprint: str
    layers: int
    heads: int
    seq_len: int
    per_trial: dict[str, np.ndarray]  # target -> [T, L, H]
    offsets: np.ndarray  # [L, H, len(OFFSETS)] mean attention around the previous instance
    target_offsets: dict[str, np.ndarray] = field(default_factory=dict)  # target -> [L, H, len(OFFSETS)] around it
    elapsed_s: float = 0.0
    cached: bool = False
    capture_path: CapturePath = "interface"  # or "fallback" (weights read from output_attentions)
    masks: int = 1  # per_trial rows are (trial, mask) pairs, trial-major, when several tokens are masked
    cross_per_trial: np.ndarray | None = None  # [T, K, K, L, H], the standard setup with several masks
    word_split: dict[str, np.ndarray] | None = None  # word unit: "first", "rest" [N, L, H], prev_word split
    kind: ModelKind = "encoder"  # or "causal": each query sees only the positions up to its own
    _stats: dict = field(default_factory=dict, repr=False)

    @property
    def trials(self) -> int:
        """Trials the map was measured on (with several masks, each trial holds `masks` rows)."""
        if self.config.unit == "word":  # a row per masked piece: the trials are the run's
            return int(self.config.trials)
        return int(next(iter(self.per_trial.values())).shape[0]) // self.masks

    def offsets_for(self, target: str) -> tuple[np.ndarray, str]:
        """([L, H, len(OFFSETS)], what offset 0 is): the attention around `target`'s own position, so offset 0
        reads that target's score; the earlier instance where the target has no single position (`sum`, words)."""
        if target in self.target_offsets:
            return self.target_offsets[target], f"the {target} position"
        return self.offsets, "the earlier instance"

    def by_mask(self, target: str) -> np.ndarray:
        """[K, L, H]: the mean over trials of each mask's score, masks in position order."""
        self.check(target)
        scores = self.per_trial[target]
        return scores.reshape(self.trials, self.masks, *scores.shape[1:]).mean(axis=0)

    @property
    def cross(self) -> np.ndarray | None:
        """[K, K, L, H]: attention from mask i to the earlier instance of mask j's token, mean over trials."""
        return None if self.cross_per_trial is None else self.cross_per_trial.mean(axis=0)

    @property
    def baseline(self) -> float:
        """Uniform attention: 1 / number of attended positions. A causal model's query at position p sees
        p + 1 positions: the baseline is the mean of 1 / (p + 1) over the queries of the second copy."""
        if self.kind == "causal":
            segment = int(self.config.segment)
            first = self.seq_len - segment  # the second copy is the last `segment` positions
            return float(np.mean(1.0 / (np.arange(first, self.seq_len) + 1)))
        return 1.0 / self.seq_len

    @property
    def targets(self) -> tuple[str, ...]:
        """The names of the targets this map scores (its setup's, or the word unit's), in display order."""
        return tuple(self.per_trial)

    def _describe_run(self) -> str:
        c = self.config
        return f"{c.model!r}, {c.setup}, segment {c.segment}, "

    def to_pandas(self):
        """The map as a tidy pandas DataFrame: `to_frame()` (issue 35's name for it)."""
        return self.to_frame()

    def check(self, target: str) -> None:
        """Raise a ConfigError naming this map's targets when `target` is not one of them."""
        if self.config.unit == "word":
            if target not in self.config.targets():
                raise ConfigError(f"unknown target {target!r} for the word unit; choose one of "
                                  f"{', '.join(self.config.targets())}")
            return
        check_target(self.config.setup, target)

    def to_json(self) -> dict:
        """The JSON `induction map --json` writes (keys in docs/method.md's glossary)."""
        c = self.config
        return {
            "model": c.model, "kind": self.kind, "model_source": self.model_source, "fingerprint": self.fingerprint,
            "setup": c.setup, "protocol": c.protocol, "trials": self.trials, "seed": c.seed,
            "segment": c.segment, "device": c.device, "dtype": c.dtype, "seq_len": self.seq_len,
            "layers": self.layers, "heads": self.heads,
            "targets": list(self.targets), "mean": {t: self.mean(t).round(6).tolist() for t in self.targets},
            "sem": {t: self.sem(t).round(6).tolist() for t in self.targets},
            "baseline": self.baseline, "offsets": list(OFFSETS),
            "offset_profile": np.round(self.offsets, 6).tolist(),
            "elapsed_s": round(self.elapsed_s, 4), "cached": self.cached, "capture_path": self.capture_path,
            "masks": self.masks, "mask_span": c.mask_span,
            **({"mean_by_mask": [{t: self.by_mask(t)[k].round(6).tolist() for t in self.targets}
                                    for k in range(self.masks)]} if self.masks > 1 else {}),
            **({"cross": np.round(self.cross, 6).tolist()} if self.cross is not None else {}),
            **({"unit": c.unit, "mask_piece": c.mask_piece, "pieces": int(self.per_trial[self.targets[0]].shape[0]),
                "split": {k: np.round(v.mean(axis=0), 6).tolist() for k, v in self.word_split.items()}}
               if self.word_split is not None else {}),
        }


def dump_trials(batch: TrialBatch, setup: str = "standard") -> list[dict]:
    """Per trial: the ids fed to the model, the mask position and each target position (with several masks:
    lists in mask position order). The repeat setup masks nothing: `query_index` lists its queries and each
    target a list aligned with it."""
    query = "query_index" if setup == "repeat" else "mask_index"
    return [{"input_ids": batch.input_ids[i].tolist(), query: batch.mask_index[i].tolist(),
             "target_index": {k: v[i].tolist() for k, v in batch.target_index.items()}}
            for i in range(batch.trials)]


def late_layer_share(mean: np.ndarray, threshold: float) -> dict:
    """How many heads score >= threshold, and what fraction of them sit in the last third of the layers."""
    layers = mean.shape[0]
    first_late = layers - max(1, layers // 3)  # e.g. 12 layers -> layers 8..11
    high = np.argwhere(np.nan_to_num(mean) >= threshold)
    late = int((high[:, 0] >= first_late).sum()) if len(high) else 0
    return {"high": len(high), "late": late, "first_late_layer": int(first_late),
            "fraction": (late / len(high)) if len(high) else float("nan")}


def word_arrays(rows: np.ndarray, batch: WordBatch) -> dict[str, np.ndarray]:
    """rows [T, L, H, Q, S] -> per real (trial, query) pair: score_<target> [N, L, H] (attention summed over the
    target's positions), offsets around the earlier piece, and how prev_word splits between the earlier
    instance's first piece (split_first) and its continuation pieces (split_rest)."""
    t, _, _, q, _ = rows.shape
    by_query = rows.transpose(0, 3, 1, 2, 4)  # [T, Q, L, H, S]
    ti, qi = np.arange(t)[:, None, None], np.arange(q)[None, :, None]
    real = batch.valid.reshape(-1)
    arrays = {}
    for name, positions in batch.sets.items():
        picked = by_query[ti, qi, :, :, np.maximum(positions, 0)]  # [T, Q, P, L, H]
        summed = (picked * (positions >= 0)[..., None, None]).sum(axis=2)  # [T, Q, L, H]
        arrays[f"score_{name}"] = summed.reshape(t * q, *summed.shape[2:])[real].astype(np.float32)
    first = by_query[np.arange(t)[:, None], np.arange(q)[None, :], :, :, batch.first_piece]  # [T, Q, L, H]
    arrays["split_first"] = first.reshape(t * q, *first.shape[2:])[real].astype(np.float32)
    arrays["split_rest"] = arrays["score_prev_word"] - arrays["split_first"]
    flat, pairs = to_pairs(rows, batch)
    kept = TrialBatch(pairs.input_ids[real], pairs.original_ids[real], pairs.mask_index[real],
                      pairs.anchor_index[real], {k: v[real] for k, v in pairs.target_index.items()})
    arrays["offsets"] = offset_profile(flat[real], kept)  # around the same piece of the earlier instance
    return arrays
