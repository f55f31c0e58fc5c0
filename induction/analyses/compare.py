"""Two induction maps side by side: the rank agreement of their heads and, for models of different depth,
the alignment by relative depth that the Mosaic uses.

Why here: the Compare page and any script ask the same questions of two maps (do the same heads rank high?
where in depth does each model put its strong heads?), and the answers must not depend on Streamlit.
"""

from __future__ import annotations

import numpy as np


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of a flat array, ties sharing their average rank (as Spearman's rho needs)."""
    flat = np.asarray(values, dtype=float).ravel()  # [N]
    order = np.argsort(flat, kind="stable")  # [N]
    out = np.empty(flat.size, dtype=float)  # [N]
    sorted_vals = flat[order]  # [N]
    start = 0
    while start < flat.size:
        stop = start
        while stop + 1 < flat.size and sorted_vals[stop + 1] == sorted_vals[start]:
            stop += 1
        out[order[start:stop + 1]] = (start + stop) / 2 + 1  # the tie's average rank
        start = stop + 1
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally shaped maps, head by head; NaN when either map is constant
    (no ranking to agree with)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"maps of shapes {a.shape} and {b.shape} have no head-by-head ranking: align them by depth")
    ra, rb = ranks(a), ranks(b)  # [N], [N]
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(np.sqrt((ra**2).sum() * (rb**2).sum()))
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def relative_depth(layers: int) -> np.ndarray:
    """Each layer's place in the model, (layer + 0.5) / layers: the Mosaic's x axis, so depths line up."""
    return (np.arange(layers) + 0.5) / layers  # [L]


def depth_profile(mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relative depth of each layer, the layer's best head score): one model's strong heads along its depth."""
    return relative_depth(mean.shape[0]), np.asarray(mean, dtype=float).max(axis=1)  # [L], [L]


def binned_profile(deep: np.ndarray, layers: int) -> np.ndarray:
    """The deeper model's per-layer best scores pooled (max) into `layers` bins of relative depth: its layer
    at depth d falls in bin floor(d x layers), the shallower model's layer at that depth."""
    xs, ys = depth_profile(deep)  # [Ld], [Ld]
    bins = np.minimum((xs * layers).astype(int), layers - 1)  # [Ld]
    return np.array([ys[bins == b].max() if (bins == b).any() else np.nan for b in range(layers)])  # [L]


def depth_spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of the two models' per-layer best scores along relative depth (the deeper model pooled into
    the shallower model's layers): do both put their strong heads at the same depth?"""
    shallow, deep = (a, b) if a.shape[0] <= b.shape[0] else (b, a)
    if shallow.shape[0] < 2:
        return float("nan")
    return spearman(depth_profile(shallow)[1], binned_profile(deep, shallow.shape[0]))
