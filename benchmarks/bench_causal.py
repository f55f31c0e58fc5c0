"""Benchmark: the repeat setup on a decoder, the engine against the straightforward way, same trials.

    python benchmarks/bench_causal.py                 # GPT-2 small shape (12 x 12, hidden 768), random weights
    python benchmarks/bench_causal.py --quick --out /tmp/causal.json   # a tiny shape, 4 trials

Methods, on the same trials (BOS + segment + segment, every token of the second copy a query), the
model already in memory: straightforward (one trial at a time, eager attention, output_attentions=True,
every (trial, query) pair read by hand: induction/reference.py), the engine (compute_map, cache off) and
the floor (a plain batched forward of the base model, nothing captured).
Prints a table and writes it as JSON (benchmarks/results/causal.json by default).
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

import numpy as np
import torch

from induction.config import MapConfig
from induction.engine import compute_map, get_model, make_trials
from induction.reference import load_eager, straightforward_scores


def save_gpt2(out: Path, *, layers: int, heads: int, hidden: int) -> str:
    from transformers import GPT2Config, GPT2LMHeadModel

    from induction.toys.toy_gpt import save_tokenizer

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=259, n_embd=hidden, n_layer=layers, n_head=heads, n_positions=1024,
                                       bos_token_id=2, eos_token_id=2))
    model.config.architectures = ["GPT2LMHeadModel"]
    model.save_pretrained(out)
    save_tokenizer(out)
    return str(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--segment", type=int, default=100)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "causal.json")
    args = parser.parse_args()
    shape = dict(layers=2, heads=4, hidden=32) if args.quick else dict(layers=12, heads=12, hidden=768)
    trials, segment = (4, 16) if args.quick else (args.trials, args.segment)
    with tempfile.TemporaryDirectory() as tmp:
        path = save_gpt2(Path(tmp), **shape)
        config = MapConfig(model=path, setup="repeat", trials=trials, segment=segment, dtype="float32", device="cpu")
        model = get_model(path, device="cpu", dtype="float32")
        batch = make_trials(config, model)
        reference = load_eager(path)
        started = time.perf_counter()
        expected = straightforward_scores(reference, batch, "repeat")
        straightforward = time.perf_counter() - started
        compute_map(config, use_cache=False)  # warm-up: first-call overheads out of the timing
        started = time.perf_counter()
        result = compute_map(config, use_cache=False)
        engine = time.perf_counter() - started
        ids = torch.from_numpy(batch.input_ids)
        started = time.perf_counter()
        with torch.inference_mode():  # the floor: a plain batched forward, nothing captured
            for start in range(0, trials, 8):
                model.encoder(input_ids=ids[start:start + 8])
        floor = time.perf_counter() - started
    worst = max(float(np.abs(result.per_trial[t] - expected[t]).max()) for t in expected)
    rows = {"shape": shape, "trials": trials, "segment": segment, "queries_per_trial": segment,
            "straightforward_s": round(straightforward, 3), "engine_s": round(engine, 3), "floor_s": round(floor, 3),
            "speedup": round(straightforward / engine, 2), "max_abs_diff": worst,
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "torch": torch.__version__,
            "threads": torch.get_num_threads()}
    print(json.dumps(rows, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
