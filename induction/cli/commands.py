"""The CLI's commands: each takes the parsed arguments, calls the library, prints, and returns an exit code.

Why apart from `cli.py`: that module is the parser (every option, its choices from `config`); this one is
what each command does. Errors meant for users are raised as InductionError and printed by `cli.main`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from induction.config import SETUPS, ConfigError, InductionError, MapConfig, head_name
from induction.models.loading import model_status


def _progress_bar(desc: str, unit: str = "trial"):
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        # the first report's count is the starting point: a cache hit reports everything done at once, and a rate
        # over it would read millions of trials a second
        bar = bar or tqdm(total=total, initial=done, desc=desc, unit=unit, file=sys.stderr, leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        if bar is not None:
            bar.close()

    return close, update


def with_progress(desc: str, compute, *args, unit: str = "trial", **kwargs):
    """Call `compute(..., progress=...)` behind a progress bar that is always closed."""
    close_bar, update = _progress_bar(desc, unit)
    try:
        return compute(*args, progress=update, **kwargs)
    finally:
        close_bar()


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload))
        print(f"wrote {path}")


def write_csv(path: str | None, result) -> None:
    """The result's tidy frame (`to_frame()`, the long format of `induction.frames`) as CSV."""
    if path:
        result.to_frame().to_csv(path, index=False)
        print(f"wrote {path}")


def _print_table(result, top: int = 5, only: str | None = None) -> None:
    c = result.config
    print(f"{c.model} [{result.layers} layers x {result.heads} heads]  setup={c.setup}  protocol={c.protocol}  "
          f"segment={c.segment}  trials={result.trials}  seed={c.seed}  uniform baseline={result.baseline:.4f}  "
          f"{'cached' if result.cached else 'computed'} in {result.elapsed_s:.2f}s")
    for target in [only] if only else result.targets:
        heads = ", ".join(f"{h.name} {h.score:.3f}±{h.sem:.3f}" for h in result.top_heads(target, top))
        print(f"  {target:12s} {heads}")


def cmd_map(args: argparse.Namespace) -> int:
    from induction.engine import compute_map, compute_map_until, make_trials, model_for
    from induction.runs import resolve_run
    from induction.scoring import dump_trials

    run = resolve_run(MapConfig(model=args.model, setup=args.setup, protocol=args.protocol, trials=args.trials,
                                seed=args.seed, segment=args.segment, device=args.device, dtype=args.dtype,
                                masks=args.masks, mask_span=args.mask_span, unit=args.unit,
                                mask_piece=args.mask_piece))
    targets = run.config.targets()
    if args.target is not None and args.target not in targets:  # said before the computation, not after
        raise ConfigError(f"unknown target {args.target!r} for the {run.config.setup} setup"
                          f"{' (word unit)' if run.config.unit == 'word' else ''}; choose one of {', '.join(targets)}")
    if args.figure:  # a bad path is said before the computation, not after
        from induction.figures.export import figure_format

        figure_format(args.figure)
    desc = f"{args.model} {run.config.setup}"
    if args.until_sem:
        result = with_progress(desc, compute_map_until, run, args.until_sem, use_cache=not args.no_cache)
        print(f"adaptive: {result.trials} trials reached a standard error below {args.until_sem} "
              f"(cap {args.trials})" if result.trials < args.trials else
              f"adaptive: the cap of {args.trials} trials was reached before the bound {args.until_sem}")
    else:
        result = with_progress(desc, compute_map, run, use_cache=not args.no_cache)
    _print_table(result, only=args.target)
    if args.figure:
        from induction.figures.export import write_figure
        from induction.figures.plots import map_figure

        target = args.target or result.targets[0]
        mean, sem = result.stats(target)
        title = f"{args.model} · {result.config.setup} · {target} · {result.trials} trials"
        print(f"wrote {write_figure(map_figure(mean, sem, title=title, baseline=result.baseline), args.figure)}")
    payload = result.to_json() if args.json else {}
    if args.json and args.dump_trials:
        batch = make_trials(run.with_trials(result.trials), model_for(run))
        if hasattr(batch, "sets"):  # the word unit: each word's piece span too
            from induction.trials.words import dump_word_trials

            payload["trials_dump"] = dump_word_trials(batch)
        else:
            payload["trials_dump"] = dump_trials(batch, run.config.setup)
    write_json(args.json, payload)
    write_csv(args.csv, result)
    return 0


