"""The Ray executor of `sweep`: imported only with --ray, since Ray is an optional requirement
(requirements-ray.txt; the dashboard does not need it).

`local` starts a cluster on this machine for the run (bound to 127.0.0.1) and stops it after; an address
joins a running cluster (`ray start --head` on one machine, `ray start --address=HEAD:6379` on the
others). Each task asks for one GPU when the cluster has GPUs, else one CPU.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from .config import InductionError
from .hub import QUIET_ENVIRONMENT
from .tasks import Task, failed_row, ok_row

ROOT = Path(__file__).resolve().parent.parent


def _compute(task: Task) -> dict:
    """On a worker: load the model there, compute the map without any cache, return its arrays and key."""
    from .engine import compute_map, map_payload
    from .runs import map_key, resolve_run

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
    from .engine import cached_map

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
    from .cache import open_cache

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
