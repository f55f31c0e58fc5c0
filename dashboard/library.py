"""The library calls the pages make, each behind a progress bar (imported lazily: they load torch)."""

from __future__ import annotations

import contextlib
import dataclasses

from dashboard.viewstate import ViewState
from induction.config import PAPER_SEGMENT, InductionError, MapConfig, max_segment

from .progress import run_with_progress


def map_config(state: ViewState, **changes) -> MapConfig:
    fields = dict(model=state.model, setup=state.setup, protocol=state.protocol, trials=state.trials,
                  seed=state.seed, segment=state.segment, unit=state.unit, mask_piece=state.piece)
    return fit_paper_segment(MapConfig(**{**fields, **changes}))


def fit_paper_segment(config: MapConfig) -> MapConfig:
    """The paper protocol's 200/150-token segment cut to what a small model's positions hold (the toy's 63), so
    the protocol runs offline as About and Reproduce say; `config.paper_segment_cut()` then says so. A segment
    the user chose is left as it is (too long is an error naming the longest that fits)."""
    if config.protocol != "paper" or config.segment is not None or config.setup not in PAPER_SEGMENT:
        return config
    from induction.models.loading import describe

    try:
        info = describe(config.model)
    except InductionError:
        return config  # the page's computation says why the model cannot load
    most = max_segment(config.setup, config.protocol, info.max_positions, info.kind, info.bos)
    return dataclasses.replace(config, segment=most) if 0 < most < PAPER_SEGMENT[config.setup] else config


def get_map(config: MapConfig, label: str | None = None, *, compact: bool = False):
    from induction.engine import compute_map

    return run_with_progress(label or f"{config.model} {config.setup}", compute_map, config, compact=compact)


def get_ablation(config: MapConfig, heads, mode: str):
    from induction.analyses.ablation import ablate

    return run_with_progress(f"ablating {len(heads)} head(s)", ablate, config, heads, mode=mode)


def get_sweep(config: MapConfig, target: str, k: int, mode: str):
    from induction.analyses.ablation import cumulative_ablation

    return run_with_progress("sweep", cumulative_ablation, config, target, k, mode=mode)


def get_effects(config: MapConfig, mode: str, pair):
    from induction.analyses.effects import effects

    return run_with_progress("per-head effects", effects, config, mode=mode, pairs_with=pair)


def cached_effects(config: MapConfig, mode: str, pair):
    """The effects of this view if they are in the cache (or the precomputed tier), else None; never computes."""
    from induction.analyses.effects import cached_effects as peek

    try:
        return peek(config, mode=mode, pairs_with=pair)
    except InductionError:
        return None


def get_mask_curve(config: MapConfig, target: str):
    from induction.analyses.masks import mask_curve

    return run_with_progress("the curve (one map per K and span)", mask_curve, config, target)


def get_icl(config):
    from induction.analyses.icl import icl_score

    return run_with_progress(f"ICL {config.model}", icl_score, config)


def get_dynamics(models: list[str], template: MapConfig, target: str, head, *, compute: bool):
    """Every checkpoint's map of the series: computed where missing when `compute` (the series trained here are
    small), else read from the cache only."""
    from induction.analyses.dynamics import dynamics

    if not compute:
        return dynamics(models, template, target, head)
    return run_with_progress(f"maps of {len(models)} checkpoints", dynamics, models, template, target, head,
                             compute_missing=True, unit="checkpoints")


def get_icl_series(models: list[str]):
    from induction.analyses.dynamics import icl_series

    return run_with_progress(f"ICL scores of {len(models)} checkpoints", icl_series, models, unit="checkpoints")


def get_mechanism(series: str, trials: int, seed: int):
    """The induction head's prefix matching, copying and K-composition per checkpoint of a series trained here."""
    from induction.analyses.mechanism import mechanism_series

    return run_with_progress(f"head roles of {series}'s checkpoints", mechanism_series, series, trials=trials,
                             seed=seed, unit="checkpoints")


def get_depth(trials: int, seed: int):
    """The depth study over the depth series trained here (maps, roles, ablations, ICL: computed where not cached)."""
    from induction.analyses.depth import depth_study

    return run_with_progress("the depth series", depth_study, None, trials=trials, seed=seed, unit="series")


def get_depth_curves(trials: int, seed: int):
    """Every depth series' best head against step, and its formation step."""
    from induction.analyses.depth import depth_curves

    return run_with_progress("the depth series' checkpoints", depth_curves, None, trials=trials, seed=seed,
                             unit="series")


def get_mosaic(models, state: ViewState):
    """(tiles, {model: why missing}) of the view's setup and target, from the cache only: nothing is computed."""
    from induction.analyses.mosaic import collect

    return collect(models, setup=state.setup, target=state.target, trials=state.trials, seed=state.seed)


def compute_mosaic(models, state: ViewState):
    """The view's tiles of these models, computing the maps the cache lacks (behind a progress bar)."""
    from induction.analyses.mosaic import collect

    return run_with_progress(f"computing {', '.join(models)}", collect, models, setup=state.setup,
                             target=state.target, trials=state.trials, seed=state.seed, compute_missing=True,
                             unit="models")