def _precompute_model(name: str, args: argparse.Namespace) -> bool:
    """Every setup and protocol of one model (a decoder: the repeat setup; repeat: the clean protocol); stop at
    the first failure (a model that cannot load)."""
    from induction.engine import compute_map
    from induction.models.kinds import setups_for
    from induction.models.loading import describe

    try:
        setups = setups_for(describe(name).kind)
    except InductionError as exc:
        print(f"{name:8s} skipped: {str(exc)[:200]}")
        return False
    for setup in setups:
        for protocol in [p for p in args.protocols if setup != "repeat" or p == "clean"]:
            config = MapConfig(model=name, setup=setup, protocol=protocol, trials=args.trials, seed=args.seed)
            try:
                result = with_progress(f"{name} {setup} {protocol}", compute_map, config)
            except ConfigError as exc:  # this setup/protocol does not fit the model: the others may
                print(f"{name:8s} {setup:9s} {protocol:6s} skipped: {str(exc)[:160]}")
                continue
            except InductionError as exc:
                print(f"{name:8s} skipped: {str(exc)[:200]}")
                return False
            print(f"{name:8s} {setup:9s} {protocol:6s} {'cached' if result.cached else 'computed'} "
                  f"{result.elapsed_s:.1f}s")
    if args.effects:
        _precompute_effects(name, args, setups[0])  # the kind's first setup: standard (a decoder's: repeat)
    return True


def _precompute_effects(name: str, args: argparse.Namespace, setup: str) -> None:
    """Per-head effects of the standard setup (a decoder's: repeat), clean protocol, for the Effects page."""
    from induction.analyses.effects import effects

    config = MapConfig(model=name, setup=setup, protocol="clean", trials=args.trials, seed=args.seed)
    try:
        result = with_progress(f"{name} effects", effects, config, unit="step")
    except InductionError as exc:  # no MLM head, say: the maps are still there
        print(f"{name:8s} effects   skipped: {str(exc)[:160]}")
        return
    print(f"{name:8s} effects   clean  {'cached' if result.cached else 'computed'} {result.elapsed_s:.1f}s")


def cmd_precompute(args: argparse.Namespace) -> int:
    """Non-zero when any model asked for could not load (an image build must not pass without it)."""
    done = [_precompute_model(name, args) for name in args.models]
    failed = [name for name, ok in zip(args.models, done, strict=True) if not ok]
    if failed:
        print(f"error: could not precompute {', '.join(failed)} (see above)", file=sys.stderr)
    return 1 if failed else 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from induction.analyses.ablation import ablate
    from induction.losses import loss_name

    config = MapConfig(model=args.model, setup=args.setup, protocol=args.protocol, trials=args.trials,
                       seed=args.seed, segment=args.segment, device=args.device, dtype=args.dtype)
    heads = [h for h in args.heads.split(",") if h.strip()]
    result = with_progress(f"ablate {args.heads}", ablate, config, heads, mode=args.mode, use_cache=not args.no_cache)
    print(f"{args.model} {result.clean.config.setup}: ablated "
          f"{', '.join(head_name(l, h) for l, h in result.ablated_heads)} ({result.mode})")
    if result.loss_change is not None:
        print(f"  {loss_name(result.clean.kind)} on the RRT trials: clean {result.loss_clean:.4f} -> ablated "
              f"{result.loss_ablated:.4f} ({result.loss_change:+.4f} ± {result.loss_change_sem:.4f}, paired)")
    else:
        print(f"  {loss_name(result.clean.kind)}: n/a (no MLM head, or the repeat setup, which masks nothing)")
    for target in result.clean.targets:
        diff = result.diff(target)
        order = [i for i in np.argsort(-np.nan_to_num(diff, nan=-np.inf), axis=None)[:3]]
        rising = ", ".join(f"{head_name(l, h)} {diff[l, h]:+.3f}"
                           for l, h in (np.unravel_index(i, diff.shape) for i in order))
        print(f"  {target:12s} largest rises (backup candidates): {rising}")
    write_json(args.json, result.to_json())
    write_csv(args.csv, result)
    return 0


