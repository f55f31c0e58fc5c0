"""Benchmark: one sweep in this process and on a local Ray cluster (cache off, same tasks).

    python benchmarks/bench_sweep.py           # toy and minilm x standard, triple x 4 seeds = 16 tasks

Reports tasks per minute for each executor, the cluster's start-up, and Ray's overhead per task:
(Ray's wall time without start-up x its parallel workers - the in-process wall time) / tasks, that is
what each task costs beyond its own computation (shipping it, a worker loading its model once, the
arrays coming back). Writes benchmarks/results/sweep.json.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from induction.sweep import run_sweep, tasks_for


def main() -> None:
    import argparse
    import os

    import ray

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="toy only, 2 tasks of 3 trials: checks the benchmark works")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "sweep.json")
    args = p.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.quick:
        tasks = tasks_for(["toy"], ["standard"], [0, 1], protocol="clean", trials=3)
    else:
        tasks = tasks_for(["toy", "minilm"], ["standard", "triple"], [0, 1, 2, 3], protocol="clean", trials=20)
    started = time.perf_counter()
    local = run_sweep(tasks, use_cache=False)
    local_s = time.perf_counter() - started
    started = time.perf_counter()
    ray.init(include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False, logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}})
    start_s = time.perf_counter() - started
    workers = int(ray.cluster_resources().get("CPU", 1))
    ray.shutdown()
    started = time.perf_counter()
    remote = run_sweep(tasks, ray="local", use_cache=False)
    ray_s = time.perf_counter() - started
    same = [(r["top_head"], r["top_score"]) for r in local["runs"]] == [(r["top_head"], r["top_score"])
                                                                          for r in remote["runs"]]
    result = {"tasks": len(tasks), "workers": workers, "in_process_s": round(local_s, 2),
              "ray_s_with_start": round(ray_s, 2), "ray_start_s": round(start_s, 2),
              "in_process_tasks_per_min": round(60 * len(tasks) / local_s, 1),
              "ray_tasks_per_min": round(60 * len(tasks) / (ray_s - start_s), 1),
              "ray_overhead_per_task_s": round(((ray_s - start_s) * workers - local_s) / len(tasks), 3),
              "same_numbers": same}
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