def loadable(models) -> tuple[list[str], dict[str, str]]:
    """(the models whose config can be read here, {model: why not} for the others): no weights load."""
    from induction.models.loading import describe

    ok, why = [], {}
    for name in models:
        try:
            describe(name)
            ok.append(name)
        except InductionError as exc:
            why[name] = str(exc)
    return ok, why


def folder_problem(text: str) -> str | None:
    """Why a typed folder cannot be opened (not a model folder, an unsupported family, over the memory budget), in
    one line; None when it can, or when the text is not a folder path (a Hub id: the map page says what fails)."""
    from induction.models.loading import folder_problem, is_folder_path

    return folder_problem(text) if is_folder_path(text) else None


def mlm_note(model: str) -> str | None:
    """Why this model cannot give a loss (no trained MLM head), from its config; None if it can or cannot be read."""
    from induction.models.loading import mlm_head_note

    try:
        return mlm_head_note(model)
    except InductionError:
        return None


def max_positions(model: str, fallback: int = 512) -> int:
    """The model's usable positions (read from its config), or `fallback` when it cannot be read."""
    from induction.models.loading import describe

    try:
        return describe(model).max_positions
    except InductionError:
        return fallback


def model_size(model: str) -> int:
    """The model's layers x heads (read from its config), 4 when it cannot be read: what a wait estimate scales."""
    from induction.models.loading import describe

    try:
        info = describe(model)
        return info.layers * info.heads
    except InductionError:
        return 4


def model_kind(model: str) -> str:
    """'encoder' or 'causal', read from the model's config; 'encoder' when it cannot be read (the page then says
    why when it computes)."""
    from induction.models.loading import describe

    try:
        return describe(model).kind
    except InductionError:
        return "encoder"


def get_reproduction(sizes: list[str], trials: int, seed: int, icl_corpus: str):
    from induction.study.reproduce import reproduce

    return run_with_progress("reproducing the study", reproduce, {s: s for s in sizes}, trials=trials, seed=seed,
                             icl_corpus=icl_corpus, icl_trials=trials)


def warm_up(model: str = "toy", progress=None) -> None:
    """Import the library and load the default model (and its default map) once, at server start: in the server
    process, or (with a worker pool: serve.py sends it there) in a worker, so the server holds no model."""
    from induction.engine import compute_map

    with contextlib.suppress(InductionError):  # a server whose default model cannot load still starts
        compute_map(MapConfig(model=model))


def get_roles(state: ViewState):
    """Every head's roles, copying and composition for the view's model, trials and seed."""
    from induction.analyses.roles import head_roles

    return run_with_progress(f"roles of {state.model}", head_roles, state.model, trials=state.trials, seed=state.seed)


def cached_roles(state: ViewState):
    """The view's roles if they are in the cache, else None; never computes (the drill-down names them)."""
    from induction.analyses.roles import cached_roles as peek

    try:
        return peek(state.model, trials=state.trials, seed=state.seed)
    except InductionError:
        return None


def server_load() -> str:
    """Markdown: the model memory budget, the models loaded, and the computation slots (the About page): the
    server process's models, or with a worker pool each worker's (the server process then holds none)."""
    from induction.admission import server_admission
    from induction.compute_workers import server_pool
    from induction.engine import loaded_models

    queue = server_admission().snapshot()
    slots = (f"Computations: {queue['running']} running of {queue['slots']} at once (`INDUCTION_MAX_COMPUTE`), "
             f"{queue['queued']} waiting; maps already computed never wait.")
    pool = server_pool()
    if pool is None:
        mem = loaded_models()
        rows = "".join(f"\n| {m['model']} | {m['mb']:.0f} | {'yes' if m['in_use'] else 'no'} |" for m in mem["models"])
        return (f"Models in memory: {mem['loaded_mb']:.0f} MB of a {mem['budget_mb']} MB budget "
                f"(`INDUCTION_MODEL_MEMORY_MB`; least recently used evicted first, never one in use).\n\n"
                f"| model | MB | in use |\n|---|---|---|{rows}\n\n" + slots)
    workers = pool.report()
    rows = "".join(
        f"\n| {w['pid']} | {'computing' if w['busy'] else 'idle'} | "
        f"{', '.join(m['model'] for m in w['models']) or 'none'} | {w['loaded_mb']:.0f} | "
        f"{'?' if w['rss_mb'] is None else format(w['rss_mb'], '.0f')} |" for w in workers)
    return (f"{slots}\n\nThey run in {pool.size} worker process(es) of their own at the lowest priority (restarted "
            f"{pool.restarts} time(s) after a cancel); this server process loads no model, drill-downs and text "
            f"tokens included. Each worker's models (as of its last computation) and memory:\n\n"
            f"| worker | now | models | model MB | resident MB |\n|---|---|---|---|---|{rows}")
