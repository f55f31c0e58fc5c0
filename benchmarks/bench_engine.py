"""Benchmark: the engine against the straightforward way and against the floor, same inputs.

    python benchmarks/bench_engine.py                 # BERT-base shape, random weights, 20 trials
    python benchmarks/bench_engine.py --quick         # tiny shape, 4 trials (the test suite runs this)
    python benchmarks/bench_engine.py --memory        # also peak RSS of the engine on the BERT-large shape
    python benchmarks/bench_engine.py --until-sem 0.01

Methods, all on the same trials (same sequences, same masks), the model already in memory:
- straightforward BertModel / BertForMaskedLM: one trial at a time, eager attention,
  output_attentions=True, rows read by hand (induction/reference.py);
- engine cold: compute_map with the cache disabled; engine warm: compute_map served from the cache;
- floor: a plain batched forward of the encoder with SDPA and nothing captured.
Prints a table and writes it as JSON (benchmarks/results/<name>.json by default).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np
import torch

from induction.config import MapConfig
from induction.engine import batch_size, compute_map, compute_map_until, get_model, make_trials
from induction.reference import load_eager, straightforward_scores

SHAPES = {"tiny": (2, 2, 128), "small": (4, 8, 512), "medium": (8, 8, 512), "base": (12, 12, 768),
          "large": (24, 16, 1024)}  # the five BERT sizes: (layers, heads, hidden)


def random_model(shape: str, out: Path) -> str:
    """A randomly initialised BertForMaskedLM of a BERT shape with the standard uncased tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    from induction.models.loading import resolve

    layers, heads, hidden = SHAPES[shape]
    torch.manual_seed(0)
    config = BertConfig(num_hidden_layers=layers, num_attention_heads=heads, hidden_size=hidden,
                        intermediate_size=4 * hidden)
    model = BertForMaskedLM(config)
    model.config.architectures = ["BertForMaskedLM"]
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(resolve("minilm")[0]).save_pretrained(out)  # the standard uncased vocab
    return str(out)


