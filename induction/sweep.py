"""Sweeps that outgrow one machine: every (model, setup, seed) one task, run here or on a Ray cluster.

Why Ray and not a scheduler of our own: a mosaic over dozens of models or the MultiBERTs checkpoints is
hours of GPU work; Ray already places tasks on GPUs, retries lost workers and ships results back. Each
task loads its model where it runs, computes the map with the library (no cache there) and returns the
arrays; the driver writes every result into its own cache under the key that task's `map` would use
(which names the device and dtype the task ran on), so the dashboard and later `map` calls read it.
A model that cannot load fails its own tasks with its error; the others go on.
"""

from __future__ import annotations

from .tasks import Task, run_task


def sweep(tasks: list[Task], *, ray: str | None = None, use_cache: bool = True, progress=None) -> dict:
    """Run every task; {"executor": "ray" | "local", "runs": [...]} in task order."""
    if ray is None:
        runs = []
        for done, task in enumerate(tasks, 1):
            runs.append(run_task(task, use_cache=use_cache))
            if progress:
                progress(done, len(tasks))
        return {"executor": "local", "runs": runs}
    from .sweep_ray import run_on_ray

    return {"executor": "ray", "runs": run_on_ray(tasks, ray, use_cache=use_cache, progress=progress)}