def cmd_effects(args: argparse.Namespace) -> int:
    from induction.analyses.effects import effects
    from induction.losses import loss_name

    config = MapConfig(model=args.model, setup=args.setup, protocol=args.protocol, trials=args.trials,
                       seed=args.seed, segment=args.segment, device=args.device, dtype=args.dtype)
    if args.figure:
        from induction.figures.export import figure_format

        figure_format(args.figure)
    result = with_progress(f"effects {args.model}", effects, config, mode=args.mode, pairs_with=args.pairs_with,
                            until_sem=args.until_sem, use_cache=not args.no_cache, unit="step")
    pair = f" with {head_name(*result.pairs_with)} ablated" if result.pairs_with else ""
    print(f"{args.model} {result.config.setup}: per-head effect on the {loss_name(result.kind)} "
          f"({result.mode} ablation{pair}), "
          f"{result.trials} trials, {'cached' if result.cached else 'computed'} in {result.elapsed_s:.2f}s "
          f"({result.path} path)")
    print(f"  loss: clean {result.loss_clean:.4f}" +
          (f", with {head_name(*result.pairs_with)} ablated {result.loss_base:.4f}" if pair else ""))
    effect, sem = result.effect, result.effect_sem
    order = np.argsort(-np.abs(effect), axis=None, kind="stable")[:5]  # by magnitude: a negative effect is news too
    print("  largest effects (by magnitude): " + ", ".join(f"{head_name(l, h)} {effect[l, h]:+.4f}±{sem[l, h]:.4f}"
                                            for l, h in (np.unravel_index(i, effect.shape) for i in order)))
    if args.figure:
        from induction.figures.export import write_figure
        from induction.figures.plots import effect_figure

        title = f"{args.model} · effect of each head on the {loss_name(result.kind)}"
        print(f"wrote {write_figure(effect_figure(result.effect, result.effect_sem, title=title), args.figure)}")
    payload = result.to_json() if args.json else {}
    if args.json and args.dump_trials:  # the very trials the effects were measured on (as `map --dump-trials`)
        from induction.engine import make_trials, model_for
        from induction.runs import resolve_run
        from induction.scoring import dump_trials

        run = resolve_run(result.config)
        payload["trials_dump"] = dump_trials(make_trials(run, model_for(run)), run.config.setup)
    write_json(args.json, payload)
    write_csv(args.csv, result)
    return 0


def cmd_text(args: argparse.Namespace) -> int:
    from induction.analyses.text_map import TextConfig, dump_text_trials, prepare, text_map

    config = TextConfig(model=args.model, text=args.text, file=args.file, corpus=args.corpus, document=args.document,
                        min_distance=args.min_distance, max_occurrences=args.max_occurrences, seed=args.seed,
                        device=args.device, dtype=args.dtype)
    result = with_progress(f"text {args.model}", text_map, config, use_cache=not args.no_cache, unit="occurrence")
    print(f"{args.model} on {result.source}: {result.trials} occurrences (a token at least {config.min_distance} "
          f"tokens after an earlier one), uniform baseline {result.baseline:.4f}, "
          f"{'cached' if result.cached else 'computed'} in {result.elapsed_s:.2f}s")
    for target in result.targets:
        heads = ", ".join(f"{h.name} {h.score:.3f}±{h.sem:.3f}" for h in result.top_heads(target, 5))
        print(f"  {target:13s} {heads}")
    payload = result.to_json() if args.json else {}
    if args.json and args.dump_trials:
        payload["trials_dump"] = dump_text_trials(prepare(config)[1])
    write_json(args.json, payload)
    write_csv(args.csv, result)
    return 0


def cmd_icl(args: argparse.Namespace) -> int:
    from induction.analyses.icl import CURVE_LENGTHS, GAIN, ICLConfig, icl_score

    curve = tuple(n for n in CURVE_LENGTHS if n <= args.long) if args.curve else ()
    config = ICLConfig(model=args.model, corpus=args.corpus, variant=args.variant, trials=args.trials,
                       seed=args.seed, short=args.short, long=args.long, replace=args.replace, curve=curve,
                       device=args.device, dtype=args.dtype)
    result = with_progress(f"icl {args.model}", icl_score, config, use_cache=not args.no_cache)
    print(f"{args.model} on {result.config.corpus} ({result.config.variant}): {result.definition} = "
          f"{result.mean:.4f} ± {result.sem:.4f} over {args.trials} trials "
          f"({result.skipped_documents} documents shorter than needed skipped)")
    print(f"  sign: {result.sign}")
    print(f"  gain: {result.gain:+.4f} ± {result.sem:.4f} nats, {GAIN}")
    what = "next-token loss of token" if result.config.variant == "next-token" else "masked-token loss, context"
    for n, (m, s) in result.curve.items():
        print(f"  {what} {n:4d}: {m:.4f} ± {s:.4f}")
    write_json(args.json, result.to_json())
    write_csv(args.csv, result)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    rows = model_status()
    for row in rows:
        print(f"{row['name']:18s} {row['layers']:>2d}x{row['heads']:<2d} "
              f"{'offline' if row['offline'] else 'needs network':14s} {row['note']}  [{row['source']}]")
    if args.csv:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0

