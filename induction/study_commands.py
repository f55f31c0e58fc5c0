"""The CLI's commands over many runs: the study's reproduction, sweeps, and the mosaic of many models.

Why apart from `commands.py`: that module runs one model's experiments; these compare many. Each takes the
parsed arguments, calls the library, prints, and returns an exit code.
"""

from __future__ import annotations

import argparse
import sys

from .commands import with_progress, write_json
from .config import SETUPS


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .reproduce import parse_models, reproduce
    from .study import format_table

    models = parse_models(args.models)
    result = with_progress("reproduce", reproduce, models, trials=args.trials, seed=args.seed, device=args.device,
                            icl_corpus=args.icl_corpus, icl_trials=args.icl_trials, use_cache=not args.no_cache,
                            unit="model")
    print(format_table(result.rows))
    counts = {s: sum(r["status"] == s for r in result.rows) for s in ("match", "differs", "not run")}
    print(f"{counts['match']} match, {counts['differs']} differ, {counts['not run']} not run "
          f"(of {len(result.rows)} reported numbers)")
    for failure in result.failed:
        print(f"failed: {failure}", file=sys.stderr)
    write_json(args.json, result.to_json())
    return 1 if result.failed else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from .config import check_choice
    from .sweep import sweep
    from .tasks import tasks_for

    setups = [check_choice("setup", s.strip(), SETUPS) for s in args.setups.split(",") if s.strip()]
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    from .dynamics import series_models

    tasks = tasks_for(series_models(args.models), setups, seeds, protocol=args.protocol, trials=args.trials,
                      segment=args.segment)
    where = f"ray {args.ray}" if args.ray else "in this process"
    result = with_progress(f"sweep ({where})", sweep, tasks, ray=args.ray,
                            use_cache=not args.no_cache, unit="task")
    for run in result["runs"]:
        what = f"{run['top_head']} {run['top_score']:.3f}" if run["status"] == "ok" else f"failed: {run['error'][:160]}"
        took = "cached" if run["cached"] else f"{run['elapsed_s']:.1f}s"
        print(f"{run['model'][:40]:40s} {run['setup']:9s} seed {run['seed']:<3d} {took:>7s}  {what}")
    failed = sum(r["status"] == "failed" for r in result["runs"])
    print(f"{len(result['runs']) - failed} of {len(result['runs'])} tasks ok ({result['executor']} executor)")
    write_json(args.json, result)
    return 1 if failed else 0


def cmd_mosaic(args: argparse.Namespace) -> int:
    from .config import check_target
    from .export import figure_format, write_figure
    from .mosaic import collect, mosaic_figure

    figure_format(args.figure)  # a bad path is said before anything runs
    check_target(args.setup, args.target)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    tiles, missing = with_progress("mosaic", collect, models, setup=args.setup, target=args.target,
                                    trials=args.trials, seed=args.seed, compute_missing=args.compute, unit="model")
    for t in tiles:
        layer, head, score = t.best
        print(f"{t.model[:40]:40s} {t.family:12s} {t.kind:8s} {t.layers:>2d}x{t.heads:<2d} best L{layer}H{head} "
              f"{score:.3f} ({score / t.baseline:.1f}x baseline)")
    for name, why in missing.items():
        print(f"{name[:40]:40s} missing: {why[:200]}")
    title = f"Mosaic · {args.setup} · {args.target} · {args.trials} trials"
    print(f"wrote {write_figure(mosaic_figure(tiles, target=args.target, title=title), args.figure)}")
    return 0
