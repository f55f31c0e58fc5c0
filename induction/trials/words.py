"""Words, not word pieces (the study's tokens-versus-words question): segments of random words, each one or more
word pieces of the model's own tokenizer, repeated as words.

Words come from the bundled python-docs corpus (offline): every lower-case word of 3-14 letters whose pieces
are all known to the tokenizer and number at most four. Half of a segment's words are drawn from those that
split into two or more pieces (a word list with none is refused), half from single-piece words.

Targets, per masked piece (standard setup; the chosen word sits in the second copy, its earlier instance in
the first), each the attention summed over a set of positions:
- `prev_piece`: the same piece of the earlier instance of the word;
- `prev_word`: every piece of the earlier instance;
- `word_before` / `word_after`: every piece of the word before / after the earlier instance (at the copy's
  start, the prefix token; at its end, the first word of the next copy: what precedes or follows it there).
`mask_piece` all masks every piece of the word (each a query), first or last only that piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from induction.config import WORD_TARGETS, ConfigError
from induction.trials.rrt import TrialBatch, VocabSpec

MAX_PIECES = 4
_POOLS: dict[str, tuple[list[tuple[int, ...]], list[tuple[int, ...]]]] = {}


def word_pool(model) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """(single-piece words, multi-piece words) as piece ids, for this model's tokenizer (memoized)."""
    if model.source not in _POOLS:
        from induction.trials.corpus import python_docs

        words = sorted({w for text in python_docs().values() for w in re.findall(r"\b[a-z]{3,14}\b", text)})
        unknown = model.tokenizer.unk_token_id
        pieces = [tuple(model.tokenizer(w, add_special_tokens=False)["input_ids"]) for w in words]
        ok = [p for p in pieces if p and unknown not in p and len(p) <= MAX_PIECES]
        _POOLS[model.source] = ([p for p in ok if len(p) == 1], [p for p in ok if len(p) > 1])
    single, multi = _POOLS[model.source]
    if not multi:
        raise ConfigError(f"the word list (python-docs) gives no word of two or more pieces for the "
                          f"tokenizer of {model.name!r}, so words and pieces cannot be told apart: use the token unit")
    return single, multi


@dataclass
class WordBatch(TrialBatch):
    """Trials of the word unit: Q queries a trial at most (padded), and each target a set of positions."""

    valid: np.ndarray = field(default=None)  # [T, Q] which queries are real (the rest repeat the first)
    sets: dict[str, np.ndarray] = field(default_factory=dict)  # target -> [T, Q, P] positions, -1 padded
    first_piece: np.ndarray = field(default=None)  # [T, Q] position of the earlier instance's first piece
    spans: list = field(default_factory=list)  # per trial: (start, end) of every word of every copy

    def slice(self, start: int, stop: int) -> WordBatch:
        base = super().slice(start, stop)
        return WordBatch(base.input_ids, base.original_ids, base.mask_index, base.anchor_index, base.target_index,
                         self.valid[start:stop], {k: v[start:stop] for k, v in self.sets.items()},
                         self.first_piece[start:stop], self.spans[start:stop])


def _draw_words(rng: np.random.Generator, segment: int, pool) -> list[tuple[int, ...]]:
    """Distinct words filling exactly `segment` pieces (so every trial of a run has one length)."""
    single, multi = pool
    picks, seen, left = [], set(), segment
    for _ in range(100 * segment):
        if left == 0:
            return picks
        fitting = [w for w in multi if len(w) <= left] if left > 1 and rng.random() < 0.5 else []
        source = fitting or single
        word = source[int(rng.integers(len(source)))]
        if word not in seen and len(word) <= left:
            seen.add(word)
            picks.append(word)
            left -= len(word)
    raise ConfigError(f"could not fill a segment of {segment} pieces with distinct words; use a shorter segment")


def build_word_trials(protocol: str, *, segment: int, trials: int, seed: int, vocab: VocabSpec, pool,
                      mask_piece: str, start: int = 0) -> WordBatch:
    """Standard-setup trials whose copy is `segment` word pieces of whole words; the second copy's word j is
    masked (all its pieces, the first or the last)."""
    prefix = vocab.cls_id if protocol == "clean" else vocab.sep_id
    built = []
    for t in range(start, start + trials):
        rng = np.random.default_rng([seed, t])
        words = _draw_words(rng, segment, pool)
        n = len(words)
        ids, spans = [prefix], []
        for _ in range(2):
            for w in words:
                spans.append((len(ids), len(ids) + len(w)))
                ids.extend(w)
        if protocol == "clean":
            ids.append(vocab.sep_id)
        j = int(rng.integers(0, n))  # a word of the second copy
        here, earlier = spans[n + j], spans[j]
        pieces = list(range(here[1] - here[0]))
        chosen = pieces if mask_piece == "all" else [pieces[0]] if mask_piece == "first" else [pieces[-1]]
        before = list(range(*spans[j - 1])) if j > 0 else [0]
        after = list(range(*spans[j + 1]))  # the word after, or the next copy's first word
        queries = [(here[0] + p, {"prev_piece": [earlier[0] + p], "prev_word": list(range(*earlier)),
                                  "word_before": before, "word_after": after}) for p in chosen]
        built.append((ids, queries, earlier[0], spans))
    return _pack(built, vocab)


def _pack(built, vocab: VocabSpec) -> WordBatch:
    t, seq = len(built), max(len(ids) for ids, _, _, _ in built)
    q = max(len(queries) for _, queries, _, _ in built)
    p = max(len(s) for _, queries, _, _ in built for _, sets in queries for s in sets.values())
    original = np.zeros((t, seq), dtype=np.int64)
    mask = np.zeros((t, q), dtype=np.int64)
    valid = np.zeros((t, q), dtype=bool)
    sets = {name: np.full((t, q, p), -1, dtype=np.int64) for name in WORD_TARGETS}
    first = np.zeros((t, q), dtype=np.int64)
    for i, (ids, queries, earliest, _) in enumerate(built):
        if len(ids) != seq:
            raise ConfigError("word trials of one run must have one length; this is a bug")
        original[i] = ids
        for k in range(q):
            position, targets = queries[min(k, len(queries) - 1)]  # padding repeats the last real query
            mask[i, k], valid[i, k], first[i, k] = position, k < len(queries), earliest
            for name, positions in targets.items():
                sets[name][i, k, :len(positions)] = positions
    masked = original.copy()
    for i, (_, queries, _, _) in enumerate(built):
        masked[i, [pos for pos, _ in queries]] = vocab.mask_id
    return WordBatch(masked, original, mask, sets["prev_piece"][:, :, 0],
                     {"prev_piece": sets["prev_piece"][:, :, 0]}, valid, sets, first, [s for *_, s in built])



def dump_word_trials(batch: WordBatch) -> list[dict]:
    """Per trial: the ids fed, each masked piece and its targets' positions, and every word's piece span."""
    out = []
    for i in range(batch.trials):
        real = batch.valid[i]
        out.append({"input_ids": batch.input_ids[i].tolist(), "mask_index": batch.mask_index[i][real].tolist(),
                    "target_index": {name: [[int(p) for p in s if p >= 0] for s in sets[i][real]]
                                     for name, sets in batch.sets.items()},
                    "word_spans": [list(span) for span in batch.spans[i]]})
    return out