def cmd_reproduce(args: argparse.Namespace) -> int:
    from induction.study.reported import format_table
    from induction.study.reproduce import parse_models, reproduce

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
    if args.csv:
        import pandas as pd

        pd.DataFrame(result.rows).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 1 if result.failed else 0


def _print_depth(result) -> None:
    """The depth study as a table: per series the strongest head of each reading (head, relative depth), its source
    by K-composition, the loss changes and the formation step; then the study's BERT sizes."""
    print(f"{'series':17s} {'L':>2s}  {'strongest (depth)':19s} {'[MASK]':11s} {'every token':11s} "
          f"{'last token':11s} {'source K (random)':22s} {'loss w/o: it/source/weak':25s} {'forms':>5s}  ICL gain")
    for r in result.rows:
        s, read, src, abl = r["strongest_head"], r["readings"], r["source_head"], r["ablation"]
        cell = lambda b: f"{b['name']} {b['relative_depth']:.2f}" if b else "-"  # noqa: E731
        source = f"{src['name']} {src['k_into_strongest']:.3f} ({r['random_mean']:.3f})" if src else "-"
        loss = "/".join("-" if e is None or e["loss_change"] is None else f"{e['loss_change']:+.2f}"
                        for e in (abl["strongest_head"], abl["source_head"], abl["weakest_in_layer"]))
        strongest = f"{s['name']} {s['score']:.2f} ({s['relative_depth']:.2f})"
        print(f"{r['series']:17s} {r['layers']:>2d}  {strongest:19s} {cell(read.get('mask_query')):11s} "
              f"{cell(read['every_token']):11s} {cell(read['last_token']):11s} {source:22s} {loss:25s} "
              f"{r['forms_at']!s:>5s}  {r['icl_gain']:+.2f} ± {r['icl_sem']:.2f}")
    for row in result.study:
        where = f"{row['name']} {row['score']:.2f} ({row['relative_depth']:.2f})" if row["name"] else "no head"
        print(f"{row['model']:17s} {row['layers']:>2d}  {where:19s} (the study: {row['reported_in']})")


def cmd_sweep(args: argparse.Namespace) -> int:
    from induction.config import check_choice
    from induction.sweep import run_sweep, tasks_for

    if args.depth:
        from induction.analyses.depth import depth_series, depth_study

        names = depth_series(args.depth)
        if args.models:
            asked = [m.strip() for m in args.models.split(",") if m.strip()]
            unknown = [m for m in asked if m not in depth_series()]
            if unknown:
                raise ConfigError(f"--depth reads the depth series only, not {unknown[0]!r}: choose among "
                                  f"{', '.join(depth_series())}")
            names = [n for n in names if n in asked]
        seed = int(args.seeds.split(",")[0])
        result = with_progress("depth study", depth_study, names, trials=args.trials, seed=seed, unit="series")
        _print_depth(result)
        write_json(args.json, result.to_json())
        write_csv(args.csv, result)
        return 0
    if not args.models:
        raise ConfigError("sweep needs --models (or --depth for the depth series)")

    setups = ([check_choice("setup", s.strip(), SETUPS) for s in args.setups.split(",") if s.strip()]
              if args.setups else [None])  # None: each model's kind's own setup
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    from induction.analyses.dynamics import series_models

    models = series_models(args.models, require_steps=False)  # a sweep takes any models, not only checkpoints
    tasks = tasks_for(models, setups, seeds, protocol=args.protocol, trials=args.trials, segment=args.segment)
    where = f"ray {args.ray}" if args.ray else "in this process"
    result = with_progress(f"sweep ({where})", run_sweep, tasks, ray=args.ray,
                            use_cache=not args.no_cache, unit="task")
    width = max((len(run["model"]) for run in result["runs"]), default=0)  # whole names: steps must stay apart
    for run in result["runs"]:
        what = (f"{run['target']} {run['top_head']} {run['top_score']:.3f} (segment {run['segment']})"
                if run["status"] == "ok" else f"failed: {run['error'][:160]}")
        took = "cached" if run["cached"] else f"{run['elapsed_s']:.1f}s"
        print(f"{run['model']:{width}s} {run['setup'] or '-':9s} seed {run['seed']:<3d} {took:>7s}  {what}")
    failed = sum(r["status"] == "failed" for r in result["runs"])
    print(f"{len(result['runs']) - failed} of {len(result['runs'])} tasks ok ({result['executor']} executor)")
    write_json(args.json, result)
    write_csv(args.csv, result)
    return 1 if failed else 0