def _reset_peak_rss() -> bool:
    """Linux: writing 5 to clear_refs resets the peak RSS (VmHWM), so each method gets its own peak."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


PEAKS: dict[str, float | None] = {}


def timed(fn, repeat: int = 1, name: str | None = None) -> tuple[float, object]:
    """Best wall time of `repeat` runs; with `name`, also the peak RSS (or CUDA memory) during them."""
    best, value = float("inf"), None
    gc.collect()
    reset = _reset_peak_rss()
    resident = _status_mb("VmRSS")
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    if name:
        PEAKS[name] = (torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available()
                       else _status_mb("VmHWM") - resident if reset and resident else None)
    return best, value


def floor(model, batch) -> None:
    """The least work: a batched encoder forward with SDPA, nothing captured."""
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    sdpa = floor.models.get(model.source)
    if sdpa is None:
        hf_logging.set_verbosity_error()  # an MLM checkpoint loaded as AutoModel lists its unused head
        sdpa = floor.models[model.source] = AutoModel.from_pretrained(model.source, attn_implementation="sdpa").eval()
    chunk = batch_size(model, batch.input_ids.shape[1])
    with torch.inference_mode():
        for start in range(0, batch.trials, chunk):
            sdpa(input_ids=torch.from_numpy(batch.input_ids[start:start + chunk]))


floor.models = {}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(model: str, trials: int, setup: str) -> None:
    os.environ["INDUCTION_CACHE_DIR"] = tempfile.mkdtemp()
    get_model(model)
    loaded = peak_rss_mb()
    compute_map(MapConfig(model=model, setup=setup, trials=trials, protocol="paper"), use_cache=False)
    print(json.dumps({"peak_rss_mb": peak_rss_mb(), "after_load_mb": loaded}))


def run(args) -> dict:
    os.environ["INDUCTION_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-cache-")
    work = Path(tempfile.mkdtemp(prefix="bench-model-"))
    shape = "tiny" if args.quick else args.shape
    model_name = args.model or random_model(shape, work / shape)
    trials = 4 if args.quick else args.trials
    config = MapConfig(model=model_name, setup=args.setup, protocol="paper", trials=trials, seed=0,
                       segment=20 if args.quick else None)
    model = get_model(model_name)
    batch = make_trials(config, model)
    rows, out = [], {"machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
                     "cpu_count": os.cpu_count(), "torch": torch.__version__, "device": model.device,
                     "threads": torch.get_num_threads(), "shape": f"{model.layers}x{model.heads}",
                     "setup": args.setup, "trials": trials, "seq_len": int(batch.input_ids.shape[1])}
    eager = load_eager(model.source)
    straightforward_scores(eager, batch.slice(0, 1), args.setup)  # warm-up, untimed
    t_sf, ref = timed(lambda: straightforward_scores(eager, batch, args.setup), name="straightforward BertModel")
    rows.append(("straightforward BertModel", t_sf))
    eager_mlm = load_eager(model.source, mlm=True)
    straightforward_scores(eager_mlm, batch.slice(0, 1), args.setup)
    t_sf_mlm, _ = timed(lambda: straightforward_scores(eager_mlm, batch, args.setup),
                        name="straightforward BertForMaskedLM")
    rows.append(("straightforward BertForMaskedLM", t_sf_mlm))
    eager = eager_mlm = None  # free the eager models before the engine runs
    compute_map(dataclasses.replace(config, trials=1), use_cache=False)
    floor(model, batch.slice(0, 1))
    t_cold, result = timed(lambda: compute_map(config, use_cache=False), repeat=args.repeat, name="engine cold")
    rows.append(("engine cold", t_cold))
    # opt-in reduced precision: bfloat16 on the CPU (float16 on a GPU), same trials, its own agreement check
    half = dataclasses.replace(config, dtype="float16" if model.device == "cuda" else "bfloat16")
    compute_map(dataclasses.replace(half, trials=1), use_cache=False)
    t_half, half_result = timed(lambda: compute_map(half, use_cache=False), repeat=args.repeat,
                                name=f"engine cold, {half.dtype} (opt-in)")
    rows.append((f"engine cold, {half.dtype} (opt-in)", t_half))
    compute_map(config)  # fill the cache
    warm = []
    for _ in range(20):
        start = time.perf_counter()
        compute_map(config)
        warm.append(time.perf_counter() - start)
    t_warm = statistics.median(warm)
    rows.append(("engine warm (median of 20)", t_warm))
    t_floor, _ = timed(lambda: floor(model, batch), repeat=args.repeat, name="floor (batched SDPA forward)")
    rows.append(("floor (batched SDPA forward)", t_floor))
    diff = max(float(np.abs(result.per_trial[t] - ref[t]).max()) for t in ref)
    out["methods"] = {name: {"wall_s": round(t, 4), "per_trial_ms": round(1000 * t / trials, 2),
                             "peak_mb": None if PEAKS.get(name) is None else round(PEAKS[name], 1)}
                      for name, t in rows}
    out["peak_memory_kind"] = "cuda max_memory_allocated" if model.device == "cuda" else \
        "peak RSS while the method ran minus the RSS just before it (working memory beyond the loaded models)"
    out["ratios"] = {"straightforward_BertModel/engine": round(t_sf / t_cold, 2),
                     "straightforward_BertForMaskedLM/engine": round(t_sf_mlm / t_cold, 2),
                     "engine/floor": round(t_cold / t_floor, 3),
                     f"straightforward_BertModel/engine_{half.dtype}": round(t_sf / t_half, 2),
                     f"straightforward_BertForMaskedLM/engine_{half.dtype}": round(t_sf_mlm / t_half, 2)}
    out["max_abs_diff_engine_vs_straightforward"] = diff
    out[f"max_abs_diff_engine_{half.dtype}_vs_straightforward"] = max(
        float(np.abs(half_result.per_trial[t] - ref[t]).max()) for t in ref)
    out["peak_rss_mb_this_process"] = round(peak_rss_mb(), 1)
    if model.device == "cuda":
        out["cuda_max_memory_allocated_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    if args.until_sem:
        fixed = compute_map(dataclasses.replace(config, trials=50), use_cache=False)
        t_fixed = fixed.elapsed_s
        adaptive = compute_map_until(dataclasses.replace(config, trials=50), args.until_sem)
        top = [(h.layer, h.head) for h in fixed.top_heads(config.targets()[0], 5)]
        out["adaptive"] = {"until_sem": args.until_sem, "trials_used": adaptive.trials, "seconds": adaptive.elapsed_s,
                           "fixed_50_seconds": t_fixed,
                           "top_heads_sem_fixed50": [float(fixed.sem(config.targets()[0])[l, h]) for l, h in top],
                           "top_heads_sem_adaptive": [float(adaptive.sem(config.targets()[0])[l, h]) for l, h in top]}
    if args.memory:
        large = args.model or random_model("large", work / "large")
        proc = subprocess.run([sys.executable, __file__, "--memory-child", large, "--trials", "50"],
                              capture_output=True, text=True, check=True)
        mem = json.loads(proc.stdout.strip().splitlines()[-1])
        layers, heads, _ = SHAPES["large"]
        seq = 1 + 2 * 200
        mem["all_attentions_of_50_trials_gb"] = round(layers * heads * seq * seq * 4 * 50 / 1e9, 1)
        out["memory_large_50_trials"] = mem
    return out


def sizes_sweep(trials: int, names: tuple[str, ...] | None = None) -> dict:
    """The five BERT sizes, random weights in their exact shapes (the Hub is out of reach on the project's
    machines), x three setups x `trials` under the paper protocol, every target: the GPU target."""
    from induction.config import SETUPS
    from induction.models.registry import SIZES

    names = names or SIZES
    started, rows = time.perf_counter(), {}
    with tempfile.TemporaryDirectory(prefix="bench-sizes-") as root:
        for name in names:
            path = random_model(name, Path(root) / name)
            t = time.perf_counter()
            for setup in SETUPS[:3]:  # standard, shuffled, triple: the study's
                compute_map(MapConfig(model=path, setup=setup, protocol="paper", trials=trials), use_cache=False)
            rows[name] = round(time.perf_counter() - t, 2)
            device = get_model(path).device
    return {"per_model_s": rows, "total_s": round(time.perf_counter() - started, 2), "device": device,
            "trials": trials, "weights": "random, in each size's exact shape"}


def show(out: dict) -> None:
    print(f"machine: {out['machine']} ({out['cpu_count']} cores, {out['threads']} torch threads), "
          f"device {out['device']}, torch {out['torch']}")
    print(f"shape {out['shape']}, setup {out['setup']}, {out['trials']} trials, {out['seq_len']} tokens\n")
    print(f"{'method':34s} {'wall s':>9s} {'ms/trial':>9s} {'+peak MB':>9s}")
    for name, m in out["methods"].items():
        peak = "-" if m["peak_mb"] is None else f"{m['peak_mb']:.0f}"
        print(f"{name:34s} {m['wall_s']:9.4f} {m['per_trial_ms']:9.2f} {peak:>9s}")
    print()
    for name, r in out["ratios"].items():
        print(f"{name:40s} {r}")
    for key, value in out.items():
        if key.startswith("max_abs_diff"):
            print(f"{key:40s} {value:.2e}")
    for key in ("adaptive", "memory_large_50_trials"):
        if key in out:
            print(f"{key}: {json.dumps(out[key])}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a model id or folder instead of the random BERT shape")
    p.add_argument("--shape", choices=tuple(SHAPES), default="base")
    p.add_argument("--setup", choices=("standard", "shuffled", "triple"), default="standard")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--repeat", type=int, default=2, help="best of N for the cold engine and the floor")
    p.add_argument("--quick", action="store_true", help="tiny shape, 4 trials: checks the benchmark works")
    p.add_argument("--memory", action="store_true", help="also measure peak RSS on the BERT-large shape")
    p.add_argument("--until-sem", type=float, help="also compare adaptive trials with the fixed 50")
    p.add_argument("--json", help="where to write the table (default benchmarks/results/<shape>.json)")
    p.add_argument("--memory-child", help=argparse.SUPPRESS)
    p.add_argument("--sizes", action="store_true",
                   help="only time tiny..large x three setups x --trials (needs their weights; the GPU target)")
    args = p.parse_args()
    if args.sizes:
        os.environ.setdefault("INDUCTION_CACHE_DIR", tempfile.mkdtemp(prefix="bench-cache-"))
        out = sizes_sweep(2, ("tiny", "small")) if args.quick else sizes_sweep(args.trials)
        print(json.dumps(out, indent=2))
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
        return 0
    if args.memory_child:
        memory_child(args.memory_child, args.trials, args.setup)
        return 0
    out = run(args)
    show(out)
    path = Path(args.json or ROOT / "benchmarks" / "results" / f"{'quick' if args.quick else args.shape}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")
    if out["max_abs_diff_engine_vs_straightforward"] > 1e-5:
        print("ERROR: the engine's map differs from the straightforward map", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
