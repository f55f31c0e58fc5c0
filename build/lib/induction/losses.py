"""Where a follow-up study reads its loss, and what each place should predict.

Why its own module: ablation, per-head effects and the layer-suffix re-run all score the same places
(an encoder's [MASK]s, a decoder's second copy), name the loss the same way in every output, and decide
the same way when there is none to read (an encoder's repeat trials mask nothing).
"""

from __future__ import annotations


def loss_rows(batch, kind: str):
    """Where the loss is read, and what each place should predict: (positions [T, P], targets [T, P]).

    Encoder: each [MASK] predicts its own token. Causal: each token of the second copy but its last predicts
    the next one (the next-token loss on the second copy; the first token of a copy cannot be predicted)."""
    import numpy as np

    if kind == "causal":
        positions = batch.mask_index[:, :-1]  # [T, Q-1]
        return positions, np.take_along_axis(batch.original_ids, positions + 1, axis=1)
    positions = batch.mask_index.reshape(batch.trials, -1)  # [T, 1]
    return positions, np.take_along_axis(batch.original_ids, positions, axis=1)


def place_loss(logits, targets):
    """Each row's loss, the mean cross-entropy over its P places: logits [N, P, V], targets [N, P] -> [N]."""
    import torch

    per = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="none")
    return per.view(targets.shape[0], -1).mean(dim=1)


def loss_name(kind: str) -> str:
    return "next-token loss on the second copy" if kind == "causal" else "masked-token loss"


def has_loss(kind: str, setup: str) -> bool:
    """An encoder's repeat trials mask nothing, so there is no masked-token loss to read (maps only)."""
    return kind == "causal" or setup != "repeat"
