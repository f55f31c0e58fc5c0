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


MIN_RANK_POINTS = 4  # fewer points rank to +-1 (two) or a few coarse values: a correlation says nothing


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally shaped maps, head by head; NaN when either map is constant
    (no ranking to agree with) or has fewer than MIN_RANK_POINTS values (`rank_degenerate` says which)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"maps of shapes {a.shape} and {b.shape} have no head-by-head ranking: align them by depth")
    if a.size < MIN_RANK_POINTS:
        return float("nan")
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
    the shallower model's layers): do both put their strong heads at the same depth? NaN when the shallower model
    has fewer than MIN_RANK_POINTS layers: two bins would always give +-1."""
    shallow, deep = (a, b) if a.shape[0] <= b.shape[0] else (b, a)
    if shallow.shape[0] < MIN_RANK_POINTS:
        return float("nan")
    return spearman(depth_profile(shallow)[1], binned_profile(deep, shallow.shape[0]))


def rank_degenerate(a: np.ndarray, b: np.ndarray) -> str | None:
    """Why the rank correlation of these maps (head by head when shaped alike, else along depth) is no number, in
    words; None when it is one."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    points = a.size if a.shape == b.shape else min(a.shape[0], b.shape[0])
    if points < MIN_RANK_POINTS:
        what = "heads" if a.shape == b.shape else "depth bins (the shallower model's layers)"
        return (f"undefined: only {points} {what}, and a rank correlation over fewer than {MIN_RANK_POINTS} points "
                "is always about +-1")
    if a.shape == b.shape and (np.ptp(a) == 0 or np.ptp(b) == 0):
        return "undefined: a constant map ranks nothing"
    if a.shape != b.shape and (np.ptp(a.max(axis=1)) == 0 or np.ptp(b.max(axis=1)) == 0):
        return "undefined: a constant depth profile ranks nothing"
    return None
