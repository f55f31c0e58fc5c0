"""The orchestrator: MapConfig in, InductionMap out, cached on disk.

One trial = one sequence, one [MASK], one forward pass; every layer, head and
target comes from that same pass. Trials run in batches (`for_chunks`, the one
batching loop, which ablation reuses); only the [MASK] rows of attention are
captured (B x L x H x S), the forward stops right after the last layer's attention
scores, and the MLM vocabulary projection never runs. A config is resolved once
into a `Run` at the entry point and flows down unchanged.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import numpy as np

from induction.admission import heavy_section
from induction.cache import ResultCache, get_or_compute, open_cache
from induction.config import ConfigError, MapConfig
from induction.model_memory import ModelMemo, activation_bytes, model_bytes, torch_bytes
from induction.models.loading import LoadedModel, ModelInfo, describe, load_model, resolve_device
from induction.runs import Run, map_key, resolve_run
from induction.scoring import (
    InductionMap,
    cross_attention,
    gather_targets,
    mean_sem,
    nanmean_trials,
    offset_profile,
    to_pairs,
)
from induction.trials.rrt import TrialBatch, build_trials

Progress = Callable[[int, int], None]  # (trials done, total)
T = TypeVar("T")

def counted_bytes(model: LoadedModel) -> int:
    """What a loaded model counts against the budget: its parameter and buffer bytes plus an activation estimate."""
    return torch_bytes(model) + activation_bytes(model.encoder.config)


_MODELS: ModelMemo[LoadedModel] = ModelMemo(size=counted_bytes)  # LRU under INDUCTION_MODEL_MEMORY_MB, never one in use
_IN_USE: contextvars.ContextVar[list | None] = contextvars.ContextVar("induction_models_in_use", default=None)


def model_for(run: Run) -> LoadedModel:
    """The run's model, loaded once per process and shared (a call never modifies it)."""
    return shared_model(run.info, run.device, run.dtype)


def shared_model(info: ModelInfo, device: str, dtype: str) -> LoadedModel:
    """A described model on a concrete device and dtype, loaded once per process (one lock per model: a session
    loading BERT-large does not hold up one asking for the toy).

    Every real computation passes here, so this is where it waits for admission (`heavy_section`, a no-op
    outside the dashboard) and where the model is pinned for the rest of a `models_in_use` block.
    """
    heavy_section()
    key = (info.name, info.fingerprint, device, dtype)
    model = _MODELS.acquire(key, lambda: load_model(info, device=device, dtype=dtype), need=model_bytes(info.config))
    pins = _IN_USE.get()
    if pins is None:
        _MODELS.release(key)  # no block to pin it for: it stays loaded, evictable
    else:
        pins.append(key)
    return model


@contextlib.contextmanager
def models_in_use() -> Iterator[None]:
    """Models loaded within the block are not evicted before it ends (a computation never loses its model)."""
    pins: list = []
    token = _IN_USE.set(pins)
    try:
        yield
    finally:
        _IN_USE.reset(token)
        for key in pins:
            _MODELS.release(key)


def loaded_models() -> dict:
    """The model budget and what is loaded (the About page shows it in deployed mode)."""
    return {"budget_mb": round(_MODELS.budget / 2**20), "loaded_mb": round(_MODELS.loaded_bytes() / 2**20, 1),
            "models": [{"model": e["key"][0], "mb": e["mb"], "in_use": e["users"]} for e in _MODELS.snapshot()]}


