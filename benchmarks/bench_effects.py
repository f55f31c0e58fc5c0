"""Benchmark: per-head effects, the library's fast path against the straightforward way, same trials.

    python benchmarks/bench_effects.py                # BERT-base shape (12 x 12), random weights
    python benchmarks/bench_effects.py --quick        # tiny shape (the test suite runs this)

- straightforward: one full ablated masked-LM run per head (`ablation.run_trials` with that head), L x H runs;
- library: `effects()` with the cache off: one clean pass per chunk keeps the hidden states entering each
  layer; each head re-runs only layers l.. and the MLM head reads only the masked positions.
Both give the loss per trial with each head ablated; the largest difference between them is reported.
Writes benchmarks/results/effects_<shape>.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np
import torch
from bench_engine import random_model, timed

from induction.analyses.ablation import run_trials
from induction.analyses.effects import effects
from induction.config import MapConfig
from induction.engine import get_model, make_trials


def straightforward(model, batch) -> np.ndarray:
    out = np.empty((batch.trials, model.layers, model.heads))
    for layer in range(model.layers):
        for head in range(model.heads):
            out[:, layer, head] = run_trials(model, batch, ((layer, head),), "zero")[1]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--segment", type=int, default=64)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    shape = "tiny" if args.quick else "base"
    source = random_model(shape, Path(tempfile.mkdtemp()) / shape)
    config = MapConfig(model=source, trials=args.trials, segment=args.segment, seed=0)
    model = get_model(source)
    batch = make_trials(config, model)
    run_trials(model, batch.slice(0, 1), (), "zero")  # warm up
    slow_s, slow = timed(lambda: straightforward(model, batch), name="straightforward")
    fast_s, fast = timed(lambda: effects(config, use_cache=False), name="library")
    result = {
        "shape": shape, "layers": model.layers, "heads": model.heads, "trials": args.trials,
        "seq_len": int(batch.input_ids.shape[1]), "device": model.device, "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
        "straightforward_s": round(slow_s, 3), "library_s": round(fast_s, 3), "path": fast.path,
        "speedup": round(slow_s / fast_s, 2), "max_abs_diff": float(np.abs(fast.loss_ablated_per_trial - slow).max()),
    }
    print(f"{shape} {model.layers}x{model.heads}, {args.trials} trials of {result['seq_len']} tokens on "
          f"{model.device}: straightforward {slow_s:.2f}s, library ({fast.path}) {fast_s:.2f}s, "
          f"{result['speedup']}x faster; largest difference {result['max_abs_diff']:.2e}")
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"effects_{shape}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f}s in all)")