def cmd_mosaic(args: argparse.Namespace) -> int:
    from induction.analyses.mosaic import collect, mosaic_figure
    from induction.config import check_target
    from induction.figures.export import figure_format, write_figure

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
    if args.csv:
        from induction.frames import frame, grid_rows

        frame([row for t in tiles for row in grid_rows(t.mean, None, baseline=t.baseline, model=t.model,
                                                       setup=args.setup, target=args.target, trials=t.trials,
                                                       seed=args.seed, measure="attention")]).to_csv(args.csv,
                                                                                                    index=False)
        print(f"wrote {args.csv}")
    title = f"Mosaic · {args.setup} · {args.target} · {args.trials} trials"
    print(f"wrote {write_figure(mosaic_figure(tiles, target=args.target, title=title), args.figure)}")
    return 0


def _role_line(result, layer: int, head: int, roles: list[str]) -> str:
    """One head: each role with its score ± sem (copying: its OV eigenvalue score and direct-logit copy)."""
    parts = []
    for role in roles:
        if role == "copying":
            parts.append(f"copying (OV {result.copying[layer, head]:+.2f}, logit "
                         f"{result.copy_logit[layer, head]:+.3g}±{result.copy_logit_sem[layer, head]:.2g})")
        else:
            parts.append(f"{role} {result.scores[role][layer, head]:.3f}±{result.sems[role][layer, head]:.3f}")
    copy = "" if result.copying is None or "copying" in roles else f"  [OV copying {result.copying[layer, head]:+.2f}]"
    return f"  {head_name(layer, head):7s} {', '.join(parts) if parts else '—'}{copy}"


def _is_series(spec: str) -> bool:
    """A folder of step_N checkpoint folders (not itself a checkpoint) stands for its series."""
    from induction.checkpoints import checkpoint_step
    from induction.sweep import checkpoint_folders

    folder = Path(spec).expanduser()
    return folder.is_dir() and checkpoint_step(folder.name) is None and bool(checkpoint_folders(folder))


def cmd_roles_series(args: argparse.Namespace, spec: str) -> int:
    """Per checkpoint: the induction head's prefix matching, its OV copying, and K-composition from the
    previous-token heads into it, beside the random baseline."""
    from induction.analyses.mechanism import mechanism_series

    result = with_progress(f"roles through {spec}", mechanism_series, spec, trials=args.trials, seed=args.seed,
                           unit="checkpoint")
    ind = head_name(*result.induction_head)
    sources = [head_name(*h) for h in result.previous_token_heads]
    base = (f"random baseline {result.random_mean:.3f} ± {result.random_sd:.3f}, strong above "
            f"{result.strong_above:.3f}" if result.random_mean is not None else "no composition scores")
    print(f"{spec}: {len(result.rows)} checkpoints, {result.trials} trials, seed {result.seed}; induction head {ind} "
          f"(the final checkpoint's best prefix matching), previous-token heads {', '.join(sources) or 'none'}; "
          f"K-composition {base}" + (f" (W_QK at {result.rotary})" if result.rotary else ""))
    print(f"  {'step':>6}  {'prefix_matching':>15}  {'copying':>8}" + "".join(f"  {'K ' + s + '->' + ind:>14}"
                                                                         for s in sources))
    fmt = lambda v, spec: "—" if v is None else format(v, spec)  # noqa: E731
    for r in result.rows:
        print(f"  {r['step']:>6}  {fmt(r['prefix_matching'], '.3f'):>15}  {fmt(r['copying'], '+.2f'):>8}"
              + "".join(f"  {fmt(e['K'], '.3f'):>14}" for e in r["k_composition"]))
    appears = result.appears
    print(f"  the induction head appears (half its highest prefix matching) at step {appears}" if appears is not None
          else "  the induction head does not appear in this series")
    for what, why in result.notes.items():
        print(f"  no {what} scores: {why}")
    write_json(args.json, result.to_json())
    write_csv(args.csv, result)
    return 0


