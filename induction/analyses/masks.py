"""The several-masks curve: the top head's score as more tokens are masked, scattered and contiguous.

Each point is an ordinary cached map (`compute_map` with `masks` = K), so the curve costs nothing twice.
"""

from __future__ import annotations

import dataclasses

from induction.config import MASK_SPANS, MAX_MASKS, ConfigError, MapConfig
from induction.engine import Progress, compute_map


def mask_curve(config: MapConfig, target: str | None = None, *, ks=range(1, MAX_MASKS + 1),
               progress: Progress | None = None) -> dict[str, list[dict]]:
    """span -> [{"k", "head", "score", "sem"}] for every K that fits the segment (the others are left out)."""
    out: dict[str, list[dict]] = {span: [] for span in MASK_SPANS}
    steps, done = len(MASK_SPANS) * len(ks), 0
    for span in MASK_SPANS:
        for k in ks:
            try:
                result = compute_map(dataclasses.replace(config, masks=k, mask_span=span))
            except ConfigError:  # K masks do not fit this segment
                result = None
            if result is not None:
                best = result.top_heads(target or result.targets[0], 1)[0]
                out[span].append({"k": k, "head": best.name, "score": best.score, "sem": best.sem})
            done += 1
            if progress:
                progress(done, steps)
    return out
