"""Tidy frames: every result as rows of one long format, so results of any kind concatenate into one table.

Why one format: a notebook compares maps across models, steps and setups, effects beside attention, ICL beside
the heads; with one set of columns (`FRAME_COLUMNS`) every result's `to_frame()` stacks with `pandas.concat` and
filters with one vocabulary. A column that does not apply to a row is None (NaN in a numeric column). `measure`
says what `score` is: `attention` (a map's score), `ablated` (a map's score with heads ablated), `ablated_change`,
`loss_change`, `effect`, a role's score (`role`), `copying`, `icl_gain`, `icl_mean`, `curve_loss`, `top_head`,
`composition` (a K-composition score into a head; baseline: the random matrices').

Rows are built here as plain dicts (no pandas); `frame(rows)` makes the DataFrame (pandas imported only then).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import numpy as np

from induction.checkpoints import checkpoint_step

Measure = Literal["attention", "ablated", "ablated_change", "loss_change", "effect", "role", "copying", "icl_gain",
                  "icl_mean", "curve_loss", "top_head", "composition"]
MEASURES: tuple[str, ...] = get_args(Measure)
FRAME_COLUMNS = ("model", "step", "setup", "target", "segment", "layer", "head", "score", "sem", "baseline", "ratio",
                 "trials", "seed", "measure")


def frame(rows: Iterable[dict]):
    """A pandas DataFrame of rows in the long format, columns in FRAME_COLUMNS order (missing ones None)."""
    import pandas as pd

    return pd.DataFrame([{c: row.get(c) for c in FRAME_COLUMNS} for row in rows], columns=list(FRAME_COLUMNS))


def _step(model: str) -> int | None:
    return checkpoint_step(model)


def _number(value) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def grid_rows(mean: np.ndarray, sem: np.ndarray | None, *, baseline: float | None, **fixed) -> list[dict]:
    """One row per head of a [L, H] grid (NaN scores kept as None), with the run's fixed columns."""
    out = []
    for (layer, head), value in np.ndenumerate(np.asarray(mean, dtype=float)):
        score = _number(value)
        ratio = score / baseline if score is not None and baseline else None
        out.append({**fixed, "layer": layer, "head": head, "score": score, "baseline": baseline, "ratio": ratio,
                    "sem": None if sem is None else _number(np.asarray(sem)[layer, head])})
    return out


def _sem(per_trial: np.ndarray) -> np.ndarray:
    """Standard error over the first axis (0 for one trial)."""
    n = per_trial.shape[0]
    return per_trial.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(per_trial.shape[1:])


def map_rows(result, measure: str = "attention") -> list[dict]:
    """An InductionMap or a TextMap: every (target, layer, head)."""
    config = result.config
    fixed = dict(model=config.model, step=_step(config.model), setup=getattr(config, "setup", None),
                 segment=getattr(config, "segment", None), trials=result.trials, seed=config.seed, measure=measure)
    rows = []
    for target in result.targets:
        mean, sem = result.stats(target)
        rows += grid_rows(mean, sem, baseline=result.baseline, target=target, **fixed)
    return rows


def ablation_rows(result) -> list[dict]:
    """An AblationResult: each target's ablated score and its change (heads ablated: None), and the loss change."""
    clean = result.clean
    c = clean.config
    fixed = dict(model=c.model, step=_step(c.model), setup=c.setup, segment=c.segment, trials=clean.trials,
                 seed=c.seed)
    rows = []
    for target in clean.targets:
        rows += grid_rows(result.ablated(target), _sem(result.per_trial[target]), baseline=clean.baseline,
                          target=target, measure="ablated", **fixed)
        rows += grid_rows(result.diff(target), result.diff_sem(target), baseline=None, target=target,
                          measure="ablated_change", **fixed)
    if result.loss_change is not None:
        rows.append({**fixed, "score": result.loss_change, "sem": result.loss_change_sem, "measure": "loss_change"})
    return rows


def effects_rows(result) -> list[dict]:
    """An EffectsResult: every head's effect on the loss (nats, positive: the head helps) with its sem."""
    c = result.config
    return grid_rows(result.effect, result.effect_sem, baseline=None, model=c.model, step=_step(c.model),
                     setup=c.setup, segment=c.segment, trials=result.trials, seed=c.seed, measure="effect")


def roles_rows(result) -> list[dict]:
    """A HeadRoles: every behavioural role's score per head (target: the role), and the OV copying score."""
    fixed = dict(model=result.model, step=_step(result.model), trials=result.trials, seed=result.seed)
    rows = []
    for role, mean in result.scores.items():
        rows += grid_rows(mean, result.sems[role], baseline=result.baselines[role], target=role, measure="role",
                          **fixed)
    if result.copying is not None:
        rows += grid_rows(result.copying, None, baseline=None, target="copying", measure="copying", **fixed)
    return rows