def cmd_roles(args: argparse.Namespace) -> int:
    from induction.analyses.roles import BEHAVIOURAL, COMPOSITIONS, head_roles

    if args.series or _is_series(args.model):
        return cmd_roles_series(args, args.series or args.model)
    result = with_progress(f"roles {args.model}", head_roles, args.model, trials=args.trials, seed=args.seed,
                           device=args.device, dtype=args.dtype, use_cache=not args.no_cache)
    print(f"{args.model} ({result.kind}) [{result.layers} layers x {result.heads} heads]: {result.trials} trials, "
          f"seed {args.seed}, {'cached' if result.cached else 'computed'} in {result.elapsed_s:.2f}s")
    print("  uniform baselines: " + ", ".join(f"{r} {result.baselines[r]:.4f}" for r in BEHAVIOURAL))
    role_map = result.role_map()
    for layer in range(result.layers):
        for head in range(result.heads):
            print(_role_line(result, layer, head, role_map[layer][head]))
    if result.composition is not None:
        base = result.composition_baseline
        print(f"  composition (TransformerLens's folds{'; W_QK at ' + result.rotary if result.rotary else ''}): "
              f"random baseline {base['mean']:.3f} ± {base['sd']:.3f} ({base['draws']} draws), strong above "
              f"{base['threshold']:.3f}")
        for kind in COMPOSITIONS:
            strong = result.strongest(kind)
            listed = ", ".join(f"{p['from']} -> {p['to']} {p[kind]:.3f} (random {p['random_mean']:.3f})"
                               for p in strong)
            print(f"  strongest {kind}-composition: {listed or 'none above the random baseline'}")
    for what, why in result.notes.items():
        print(f"  no {what} scores: {why}")
    write_json(args.json, result.to_json())
    write_csv(args.csv, result)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from induction.training.recipes import RECIPES
    from induction.training.series import MAP_TOLERANCE, WEIGHT_TOLERANCE, shipped_series

    recipe = RECIPES[args.recipe]
    out = Path(args.out)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConfigError(f"{out} is not empty: choose a new folder, or pass --force to overwrite its checkpoints")
    from induction.training.loop import train

    last = recipe.last_step(args.until)
    print(f"training {recipe.name} ({recipe.architecture}, {recipe.layers} layers x {recipe.heads} heads, hidden "
          f"{recipe.hidden}) for {last} steps on one CPU thread; checkpoints at "
          f"{', '.join(map(str, recipe.checkpoints))}")

    def report(entry: dict) -> None:
        if entry["step"] % 250 == 0:
            print(f"  step {entry['step']:5d}  loss {entry['loss']:.3f}  late-token loss {entry['late_loss']:.3f}",
                  flush=True)

    result = train(recipe, out, until=args.until, on_log=report)
    print(f"wrote {out} in {result['wall_s']:.0f}s")
    if args.verify:
        from induction.training.verify import describe_check, verify_series

        checks = verify_series(out, shipped_series(recipe.name))
        for check in checks:
            print(describe_check(check))
        diffs = [c.weight_diff for c in checks if c.weight_diff is not None]
        largest = f"largest weight difference {max(diffs, default=0.0):.2g}"
        if not all(c.ok for c in checks):
            print(f"differs from the shipped series beyond the tolerance ({WEIGHT_TOLERANCE:g} for weights, "
                  f"{MAP_TOLERANCE:g} for maps): {', '.join(c.name for c in checks if not c.ok)}; {largest}",
                  file=sys.stderr)
            return 1
        if all(c.bit_equal for c in checks):
            print(f"every checkpoint written is bit for bit the shipped {recipe.name}'s ({largest})")
        else:
            print(f"every checkpoint written agrees with the shipped {recipe.name}'s within {WEIGHT_TOLERANCE:g} "
                  f"(weights) and {MAP_TOLERANCE:g} (maps), not bit for bit: {largest}")
    return 0
