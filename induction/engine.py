"""The orchestrator: MapConfig in, InductionMap out, cached on disk.

One trial = one sequence, one [MASK], one forward pass; every layer, head and
target comes from that same pass. Trials run in batches; only the [MASK] rows of
attention are captured (B x L x H x S), the forward stops right after the last
layer's attention scores, and the MLM vocabulary projection never runs.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable

import numpy as np

from .cache import ResultCache, make_key, open_cache
from .config import ConfigError, MapConfig
from .models import LoadedModel, ModelInfo, describe, load_model, resolve_device
from .scoring import InductionMap, gather_targets, mean_sem, nanmean_trials, offset_profile
from .sequences import TrialBatch, build_trials

Progress = Callable[[int, int], None]  # (trials done, total)

_MODELS: dict[tuple[str, str, str], LoadedModel] = {}
_LOAD_LOCKS: dict[tuple[str, str, str], threading.Lock] = {}
_MODELS_LOCK = threading.Lock()


def get_model(name: str, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load a model once per process and share it (it is never modified by a call).

    One lock per model: a session loading BERT-large does not hold up one asking for the toy.
    """
    device, dtype = resolve_device(device, dtype)
    key = (name, device, dtype)
    with _MODELS_LOCK:
        if key in _MODELS:
            return _MODELS[key]
        lock = _LOAD_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _MODELS:
            model = load_model(name, device=device, dtype=dtype)
            with _MODELS_LOCK:
                _MODELS[key] = model
        return _MODELS[key]


def resolve_config(config: MapConfig, info: ModelInfo | None = None) -> MapConfig:
    """Validate and fill in the segment for this model (reads the model's config only)."""
    config.validate()
    info = info or describe(config.model)
    return config.with_segment(info.default_segment, info.max_positions)


def make_trials(config: MapConfig, model: LoadedModel, *, start: int = 0, count: int | None = None) -> TrialBatch:
    config = resolve_config(config)
    return build_trials(config.setup, config.protocol, segment=config.segment,
                        trials=config.trials if count is None else count, seed=config.seed,
                        vocab=model.vocab, start=start)


