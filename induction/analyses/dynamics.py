"""Training dynamics: every head's induction score against training step, one line per training seed, with the
training loss, the late-token loss and the ICL score of each checkpoint on the same steps.

Why: Olsson et al. saw induction heads appear in a phase change during the training of decoders: at the same
step the in-context learning score jumps and the loss on late tokens drops. The series trained here
(`trained-gpt`, `trained-bert`: `induction train`) show it offline, and are small enough to compute on demand;
other series (the MultiBERTs checkpoints) are read from the cache a sweep filled. The step at which induction
heads *appear* is the first checkpoint whose best head reaches half of that seed's highest score.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from induction.config import SIGNAL_RATIO, InductionError, MapConfig
from induction.engine import Progress
from induction.frames import DynamicsResult
from induction.models.registry import checkpoint_name
from induction.sweep import checkpoint_folders, checkpoint_seed, checkpoint_step, expand_models
from induction.training.series import SERIES, shipped_series, training_log

ICL_LENGTHS = (6, 60)  # the trained series' ICL contexts (short, long): their 64 positions hold at most 64 tokens
ICL_TRIALS = 200  # of the 245 held-out paragraphs long enough: one token's loss is noisy (s.e. about 0.1-0.15 nats)


def series_folder(spec: str) -> Path | None:
    """The folder a series lives in: a shipped series' by its name, or the folder given; None for a model list."""
    if spec in SERIES:
        return shipped_series(spec)
    folder = Path(spec).expanduser()
    return folder if folder.is_dir() else None


def series_models(spec: str, *, require_steps: bool = True) -> list[str]:
    """A checkpoint series: a shipped series by name (trained-gpt), a folder of checkpoint folders (`step_N`, or
    `seed_S/step_N`), or a sweep's --models. `require_steps`: every model must name its training step (the
    Training dynamics page, where a series' name is the series); a sweep takes any (and a series' name is its
    final checkpoint, the registry's model: sweep the series by its folder)."""
    named = require_steps and spec in SERIES
    if named and not shipped_series(spec).is_dir():
        raise InductionError(f"the series {spec!r} is not in this install: regenerate it with "
                             f"`induction train {spec} --out {shipped_series(spec)}`")
    folder = shipped_series(spec) if named else Path(spec).expanduser()
    if folder.is_dir():
        found = checkpoint_folders(folder)
        if not found:
            raise InductionError(f"the folder {spec!r} has no checkpoint folders named step_N")
        if named:  # a shipped series' checkpoints by name (trained-gpt@step_500): no server path in a link or title
            return [checkpoint_name(spec, checkpoint_step(p.name)) for p in found]
        return [str(p) for p in found]
    models = expand_models(spec)
    stepless = [m for m in models if checkpoint_step(m) is None] if require_steps else []
    if stepless or not models:
        raise InductionError(f"{(stepless or [spec])[0][:60]!r} names no training step, so it is not a checkpoint "
                             "series: write multiberts:seeds=0-4:steps=all, or the path of a folder of step_N "
                             "checkpoint folders")
    return models


def appearance_step(points: list[tuple[int, float]], floor: float = 0.0) -> int | None:
    """The first step whose score reaches half of the series' highest score (points sorted by step); None when no
    head formed: no score ever passes `floor` (SIGNAL_RATIO x the uniform baseline in `dynamics`)."""
    if not points:
        return None
    top = max(score for _, score in points)
    if top <= 0 or top < floor:
        return None
    return next((step for step, score in points if score >= max(top / 2, floor)), None)


def expand_series(models: list[str] | str) -> list[str]:
    """Each entry a checkpoint or a whole series: a shipped series by name (trained-gpt) or a folder of step_N
    checkpoint folders stands for all its checkpoints, as `sweep` reads a folder; a checkpoint stays itself."""
    out: list[str] = []
    for spec in [models] if isinstance(models, str) else models:
        is_series = spec in SERIES or (Path(spec).expanduser().is_dir() and checkpoint_step(Path(spec).name) is None
                                       and checkpoint_folders(Path(spec).expanduser()))
        out += series_models(spec) if is_series else [spec]
    return out


