"""Training dynamics: a head's induction score against training step, one line per training seed, read from
the cache (a sweep fills it; nothing is computed here).

Why: Olsson et al. saw induction heads appear in a phase change during the training of decoders; with the
MultiBERTs checkpoints (or the toy's own training run) the same question can be asked of encoders. The
step at which induction heads *appear* is taken as the first checkpoint whose best head reaches half of
that seed's highest score over the series.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from induction.config import InductionError, MapConfig
from induction.sweep import checkpoint_seed, checkpoint_step, expand_models


def series_models(spec: str, *, require_steps: bool = True) -> list[str]:
    """A checkpoint series: a folder of checkpoint folders (`step_N`, or `seed_S/step_N`), or a sweep's --models.
    `require_steps`: every model must name its training step (the Training dynamics page); a sweep takes any."""
    folder = Path(spec).expanduser()
    if folder.is_dir():
        found = sorted(p.parent for p in folder.glob("**/config.json") if checkpoint_step(p.parent.name) is not None)
        if not found:
            raise InductionError(f"the folder {spec!r} has no checkpoint folders named step_N")
        return [str(p) for p in found]
    models = expand_models(spec)
    stepless = [m for m in models if checkpoint_step(m) is None] if require_steps else []
    if stepless or not models:
        raise InductionError(f"{(stepless or [spec])[0][:60]!r} names no training step, so it is not a checkpoint "
                             "series: write multiberts:seeds=0-4:steps=all, or the path of a folder of step_N "
                             "checkpoint folders")
    return models


def appearance_step(points: list[tuple[int, float]]) -> int | None:
    """The first step whose score reaches half of the series' highest score (points sorted by step)."""
    if not points:
        return None
    top = max(score for _, score in points)
    return next((step for step, score in points if score >= top / 2), None) if top > 0 else None


def dynamics(models: list[str], template: MapConfig, target: str, head: tuple[int, int] | None = None) -> dict:
    """Per checkpoint, from the cache: its seed, step, best head and score, and the chosen head's score.

    Returns {"rows": [...], "missing": [models not in the cache or not describable], "appears": {seed: step}}.
    """
    from induction.engine import cached_map

    rows, missing = [], []
    for model in models:
        step = checkpoint_step(model)
        try:
            result = cached_map(dataclasses.replace(template, model=model))
        except InductionError:
            result = None
        if step is None or result is None:
            missing.append(model)
            continue
        best = result.top_heads(target, 1)[0]
        mean = result.mean(target)
        chosen = float(mean[head]) if head and head[0] < result.layers and head[1] < result.heads else None
        rows.append({"model": model, "seed": checkpoint_seed(model), "step": step, "best_head": best.name,
                     "best": best.score, "head": chosen, "baseline": result.baseline})
    rows.sort(key=lambda r: (r["seed"], r["step"]))
    appears = {seed: appearance_step([(r["step"], r["best"]) for r in rows if r["seed"] == seed])
               for seed in sorted({r["seed"] for r in rows})}
    return {"rows": rows, "missing": missing, "appears": appears}
