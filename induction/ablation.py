"""Head ablation and backup heads: recompute a map with heads removed, on the same trials.

Why through the capture attention: transformers 5.x has no `head_mask`. The
ablation lives in the per-call capture state (a ContextVar), so it exists only for
the duration of one call and a shared model is never left ablated, even when the
call raises. Zero ablation zeroes the head's output before the output projection;
mean ablation replaces it by its mean over the trials of the batch (all trials run
in one batch in that mode, so the mean is over the whole run).

Removing a head's output does not change that head's own attention, so ablated
heads have no score (NaN here, null in JSON, greyed in the page).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .cache import ResultCache, make_key, open_cache
from .config import ConfigError, MapConfig, head_name, parse_head
from .engine import Progress, compute_map, get_model, make_trials, resolve_config
from .models import LoadedModel, describe, resolve_device
from .scoring import InductionMap, gather_targets
from .sequences import TrialBatch

Mode = Literal["zero", "mean"]
Heads = tuple[tuple[int, int], ...]


@dataclass
class AblationResult:
    clean: InductionMap
    heads: Heads
    mode: Mode
    per_trial: dict[str, np.ndarray]  # target -> [T, L, H] with the heads ablated
    loss_clean: float | None  # masked-token cross-entropy on the RRT trials; None without an MLM head
    loss_ablated: float | None
    cached: bool = False
    _means: dict = field(default_factory=dict, repr=False)

    def ablated(self, target: str) -> np.ndarray:
        if target not in self._means:
            mean = self.per_trial[target].mean(axis=0)
            for l, h in self.heads:
                mean[l, h] = np.nan
            self._means[target] = mean
        return self._means[target]

    def diff(self, target: str) -> np.ndarray:
        """Ablated minus clean; rising heads are backup candidates."""
        return self.ablated(target) - self.clean.mean(target)

    def to_json(self) -> dict:
        def grid(a: np.ndarray) -> list:
            return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in a]

        targets = self.clean.targets
        return {"model": self.clean.config.model, "setup": self.clean.config.setup, "trials": self.clean.trials,
                "seed": self.clean.config.seed, "heads": [head_name(l, h) for l, h in self.heads], "mode": self.mode,
                "clean": {t: grid(self.clean.mean(t)) for t in targets},
                "ablated": {t: grid(self.ablated(t)) for t in targets},
                "diff": {t: grid(self.diff(t)) for t in targets},
                "loss_clean": self.loss_clean, "loss_ablated": self.loss_ablated}


def check_heads(heads, layers: int, heads_per_layer: int) -> Heads:
    """Accept 'L9H9' strings or (layer, head) pairs; refuse heads the model does not have."""
    out = []
    for item in heads:
        l, h = parse_head(item) if isinstance(item, str) else (int(item[0]), int(item[1]))
        if not (0 <= l < layers and 0 <= h < heads_per_layer):
            raise ConfigError(f"the model has layers 0..{layers - 1} and heads 0..{heads_per_layer - 1}; "
                              f"there is no {head_name(l, h)}")
        out.append((l, h))
    if not out:
        raise ConfigError("name at least one head to ablate, for example L1H0")
    return tuple(dict.fromkeys(out))


def _by_layer(heads: Heads) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for l, h in heads:
        out.setdefault(l, []).append(h)
    return {l: tuple(hs) for l, hs in out.items()}


def run_trials(model: LoadedModel, batch: TrialBatch, heads: Heads, mode: Mode, *,
               progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """One full forward per chunk with `heads` ablated: ([MASK] rows [T, L, H, S], loss per trial [T] or None)."""
    import torch

    from .capture import run_ablated

    chunk = batch.trials if mode == "mean" else 16
    rows_out, losses = [], []
    for start in range(0, batch.trials, chunk):
        part = batch.slice(start, start + chunk)
        ids = torch.from_numpy(part.input_ids).to(model.device)
        q = torch.from_numpy(part.mask_index).to(model.device)
        net = model.mlm if model.mlm is not None else model.encoder
        out, rows = run_ablated(net, ablate=_by_layer(heads), mode=mode, query_index=q, input_ids=ids)
        rows_out.append(rows.float().cpu().numpy())
        if model.mlm is not None:
            t = torch.arange(part.trials, device=model.device)
            logits = out.logits[t, q].float()  # [B, V] at the masked positions
            target = torch.from_numpy(part.original_ids[np.arange(part.trials), part.mask_index]).to(model.device)
            losses.append(torch.nn.functional.cross_entropy(logits, target, reduction="none").cpu().numpy())
        if progress:
            progress(min(start + chunk, batch.trials), batch.trials)
    return np.concatenate(rows_out), (np.concatenate(losses) if losses else None)


def ablate(config: MapConfig, heads, *, mode: Mode = "zero", progress: Progress | None = None,
           use_cache: bool = True, cache: ResultCache | None = None) -> AblationResult:
    """The map of `config` with `heads` ablated, on the same trials as the clean map."""
    if mode not in ("zero", "mean"):
        raise ConfigError(f"unknown ablation mode {mode!r}; choose zero or mean")
    info = describe(config.model)
    config = resolve_config(config, info)
    heads = check_heads(heads, info.layers, info.heads)
    clean = compute_map(config, use_cache=use_cache, cache=cache)
    device, dtype = resolve_device(config.device, config.dtype)

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model = get_model(config.model, device=device, dtype=dtype)
        batch = make_trials(config, model)
        rows, loss_ablated = run_trials(model, batch, heads, mode, progress=progress)
        arrays = {f"score_{t}": v.astype(np.float32) for t, v in gather_targets(rows, batch, config.setup).items()}
        if loss_ablated is not None:
            arrays["loss_ablated"] = loss_ablated
        return {"elapsed_s": time.perf_counter() - started}, arrays

    parts = dict(source=info.source, fingerprint=info.fingerprint, setup=config.setup, protocol=config.protocol,
                 segment=config.segment, trials=config.trials, seed=config.seed, dtype=dtype, device=device)
    arrays, cached = _cached(make_key("ablation", heads=sorted(heads), mode=mode, **parts), compute, use_cache, cache)
    lc = _clean_loss(config, device, dtype, make_key("clean-loss", **parts), use_cache, cache)
    per_trial = {t: arrays[f"score_{t}"] for t in config.targets()}
    la = arrays.get("loss_ablated")
    return AblationResult(clean=clean, heads=heads, mode=mode, per_trial=per_trial,
                          loss_clean=None if lc is None else float(lc.mean()),
                          loss_ablated=None if la is None else float(la.mean()), cached=cached)


def _cached(key: str, compute, use_cache: bool, cache: ResultCache | None) -> tuple[dict, bool]:
    if not use_cache:
        return compute()[1], False
    _, arrays, cached = (cache or open_cache()).compute_once(key, compute)
    return arrays, cached


def _clean_loss(config: MapConfig, device: str, dtype: str, key: str, use_cache: bool,
                cache: ResultCache | None) -> np.ndarray | None:
    """Masked-token loss per trial with nothing ablated: computed once per run, shared by every ablation."""

    def compute() -> tuple[dict, dict]:
        model = get_model(config.model, device=device, dtype=dtype)
        loss = run_trials(model, make_trials(config, model), (), "zero")[1] if model.mlm is not None else None
        return {"has_mlm": loss is not None}, {"loss": np.zeros(0) if loss is None else loss}

    loss = _cached(key, compute, use_cache, cache)[0]["loss"]
    return loss if loss.size else None


def top_heads(result: InductionMap, target: str, k: int) -> Heads:
    return tuple((h["layer"], h["head_index"]) for h in result.top_heads(target, k))


def sweep(config: MapConfig, target: str, k: int, *, mode: Mode = "zero",
          progress: Progress | None = None) -> list[dict]:
    """Ablate the top 1, 2, ..., k heads of the clean map cumulatively."""
    clean = compute_map(config)
    order = top_heads(clean, target, k)
    rows = []
    for i in range(1, len(order) + 1):
        res = ablate(config, order[:i], mode=mode)
        remaining = res.ablated(target)
        best = np.nanargmax(remaining)
        l, h = np.unravel_index(best, remaining.shape)
        rows.append({"k": i, "ablated": [head_name(*x) for x in order[:i]], "loss": res.loss_ablated,
                     "loss_clean": res.loss_clean, "best_remaining": head_name(int(l), int(h)),
                     "best_remaining_score": float(remaining[l, h])})
        if progress:
            progress(i, len(order))
    return rows
