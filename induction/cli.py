"""Command line: `python -m induction {map,precompute,models}`.

Why a CLI: the engine is a library first; the dashboard is one client, the shell
another. Errors meant for users print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import PROTOCOLS, SETUPS, InductionError, MapConfig
from .models import KNOWN_MODELS, SIZES, model_status


def _progress_bar(desc: str):
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        bar = bar or tqdm(total=total, desc=desc, unit="trial", file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        if bar is not None:
            bar.close()

    return close, update


def _add_map_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="toy", help="a size (tiny..large), toy, minilm, a hub id or a folder")
    p.add_argument("--setup", choices=SETUPS, default="standard")
    p.add_argument("--protocol", choices=PROTOCOLS, default="clean")
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--segment", type=int, default=None, help="segment length (default: protocol's/model's)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--dtype", choices=("auto", "float32", "float16", "bfloat16"), default="auto")
    p.add_argument("--no-cache", action="store_true", help="compute and do not read or write the cache")


def _print_table(result, top: int = 5) -> None:
    c = result.config
    print(f"{c.model} [{result.layers} layers x {result.heads} heads]  setup={c.setup}  protocol={c.protocol}  "
          f"segment={c.segment}  trials={result.trials}  seed={c.seed}  uniform baseline={result.baseline:.4f}  "
          f"{'cached' if result.cached else 'computed'} in {result.elapsed_s:.2f}s")
    for target in result.targets:
        heads = ", ".join(f"{h['head']} {h['score']:.3f}±{h['sem']:.3f}" for h in result.top_heads(target, top))
        print(f"  {target:12s} {heads}")


def cmd_map(args: argparse.Namespace) -> int:
    from .engine import compute_map, make_trials, get_model
    from .scoring import dump_trials

    config = MapConfig(model=args.model, setup=args.setup, protocol=args.protocol, trials=args.trials,
                       seed=args.seed, segment=args.segment, device=args.device, dtype=args.dtype).validate()
    close_bar, update = _progress_bar(f"{args.model} {args.setup}")
    try:
        result = compute_map(config, progress=update, use_cache=not args.no_cache)
    finally:
        close_bar()
    _print_table(result)
    if args.json:
        payload = result.to_json()
        if args.dump_trials:
            payload["trials_dump"] = dump_trials(make_trials(result.config, get_model(
                args.model, device=args.device, dtype=args.dtype)))
        Path(args.json).write_text(json.dumps(payload))
        print(f"wrote {args.json}")
    return 0


def cmd_precompute(args: argparse.Namespace) -> int:
    from .engine import compute_map

    failed = 0
    for name in args.models:
        for setup in SETUPS:
            for protocol in args.protocols:
                config = MapConfig(model=name, setup=setup, protocol=protocol, trials=args.trials, seed=args.seed)
                close_bar, update = _progress_bar(f"{name} {setup} {protocol}")
                try:
                    result = compute_map(config, progress=update)
                    print(f"{name:8s} {setup:9s} {protocol:6s} {'cached' if result.cached else 'computed'} "
                          f"{result.elapsed_s:.1f}s")
                except InductionError as exc:
                    failed += 1
                    print(f"{name:8s} {setup:9s} {protocol:6s} skipped: {str(exc)[:160]}")
                    break
                finally:
                    close_bar()
    return 0 if failed < len(args.models) else 1


def cmd_models(args: argparse.Namespace) -> int:
    for row in model_status():
        print(f"{row['name']:8s} {row['layers']:>2d}x{row['heads']:<2d} "
              f"{'offline' if row['offline'] else 'needs network':14s} {row['note']}  [{row['source']}]")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m induction", description="Induction heads in BERT-family models.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("map", help="compute an induction map and print the top heads")
    _add_map_args(p)
    p.add_argument("--json", help="write the map as JSON to this path")
    p.add_argument("--dump-trials", action="store_true", help="with --json: include every trial's ids and indices")
    p.set_defaults(func=cmd_map)
    p = sub.add_parser("precompute", help="fill the cache for every size and setup that loads here")
    p.add_argument("--models", nargs="+", default=[*KNOWN_MODELS], choices=None)
    p.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    p.add_argument("--trials", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_precompute)
    p = sub.add_parser("models", help="list the known models and which work offline")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InductionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written to the cache for the unfinished run", file=sys.stderr)
        return 130


__all__ = ["main", "SIZES"]
