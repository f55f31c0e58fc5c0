"""The training batches: a pure function of (recipe, step), so a run is reproducible bit for bit.

A sequence is a background (a window of the python-docs training topics' character stream, or random characters) whose
spans are copied to later places. `late` marks the targets only the other instance predicts, in the random rows
(a natural row's copied text is partly predictable from the text itself): a decoder's copy tokens after the copy's
first, an encoder's masked tokens in a span or its copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from induction.training.recipes import Recipe
from induction.training.vocabulary import CLS, FIRST_CHARACTER, MASK, SEP, VOCAB_SIZE, encode
from induction.trials.corpus import training_documents

IGNORE = -100  # label of an unmasked token (what torch's cross_entropy skips)


@dataclass(frozen=True)
class Batch:
    input_ids: np.ndarray  # [B, S] int64
    labels: np.ndarray  # [B, S] int64: the token to predict at each position (IGNORE where none)
    late: np.ndarray  # [B, S] bool: labels predictable only from an earlier instance


@lru_cache(maxsize=2)
def character_stream(held_out_every: int = 5) -> np.ndarray:
    """The python-docs training topics (the held-out ones left out: their paragraphs are the trained models' ICL
    corpus) as one character-id stream, topics in name order."""
    return encode("\n".join(training_documents(held_out_every).values()))


def _background(rng: np.random.Generator, recipe: Recipe, n: int) -> tuple[np.ndarray, np.ndarray]:
    """[B, n] character ids, and which rows are random characters (the rest are python-docs windows)."""
    stream = character_stream(recipe.held_out_every)
    starts = rng.integers(0, len(stream) - n, size=recipe.batch)
    body = np.stack([stream[s:s + n] for s in starts])  # [B, n]
    random_rows = rng.random(recipe.batch) >= recipe.natural_share
    body[random_rows] = rng.integers(FIRST_CHARACTER, VOCAB_SIZE, size=(int(random_rows.sum()), n))
    return body, random_rows


def _copy_spans(rng: np.random.Generator, recipe: Recipe, row: np.ndarray) -> np.ndarray:
    """Copy spans of `row` (in place) to later, disjoint destinations; returns the row's roles: 0 background,
    1 a source, 2 a copy's first token, 3 the rest of a copy (predictable only from the source).

    Destinations are placed left to right with room kept for the ones still to place, so every span drawn fits;
    a source is anywhere before its destination (right before it at `adjacent_rate`), so copies of copies occur.
    A random-character row's spans are random characters; a natural row's are its own text, repeated.
    """
    n = row.shape[0]
    role = np.zeros(n, dtype=np.int8)
    lengths = rng.integers(recipe.span_length[0], recipe.span_length[1] + 1,
                           size=int(rng.integers(recipe.spans[0], recipe.spans[1] + 1)))
    cursor = 0
    for i, length in enumerate(int(x) for x in lengths):
        lo, hi = max(cursor, length), n - length - int(lengths[i + 1:].sum())
        if hi < lo:
            break
        dst = int(rng.integers(lo, hi + 1))
        src = dst - length if rng.random() < recipe.adjacent_rate else int(rng.integers(0, dst - length + 1))
        row[dst:dst + length] = row[src:src + length]
        role[src:src + length] = np.maximum(role[src:src + length], 1)
        role[dst], role[dst + 1:dst + length] = 2, 3
        cursor = dst + length
    return role


def make_batch(recipe: Recipe, step: int) -> Batch:
    """The batch of `step`: drawn from numpy's generator seeded by (recipe.seed, step)."""
    rng = np.random.default_rng([recipe.seed, step])
    n = recipe.positions - (1 if recipe.kind == "causal" else 2)  # a decoder's [CLS] as BOS; an encoder's [CLS], [SEP]
    body, random_rows = _background(rng, recipe, n)
    role = np.stack([_copy_spans(rng, recipe, row) for row in body])  # [B, n]
    only_copy = random_rows[:, None]  # in a random row nothing but the earlier instance predicts a copy
    b = recipe.batch
    if recipe.kind == "causal":
        ids = np.concatenate([np.full((b, 1), CLS), body], axis=1)
        labels = np.concatenate([body, np.full((b, 1), IGNORE)], axis=1)  # position i predicts token i+1
        late = np.concatenate([(role == 3) & only_copy, np.zeros((b, 1), bool)], axis=1)
        return Batch(ids, labels, late)
    ids = np.concatenate([np.full((b, 1), CLS), body, np.full((b, 1), SEP)], axis=1)
    role = np.pad(role, ((0, 0), (1, 1)))
    draw = rng.random(ids.shape)
    masked = (ids >= FIRST_CHARACTER) & (draw < np.where(role > 0, recipe.mask_rate_repeat, recipe.mask_rate_other))
    labels = np.where(masked, ids, IGNORE)
    late = masked & (role >= 1) & only_copy
    return Batch(np.where(masked, MASK, ids), labels, late)