def get_model(name: str, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """A model by name, for callers outside a run (the CLI's dump, tests, benchmarks)."""
    return shared_model(describe(name), *resolve_device(device, dtype))


def make_trials(config: MapConfig | Run, model: LoadedModel, *, start: int = 0, count: int | None = None
                ) -> TrialBatch:
    c = resolve_run(config).config
    count = c.trials if count is None else count
    if c.unit == "word":
        from induction.trials.words import build_word_trials, word_pool

        return build_word_trials(c.protocol, segment=c.segment, trials=count, seed=c.seed, vocab=model.vocab,
                                 pool=word_pool(model), mask_piece=c.mask_piece, start=start)
    return build_trials(c.setup, c.protocol, segment=c.segment, trials=count, seed=c.seed, vocab=model.vocab,
                        start=start, masks=c.masks, span=c.mask_span)


def batch_size(model: LoadedModel, seq_len: int, queries: int = 1) -> int:
    """Trials per forward pass: bounded memory (about 64 MB of activations per layer on CPU); `queries`
    rows of attention a trial are kept for every layer."""
    budget = (2**31 if model.device == "cuda" else 2**26) // 4
    per_trial = seq_len * max(model.heads * seq_len // 8, model.encoder.config.hidden_size * 4)
    per_trial += model.layers * model.heads * queries * seq_len if queries > 1 else 0
    if model.capture_path == "fallback":  # every layer's full [H, S, S] weights are returned at once
        per_trial += model.layers * model.heads * seq_len * seq_len
    return int(max(1, min(64 if model.device == "cuda" else 32, budget // max(per_trial, 1))))


def for_chunks(batch: TrialBatch, chunk: int, step: Callable[[TrialBatch], T], *,
               progress: Progress | None = None) -> list[T]:
    """`step` on consecutive chunks of `chunk` trials, reporting progress after each."""
    out = []
    for start in range(0, batch.trials, chunk):
        out.append(step(batch.slice(start, start + chunk)))
        if progress:
            progress(min(start + chunk, batch.trials), batch.trials)
    return out


def capture(model: LoadedModel, batch: TrialBatch, *, progress: Progress | None = None,
            chunk: int | None = None) -> np.ndarray:
    """[MASK] attention rows of every trial: [T, L, H, S] float32."""
    import torch

    from induction.capture.eager import run_rows
    from induction.capture.interface import run_capture

    def step(part: TrialBatch) -> np.ndarray:
        ids = torch.from_numpy(part.input_ids).to(model.device)
        q = torch.from_numpy(part.mask_index).to(model.device)
        if model.capture_path == "fallback":
            return run_rows(model.encoder, ids, q).cpu().numpy()  # [B, L, H, S]
        return run_capture(model.encoder, ids, q, n_layers=model.layers).cpu().numpy()  # [B, L, H, S]

    chunk = chunk or batch_size(model, batch.input_ids.shape[1])
    return np.concatenate(for_chunks(batch, chunk, step, progress=progress)).astype(np.float32, copy=False)


def _chunk_arrays(rows: np.ndarray, batch: TrialBatch, setup: str) -> dict[str, np.ndarray]:
    """Per-trial arrays of one chunk: score_<target> [T, L, H] and offsets [T, L, H, len(OFFSETS)]; with
    several masks a row is a (trial, mask) pair, and the standard setup adds cross [T, K, K, L, H]."""
    if hasattr(batch, "sets"):  # the word unit: targets are sets of positions
        from induction.scoring import word_arrays

        return word_arrays(rows, batch)
    cross = None
    if rows.ndim == 5 and setup != "repeat":  # [T, L, H, K, S]: several masks a trial (repeat: Q queries, their
        # mean per trial, read as they are by gather_targets and offset_profile)
        cross = cross_attention(rows, batch) if setup == "standard" else None
        rows, batch = to_pairs(rows, batch)
    arrays = {f"score_{t}": v.astype(np.float32) for t, v in gather_targets(rows, batch, setup).items()}
    arrays["offsets"] = offset_profile(rows, batch)
    for name, index in batch.target_index.items():  # each target's own profile: offset 0 is its score
        arrays[f"offsets_{name}"] = offset_profile(rows, batch, anchor=index)
    if cross is not None:
        arrays["cross"] = cross.astype(np.float32)
    return arrays


def capture_arrays(model: LoadedModel, batch: TrialBatch, setup: str, *, progress: Progress | None = None
                   ) -> list[dict[str, np.ndarray]]:
    """Per-trial arrays of every chunk, each chunk's attention rows scored and dropped before the next is
    captured (the repeat setup's rows, Q queries a trial, would not fit at once)."""
    def step(part: TrialBatch) -> dict[str, np.ndarray]:
        return _chunk_arrays(capture(model, part, chunk=part.trials), part, setup)

    return for_chunks(batch, batch_size(model, batch.input_ids.shape[1], queries=query_count(batch)), step,
                      progress=progress)


def query_count(batch: TrialBatch) -> int:
    """Queries a trial: the repeat setup's (and several masks') rows are kept for each."""
    return int(batch.mask_index.shape[1]) if batch.mask_index.ndim == 2 else 1


def _join_chunks(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate chunks over trials; the offset profile is kept as its mean over trials."""
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    for key in [k for k in arrays if k == "offsets" or k.startswith("offsets_")]:
        arrays[key] = nanmean_trials(arrays[key]).astype(np.float32)  # [L, H, len(OFFSETS)]
    return arrays


def _map_from_arrays(run: Run, meta: dict, arrays: dict, cached: bool) -> InductionMap:
    per_trial = {t: arrays[f"score_{t}"] for t in run.config.targets()}
    return InductionMap(config=run.config, model_source=run.info.source, fingerprint=run.info.fingerprint,
                        layers=run.info.layers, heads=run.info.heads, seq_len=int(meta["seq_len"]),
                        per_trial=per_trial, offsets=arrays["offsets"], elapsed_s=float(meta["elapsed_s"]),
                        target_offsets={k.removeprefix("offsets_"): v for k, v in arrays.items()
                                        if k.startswith("offsets_")},
                        kind=run.info.kind,
                        cached=cached, capture_path=run.info.capture_path, masks=run.config.masks,
                        cross_per_trial=arrays.get("cross"),
                        word_split={"first": arrays["split_first"], "rest": arrays["split_rest"]}
                        if "split_first" in arrays else None)


def map_payload(result: InductionMap) -> tuple[dict, dict[str, np.ndarray]]:
    """(meta, arrays) as the cache stores a map: the inverse of `_map_from_arrays` (a sweep's worker ships these)."""
    arrays = {f"score_{t}": result.per_trial[t] for t in result.targets}
    arrays["offsets"] = result.offsets
    arrays.update({f"offsets_{t}": v for t, v in result.target_offsets.items()})
    if result.cross_per_trial is not None:
        arrays["cross"] = result.cross_per_trial
    if result.word_split is not None:
        arrays["split_first"], arrays["split_rest"] = result.word_split["first"], result.word_split["rest"]
    return {"seq_len": result.seq_len, "elapsed_s": result.elapsed_s}, arrays


def cached_map(config: MapConfig | Run, cache: ResultCache | None = None) -> InductionMap | None:
    """The map if it is in the cache (or the precomputed tier); None, never a computation."""
    run = resolve_run(config)
    hit = (cache or open_cache()).get(map_key(run))
    return None if hit is None else _map_from_arrays(run, *hit, cached=True)


def compute_map(config: MapConfig | Run, *, progress: Progress | None = None, use_cache: bool = True,
                cache: ResultCache | None = None) -> InductionMap:
    """The induction map of one model and setup, from the cache when it is there."""
    run = resolve_run(config)

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model = model_for(run)
        batch = make_trials(run, model)
        if progress:
            progress(0, batch.trials)  # the model is loaded: the trials start
        arrays = _join_chunks(capture_arrays(model, batch, run.config.setup, progress=progress))
        return {"seq_len": int(batch.input_ids.shape[1]), "elapsed_s": time.perf_counter() - started}, arrays

    started = time.perf_counter()
    meta, arrays, cached = get_or_compute(map_key(run), compute, use_cache=use_cache, cache=cache)
    result = _map_from_arrays(run, meta, arrays, cached=cached)
    if cached:
        result.elapsed_s = time.perf_counter() - started
        if progress:
            progress(result.trials, result.trials)
    return result


def compute_map_until(config: MapConfig | Run, until_sem: float, *, chunk: int = 10,
                      progress: Progress | None = None, use_cache: bool = True,
                      cache: ResultCache | None = None) -> InductionMap:
    """Adaptive trials: run chunks until every head's standard error (every target) is below `until_sem`,
    or `config.trials` (the cap) is reached. The result equals the fixed-count map of that many trials
    (trial t depends only on the seed and t), so it is cached under that key."""
    if not until_sem > 0:
        raise ConfigError("until_sem must be a positive number")
    run = resolve_run(config)
    cap = run.config.trials
    started = time.perf_counter()
    model = model_for(run)
    chunks: list[dict[str, np.ndarray]] = []
    done = 0
    while done < cap:
        count = min(max(chunk, 2), cap - done)
        batch = make_trials(run, model, start=done, count=count)
        chunks.extend(capture_arrays(model, batch, run.config.setup))
        done += count
        if progress:
            progress(done, cap)
        worst = max(float(mean_sem(np.concatenate([c[f"score_{t}"] for c in chunks]))[1].max())
                    for t in run.config.targets())
        if worst < until_sem:
            break
    final = run.with_trials(done)
    arrays = _join_chunks(chunks)
    meta = {"seq_len": int(batch.input_ids.shape[1]), "elapsed_s": time.perf_counter() - started}
    if use_cache:  # the same switch as every other entry point: off, nothing is written
        (cache or open_cache()).put(map_key(final), meta, arrays)
    return _map_from_arrays(final, meta, arrays, cached=False)


__all__ = [
    "cached_map",
    "capture",
    "compute_map",
    "compute_map_until",
    "for_chunks",
    "get_model",
    "loaded_models",
    "make_trials",
    "map_payload",
    "model_for",
    "models_in_use",
    "resolve_run",
    "shared_model",
]