def mechanism_rows(result) -> list[dict]:
    """A MechanismSeries: per checkpoint, the induction head's prefix-matching score (measure role), its OV copying
    (measure copying) and the K-composition from each previous-token head into it (measure composition, target
    `K from LxHy`, baseline the random matrices' mean)."""
    layer, head = result.induction_head
    fixed = dict(layer=layer, head=head, trials=result.trials, seed=result.seed)
    rows = []
    for r in result.rows:
        at = dict(fixed, model=r["model"], step=r["step"])
        rows.append({**at, "target": "prefix_matching", "score": r["prefix_matching"], "sem": r["prefix_matching_sem"],
                     "measure": "role"})
        if r["copying"] is not None:
            rows.append({**at, "target": "copying", "score": r["copying"], "measure": "copying"})
        for entry in r["k_composition"]:
            source, value = entry["from"], entry["K"]
            ratio = value / result.random_mean if value is not None and result.random_mean else None
            rows.append({**at, "target": f"K from {source}", "score": value, "baseline": result.random_mean,
                         "ratio": ratio, "measure": "composition"})
    return rows


def icl_rows(result) -> list[dict]:
    """An ICLResult: the gain (positive when context helps), the variant's raw mean, and the curve's losses (segment:
    the context length, or the token, n)."""
    c = result.config
    fixed = dict(model=c.model, step=_step(c.model), target=c.variant, trials=len(result.per_trial), seed=c.seed)
    rows = [{**fixed, "score": result.gain, "sem": result.sem, "measure": "icl_gain"},
            {**fixed, "score": result.mean, "sem": result.sem, "measure": "icl_mean"}]
    rows += [{**fixed, "segment": n, "score": m, "sem": s, "measure": "curve_loss"}
             for n, (m, s) in result.curve.items()]
    return rows


def sweep_rows(result: dict) -> list[dict]:
    """A sweep: each task's best head on its setup's first target (a failed task: no score)."""
    from induction.config import parse_head

    rows = []
    for run in result["runs"]:
        layer, head = parse_head(run["top_head"]) if run.get("top_head") else (None, None)
        score, baseline = run.get("top_score"), run.get("baseline")
        rows.append({"model": run["model"], "step": run.get("step"), "setup": run.get("setup"),
                     "target": run.get("target"), "segment": run.get("segment"), "layer": layer, "head": head,
                     "score": score, "baseline": baseline, "ratio": score / baseline if score and baseline else None,
                     "trials": run.get("trials"), "seed": run.get("seed"), "measure": "top_head"})
    return rows


def depth_rows(result) -> list[dict]:
    """A DepthResult: per depth series its strongest head under each reading (measure top_head, target `prev`,
    `prev_before`, `prev_after` read at [MASK], or `duplicate@every_token` (an encoder's; a decoder's `induction@...`)
    and `@last_token`), the source
    head's K-composition into the strongest (composition, baseline the random matrices' mean), each ablation's loss
    change (loss_change, target `without LxHy`) and the ICL gain (icl_gain)."""
    from induction.config import parse_head

    rows = []
    for r in result.rows:
        fixed = dict(model=r["model"], step=_step(r["model"]), setup=r["setup"], trials=r["trials"], seed=r["seed"])
        read = "duplicate" if r["kind"] == "encoder" else "induction"  # depth.REPEAT_TARGET
        picks = [*r["per_target"].items(), *((f"{read}@{k}", b) for k, b in r["readings"].items()
                                            if k != "mask_query")]
        for target, best in picks:
            layer, head = parse_head(best["name"])
            rows.append({**fixed, "target": target, "layer": layer, "head": head, "score": best["score"],
                         "baseline": r["baseline"], "measure": "top_head"})
        if r["source_head"] is not None:
            layer, head = parse_head(r["source_head"]["name"])
            rows.append({**fixed, "target": f"K into {r['strongest_head']['name']}", "layer": layer, "head": head,
                         "score": r["source_head"]["k_into_strongest"], "baseline": r["random_mean"],
                         "measure": "composition"})
        for entry in r["ablation"].values():
            if entry is not None:
                layer, head = parse_head(entry["name"])
                rows.append({**fixed, "target": f"without {entry['name']}", "layer": layer, "head": head,
                             "score": entry["loss_change"], "sem": entry["sem"], "measure": "loss_change"})
        rows.append({**fixed, "target": "icl", "score": r["icl_gain"], "sem": r["icl_sem"], "measure": "icl_gain"})
    return rows


def dynamics_rows(result: dict) -> list[dict]:
    """Training dynamics: every checkpoint's every head at the target (step from the checkpoint's name)."""
    rows = []
    for row in result["rows"]:
        rows += grid_rows(np.asarray(row["scores"], dtype=float), None, baseline=row["baseline"], model=row["model"],
                          step=row["step"], setup=row.get("setup"), target=row.get("target"),
                          segment=row.get("segment"), trials=row.get("trials"), seed=result.get("map_seed"),
                          measure="attention")
    return rows


class FrameDict(dict):
    """A dict result (a sweep's, dynamics') that also gives its tidy frame; JSON and equality as a dict."""

    rows_of = staticmethod(lambda result: [])

    def to_frame(self):
        """The result in the long format (FRAME_COLUMNS): one row per task or checkpoint head."""
        return frame(type(self).rows_of(self))


class SweepResult(FrameDict):
    """{"executor": "ray" | "local", "runs": [...]}: one row per task, in task order; `to_frame()` is tidy."""

    rows_of = staticmethod(sweep_rows)


class DynamicsResult(FrameDict):
    """{"rows": [...], "missing": [...], "appears": {seed: step}, "map_seed": seed}; `to_frame()` is tidy."""

    rows_of = staticmethod(dynamics_rows)