def dynamics(models: list[str] | str, template: MapConfig | None = None, target: str | None = None,
             head: tuple[int, int] | None = None, *, compute_missing: bool = False,
             progress: Progress | None = None) -> dict:
    """Per checkpoint: its seed, step, setup, target, segment, best head and score, the chosen head's score and every
    head's ([L][H]). `models`: checkpoints, or series by name or folder (`expand_series`); `template`: the map's
    settings (default: every default, decided by each checkpoint's weights); `target`: default the setup's first.
    From the cache; with `compute_missing`, the maps not cached are computed (the trained series are small).

    Returns {"rows": [...], "missing": [models not in the cache or not describable], "appears": {seed: step, or None
    where no head passed SIGNAL_RATIO x the uniform baseline}}.
    """
    from induction.engine import cached_map, compute_map

    models = expand_series(models)
    template = template or MapConfig()
    rows, missing = [], []
    for done, model in enumerate(models):
        step = checkpoint_step(model)
        config = dataclasses.replace(template, model=model)
        try:
            result = compute_map(config) if compute_missing else cached_map(config)
        except InductionError:
            result = None
        if progress:
            progress(done + 1, len(models))
        if step is None or result is None:
            missing.append(model)
            continue
        name = target or result.targets[0]
        best = result.top_heads(name, 1)[0]
        mean = result.mean(name)
        chosen = float(mean[head]) if head and head[0] < result.layers and head[1] < result.heads else None
        rows.append({"model": model, "seed": checkpoint_seed(model), "step": step, "setup": result.config.setup,
                     "target": name, "segment": result.config.segment, "trials": result.trials,
                     "best_head": best.name, "best": best.score, "head": chosen, "baseline": result.baseline,
                     "scores": mean.tolist()})
    rows.sort(key=lambda r: (r["seed"], r["step"]))
    appears = {seed: appearance_step([(r["step"], r["best"]) for r in rows if r["seed"] == seed],
                                     floor=SIGNAL_RATIO * max(r["baseline"] for r in rows if r["seed"] == seed))
               for seed in sorted({r["seed"] for r in rows})}
    return DynamicsResult(rows=rows, missing=missing, appears=appears, map_seed=template.seed)


def loss_curve(spec: str) -> dict | None:
    """The training log of a series trained here: {"step", "loss", "late_loss"} lists, or None for other series."""
    folder = series_folder(spec)
    log = training_log(folder) if folder else None
    if not log:
        return None
    entries = log["log"]
    return {"step": [e["step"] for e in entries], "loss": [e["loss"] for e in entries],
            "late_loss": [e["late_loss"] for e in entries], "note": log["note"]}


def icl_series(models: list[str], *, lengths: tuple[int, int] = ICL_LENGTHS, trials: int = ICL_TRIALS, seed: int = 0,
               progress: Progress | None = None) -> list[dict]:
    """The ICL score of every checkpoint (the kind's own variant, cached): [{model, step, gain, mean, sem, corpus,
    ...}]; `gain` is positive when context helps for both kinds (`mean` is the variant's raw, signed score). A model
    trained here is scored on the held-out python-docs topics, never its training text."""
    from induction.analyses.icl import ICLConfig, icl_score

    out = []
    for done, model in enumerate(models):
        result = icl_score(ICLConfig(model=model, short=lengths[0], long=lengths[1], trials=trials, seed=seed))
        out.append({"model": model, "step": checkpoint_step(model), "gain": result.gain, "mean": result.mean,
                    "sem": result.sem, "definition": result.definition, "sign": result.sign,
                    "corpus": result.config.corpus, "trials": len(result.per_trial)})
        if progress:
            progress(done + 1, len(models))
    return out
