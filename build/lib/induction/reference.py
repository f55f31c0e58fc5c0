"""The straightforward way, as a notebook (and the reference study) does it: one trial at a
time, eager attention with output_attentions=True, rows read by hand. Used by the agreement
tests and the benchmark; deliberately shares nothing with the engine but the trials."""

from __future__ import annotations

import numpy as np
import torch


def load_eager(source: str, *, mlm: bool = False, **overrides):
    from transformers import AutoModel, AutoModelForMaskedLM

    cls = AutoModelForMaskedLM if mlm else AutoModel
    return cls.from_pretrained(source, attn_implementation="eager", **overrides).eval()


def straightforward_scores(model, batch, setup: str) -> dict[str, np.ndarray]:
    """target -> [T, L, H], one forward pass per trial."""
    out: dict[str, list] = {}
    for i in range(batch.trials):
        ids = torch.tensor(batch.input_ids[i:i + 1])
        with torch.no_grad():
            attentions = model(input_ids=ids, output_attentions=True).attentions  # L x [1, H, S, S]
        if not attentions:
            raise RuntimeError("the model returned no attention weights")
        masks = np.ravel(batch.mask_index[i])  # several masks or queries: one row per (trial, mask), trial-major
        for j, m in enumerate(masks):
            for name, idx in batch.target_index.items():
                k = int(np.ravel(idx[i])[j])
                out.setdefault(name, []).append([[float(layer[0, h, int(m), k]) for h in range(layer.shape[1])]
                                                 for layer in attentions])
    scores = {k: np.asarray(v) for k, v in out.items()}  # [pairs, L, H]
    if setup == "repeat":  # a trial's score: the mean over its queries
        scores = {k: v.reshape(batch.trials, -1, *v.shape[1:]).mean(axis=1) for k, v in scores.items()}
    if setup == "shuffled":
        scores["sum"] = scores["left_match"] + scores["right_match"]
    return scores
