"""Benchmark: the fallback capture path against the attention-interface path, same model, same trials.

    python benchmarks/bench_capture.py            # BERT-base shape (12 x 12), random weights, paper protocol
    python benchmarks/bench_capture.py --quick    # tiny shape (the test suite runs this)

One randomly initialised BertForMaskedLM is loaded twice: as the interface path loads it (the "induction"
attention function reads only the [MASK] rows and stops after the last layer's scores) and as the fallback
path loads families whose attention bypasses the interface (eager attention, every layer's full
H x S x S weights returned by output_attentions, rows read from them). Reports ms per trial, the peak
working memory of each, and the largest difference between their maps. Writes
benchmarks/results/capture_<shape>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np
import torch
from bench_engine import PEAKS, random_model, timed

from induction.config import MapConfig
from induction.engine import batch_size, capture, make_trials
from induction.models.loading import describe, load_model, resolve_device


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    shape = "tiny" if args.quick else "base"
    source = random_model(shape, Path(tempfile.mkdtemp()) / shape)
    info = describe(source)
    device, dtype = resolve_device()
    models = {path: load_model(dataclasses.replace(info, capture_path=path), device=device, dtype=dtype)
              for path in ("interface", "fallback")}
    config = MapConfig(model=source, protocol="paper", trials=args.trials, segment=None if not args.quick else 60)
    batch = make_trials(config, models["interface"])
    seq = int(batch.input_ids.shape[1])
    rows, seconds = {}, {}
    for path, model in models.items():
        capture(model, batch.slice(0, 1))  # warm up
        seconds[path], rows[path] = timed(lambda m=model: capture(m, batch), name=path)
    result = {
        "shape": shape, "layers": info.layers, "heads": info.heads, "trials": args.trials, "seq_len": seq,
        "device": device, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "ms_per_trial": {p: round(1000 * s / args.trials, 1) for p, s in seconds.items()},
        "working_memory_mb": {p: None if PEAKS.get(p) is None else round(PEAKS[p], 1) for p in models},
        "trials_per_batch": {p: batch_size(m, seq) for p, m in models.items()},
        "fallback_over_interface": round(seconds["fallback"] / seconds["interface"], 2),
        "max_abs_diff": float(np.abs(rows["fallback"] - rows["interface"]).max()),
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"capture_{shape}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