def batch_size(model: LoadedModel, seq_len: int) -> int:
    """Trials per forward pass: bounded memory (about 64 MB of activations per layer on CPU)."""
    budget = (2**31 if model.device == "cuda" else 2**26) // 4
    per_trial = seq_len * max(model.heads * seq_len // 8, model.encoder.config.hidden_size * 4)
    return int(max(1, min(64 if model.device == "cuda" else 32, budget // max(per_trial, 1))))


def capture(model: LoadedModel, batch: TrialBatch, *, progress: Progress | None = None,
            chunk: int | None = None) -> np.ndarray:
    """[MASK] attention rows of every trial: [T, L, H, S] float32."""
    import torch

    from .capture import run_capture

    seq_len = batch.input_ids.shape[1]
    chunk = chunk or batch_size(model, seq_len)
    out = np.empty((batch.trials, model.layers, model.heads, seq_len), dtype=np.float32)
    for start in range(0, batch.trials, chunk):
        part = batch.slice(start, start + chunk)
        ids = torch.from_numpy(part.input_ids).to(model.device)
        q = torch.from_numpy(part.mask_index).to(model.device)
        rows = run_capture(model.encoder, ids, q, n_layers=model.layers)
        out[start:start + part.trials] = rows.cpu().numpy()
        if progress:
            progress(min(start + chunk, batch.trials), batch.trials)
    return out


def map_key(config: MapConfig, info: ModelInfo, device: str, dtype: str, **extra) -> str:
    return make_key("map", source=info.source, fingerprint=info.fingerprint, setup=config.setup,
                    protocol=config.protocol, segment=config.segment, trials=config.trials, seed=config.seed,
                    dtype=dtype, device=device, **extra)


def _chunk_arrays(rows: np.ndarray, batch: TrialBatch, setup: str) -> dict[str, np.ndarray]:
    """Per-trial arrays of one chunk: score_<target> [T, L, H] and offsets [T, L, H, len(OFFSETS)]."""
    arrays = {f"score_{t}": v.astype(np.float32) for t, v in gather_targets(rows, batch, setup).items()}
    arrays["offsets"] = offset_profile(rows, batch)
    return arrays


def _join_chunks(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate chunks over trials; the offset profile is kept as its mean over trials."""
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    arrays["offsets"] = nanmean_trials(arrays["offsets"]).astype(np.float32)  # [L, H, len(OFFSETS)]
    return arrays


def _map_from_arrays(config: MapConfig, info: ModelInfo, meta: dict, arrays: dict, cached: bool) -> InductionMap:
    per_trial = {t: arrays[f"score_{t}"] for t in config.targets()}
    return InductionMap(config=config, model_source=info.source, fingerprint=info.fingerprint,
                        layers=info.layers, heads=info.heads, seq_len=int(meta["seq_len"]), per_trial=per_trial,
                        offsets=arrays["offsets"], elapsed_s=float(meta["elapsed_s"]), cached=cached)


def compute_map(config: MapConfig, *, progress: Progress | None = None, use_cache: bool = True,
                cache: ResultCache | None = None) -> InductionMap:
    """The induction map of one model and setup, from the cache when it is there."""
    info = describe(config.model)
    config = resolve_config(config, info)
    device, dtype = resolve_device(config.device, config.dtype)

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model = get_model(config.model, device=device, dtype=dtype)
        batch = make_trials(config, model)
        rows = capture(model, batch, progress=progress)  # [T, L, H, S]
        arrays = _join_chunks([_chunk_arrays(rows, batch, config.setup)])
        return {"seq_len": int(rows.shape[-1]), "elapsed_s": time.perf_counter() - started}, arrays

    if not use_cache:
        meta, arrays = compute()
        return _map_from_arrays(config, info, meta, arrays, cached=False)
    started = time.perf_counter()
    meta, arrays, cached = (cache or open_cache()).compute_once(map_key(config, info, device, dtype), compute)
    result = _map_from_arrays(config, info, meta, arrays, cached=cached)
    if cached:
        result.elapsed_s = time.perf_counter() - started
        if progress:
            progress(result.trials, result.trials)
    return result


def compute_map_until(config: MapConfig, until_sem: float, *, chunk: int = 10, progress: Progress | None = None,
                      cache: ResultCache | None = None) -> InductionMap:
    """Adaptive trials: run chunks until every head's standard error (every target) is below `until_sem`,
    or `config.trials` (the cap) is reached. The result equals the fixed-count map of that many trials
    (trial t depends only on the seed and t), so it is cached under that key."""
    if not until_sem > 0:
        raise ConfigError("until_sem must be a positive number")
    info = describe(config.model)
    config = resolve_config(config, info)
    device, dtype = resolve_device(config.device, config.dtype)
    started = time.perf_counter()
    model = get_model(config.model, device=device, dtype=dtype)
    chunks: list[dict[str, np.ndarray]] = []
    done = 0
    while done < config.trials:
        count = min(max(chunk, 2), config.trials - done)
        batch = make_trials(config, model, start=done, count=count)
        rows = capture(model, batch)
        chunks.append(_chunk_arrays(rows, batch, config.setup))
        done += count
        if progress:
            progress(done, config.trials)
        worst = max(float(mean_sem(np.concatenate([c[f"score_{t}"] for c in chunks]))[1].max())
                    for t in config.targets())
        if worst < until_sem:
            break
    final = dataclasses.replace(config, trials=done)
    arrays = _join_chunks(chunks)
    meta = {"seq_len": int(rows.shape[-1]), "elapsed_s": time.perf_counter() - started}
    (cache or open_cache()).put(map_key(final, info, device, dtype), meta, arrays)
    return _map_from_arrays(final, info, meta, arrays, cached=False)


__all__ = ["compute_map", "compute_map_until", "get_model", "resolve_config", "make_trials", "capture"]
