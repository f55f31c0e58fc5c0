"""Sweeps that outgrow one machine: every (model, setup, seed) one task, run here or on a Ray cluster.

Why Ray and not a scheduler of our own: a mosaic over dozens of models or the MultiBERTs checkpoints is
hours of GPU work; Ray already places tasks on GPUs, retries lost workers and ships results back. Each
task loads its model where it runs, computes the map with the library (no cache there) and returns the
arrays; the driver writes every result into its own cache under the key that task's `map` would use
(which names the device and dtype the task ran on), so the dashboard and later `map` calls read it.
A model that cannot load fails its own tasks with its error; the others go on.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from induction.checkpoints import checkpoint_seed, checkpoint_step
from induction.config import PAPER_TRIALS, InductionError, MapConfig
from induction.frames import SweepResult
from induction.models.hub import QUIET_ENVIRONMENT


def run_sweep(tasks: list[Task], *, ray: str | None = None, use_cache: bool = True, progress=None) -> SweepResult:
    """Run every task; {"executor": "ray" | "local", "runs": [...]} in task order (a dict with `to_frame()`)."""
    if ray is None:
        runs = []
        for done, task in enumerate(tasks, 1):
            runs.append(run_task(task, use_cache=use_cache))
            if progress:
                progress(done, len(tasks))
        return SweepResult(executor="local", runs=runs)

    return SweepResult(executor="ray", runs=run_on_ray(tasks, ray, use_cache=use_cache, progress=progress))

MULTIBERTS_STEPS = (*range(0, 201, 20), *range(300, 2001, 100))  # thousands of steps, as released
MULTIBERTS_SEEDS = range(5)  # the seeds with intermediate checkpoints


@dataclass(frozen=True)
class Task:
    model: str
    setup: str | None  # None: the model's kind's own
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


def checkpoint_folders(folder: Path) -> list[Path]:
    """The checkpoint folders under `folder` (`step_N`, or `seed_S/step_N`: a config.json and a step in the name),
    in (seed, step) order."""
    found = (p.parent for p in folder.glob("**/config.json") if checkpoint_step(p.parent.name) is not None)
    return sorted(found, key=lambda p: (checkpoint_seed(str(p)), checkpoint_step(p.name), str(p)))


def run_task(task: Task, *, use_cache: bool) -> dict:
    """One task in this process: the map (from the cache when it is there), or the error."""
    from induction.engine import compute_map

    started = time.perf_counter()
    try:
        result = compute_map(task.config(), use_cache=use_cache)
    except InductionError as exc:
        return failed_row(task, str(exc), started)
    except Exception as exc:
        return failed_row(task, f"{type(exc).__name__}: {exc}", started)
    return ok_row(task, result, cached=result.cached, elapsed_s=time.perf_counter() - started)


def ok_row(task: Task, result, *, cached: bool, elapsed_s: float) -> dict:
    """A finished task's row: its map's best head on the setup's first target, with the setup, target and segment
    the defaults chose (a checkpoint's step from its name)."""
    target = result.targets[0]
    best = result.top_heads(target, 1)[0]
    return {**task_row(task), "setup": result.config.setup, "target": target, "segment": result.config.segment,
            "trials": result.trials, "status": "ok", "error": None, "top_head": best.name,
            "top_score": round(best.score, 6), "baseline": result.baseline, "cached": cached,
            "elapsed_s": round(elapsed_s, 3)}


def task_row(task: Task) -> dict:
    return {"model": task.model, "step": checkpoint_step(task.model), "setup": task.setup, "target": None,
            "segment": task.segment, "trials": task.trials, "seed": task.seed}


def failed_row(task: Task, error: str, started: float) -> dict:
    return {**task_row(task), "status": "failed", "error": error, "top_head": None, "top_score": None,
            "baseline": None, "cached": False, "elapsed_s": round(time.perf_counter() - started, 3)}


def tasks_for(models: list[str], setups: list[str | None], seeds: list[int], *, protocol: str = "clean",
              trials: int = PAPER_TRIALS, segment: int | None = None) -> list[Task]:
    """Every (model, setup, seed) one task, in that order: what `run_sweep` runs (a setup None: each model's
    kind's own)."""
    return [Task(m, s, seed, protocol, trials, segment) for m in models for s in setups for seed in seeds]

ROOT = Path(__file__).resolve().parent.parent  # the folder holding the package: workers import it from there


def _compute(task: Task) -> dict:
    """On a worker: load the model there, compute the map without any cache, return its arrays and key."""
    from induction.engine import compute_map, map_payload
    from induction.runs import map_key, resolve_run

    started = time.perf_counter()
    try:
        run = resolve_run(task.config())
        result = compute_map(run, use_cache=False)
    except InductionError as exc:
        return failed_row(task, str(exc), started)
    except Exception as exc:
        return failed_row(task, f"{type(exc).__name__}: {exc}", started)
    meta, arrays = map_payload(result)
    return {**ok_row(task, result, cached=False, elapsed_s=time.perf_counter() - started), "key": map_key(run),
            "meta": meta, "arrays": arrays}


def _already_cached(task: Task, cache) -> dict | None:
    """The driver's own cache answers a task whose model it can describe (config only, no weights)."""
    from induction.engine import cached_map

    try:
        result = cached_map(task.config(), cache)
    except InductionError:
        return None  # the worker will say why
    if result is None:
        return None
    return ok_row(task, result, cached=True, elapsed_s=0.0)


def _start(address: str):
    try:
        import ray
    except ImportError as exc:
        raise InductionError("--ray needs Ray: pip install -r requirements-ray.txt") from exc
    env = {"PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p),
           **{k: os.environ.get(k, v) for k, v in QUIET_ENVIRONMENT.items()}}
    for name in ("HF_HOME", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        if name in os.environ:
            env[name] = os.environ[name]
    kwargs = dict(runtime_env={"env_vars": env}, log_to_driver=False, logging_level="ERROR")
    try:
        if address == "local":
            ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except Exception as exc:
        raise InductionError(f"could not start or join the Ray cluster {address!r}: {exc}") from exc
    return ray


def run_on_ray(tasks: list[Task], address: str, *, use_cache: bool, progress=None) -> list[dict]:
    from induction.cache import open_cache

    ray = _start(address)
    try:
        gpu = ray.cluster_resources().get("GPU", 0) > 0
        remote = ray.remote(num_gpus=1 if gpu else 0, num_cpus=0 if gpu else 1)(_compute)
        cache = open_cache() if use_cache else None
        runs: list[dict | None] = [None] * len(tasks)
        pending, done = {}, 0
        for i, task in enumerate(tasks):
            hit = _already_cached(task, cache) if cache is not None else None
            if hit is not None:
                runs[i], done = hit, done + 1
                if progress:
                    progress(done, len(tasks))
            else:
                pending[remote.remote(task)] = i
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                i = pending.pop(ref)
                try:
                    out = ray.get(ref)
                except Exception as exc:
                    out = failed_row(tasks[i], f"the Ray task failed: {type(exc).__name__}: {exc}", time.perf_counter())
                if out["status"] == "ok" and cache is not None:
                    cache.put(out["key"], out["meta"], out["arrays"])
                runs[i] = {k: v for k, v in out.items() if k not in ("key", "meta", "arrays")}
                done += 1
                if progress:
                    progress(done, len(tasks))
        return runs
    finally:
        if address == "local":
            ray.shutdown()
