"""A sweep's tasks: every (model, setup, seed) one task; checkpoint series and the steps their names say.

The executors are in `sweep.py` (this process) and `sweep_ray.py` (a Ray cluster); both import this
module and neither imports the other's caller, so the library keeps no import cycle.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from .config import PAPER_TRIALS, InductionError, MapConfig

MULTIBERTS_STEPS = (*range(0, 201, 20), *range(300, 2001, 100))  # thousands of steps, as released
MULTIBERTS_SEEDS = range(5)  # the seeds with intermediate checkpoints
_STEP = re.compile(r"step[_-]?0*(\d+)(k?)", re.IGNORECASE)


@dataclass(frozen=True)
class Task:
    model: str
    setup: str
    seed: int
    protocol: str = "clean"
    trials: int = PAPER_TRIALS
    segment: int | None = None

    def config(self, device: str = "auto") -> MapConfig:
        return MapConfig(model=self.model, setup=self.setup, protocol=self.protocol, trials=self.trials,
                         seed=self.seed, segment=self.segment, device=device)


def _numbers(text: str, default) -> list[int]:
    """'0-4' -> [0..4]; '0,20,40' -> [0, 20, 40]; 'all' -> default."""
    if text == "all":
        return list(default)
    out = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not (low.isdigit() and (not high or high.isdigit())):
            raise InductionError(f"cannot read {text!r}: write numbers like 0-4 or 0,20,40 or all")
        out += list(range(int(low), int(high or low) + 1))
    return out


def expand_models(spec: str) -> list[str]:
    """Comma-separated models; `multiberts:seeds=0-4:steps=all` expands to the released checkpoints."""
    out: list[str] = []
    for item in (s.strip() for s in re.split(r",(?![\d,-]*(?::|$))", spec) if s.strip()):
        if not item.startswith("multiberts:"):
            out.append(item)
            continue
        fields = dict(part.split("=", 1) for part in item.split(":")[1:] if "=" in part)
        seeds = _numbers(fields.get("seeds", "0-4"), MULTIBERTS_SEEDS)
        steps = _numbers(fields.get("steps", "all"), MULTIBERTS_STEPS)
        out += [f"google/multiberts-seed_{s}-step_{k}k" for s in seeds for k in steps]
    return out


def checkpoint_step(model: str) -> int | None:
    """The training step a checkpoint's name says (step_20k -> 20000, step_000500 -> 500), or None."""
    found = _STEP.findall(model)
    if not found:
        return None
    number, k = found[-1]
    return int(number) * (1000 if k else 1)


def checkpoint_seed(model: str) -> int:
    found = re.findall(r"seed[_-]?(\d+)", model, flags=re.IGNORECASE)
    return int(found[-1]) if found else 0


def run_task(task: Task, *, use_cache: bool) -> dict:
    """One task in this process: the map (from the cache when it is there), or the error."""
    from .engine import compute_map

    started = time.perf_counter()
    try:
        result = compute_map(task.config(), use_cache=use_cache)
    except InductionError as exc:
        return failed_row(task, str(exc), started)
    except Exception as exc:
        return failed_row(task, f"{type(exc).__name__}: {exc}", started)
    return ok_row(task, result, cached=result.cached, elapsed_s=time.perf_counter() - started)


def ok_row(task: Task, result, *, cached: bool, elapsed_s: float) -> dict:
    """A finished task's row: its map's best head on the setup's first target."""
    best = result.top_heads(result.targets[0], 1)[0]
    return {**task_row(task), "status": "ok", "error": None, "top_head": best.name, "top_score": round(best.score, 6),
            "cached": cached, "elapsed_s": round(elapsed_s, 3)}


def task_row(task: Task) -> dict:
    return {"model": task.model, "setup": task.setup, "seed": task.seed}


def failed_row(task: Task, error: str, started: float) -> dict:
    return {**task_row(task), "status": "failed", "error": error, "top_head": None, "top_score": None, "cached": False,
            "elapsed_s": round(time.perf_counter() - started, 3)}


def tasks_for(models: list[str], setups: list[str], seeds: list[int], *, protocol: str, trials: int,
              segment: int | None = None) -> list[Task]:
    return [Task(m, s, seed, protocol, trials, segment) for m in models for s in setups for seed in seeds]
