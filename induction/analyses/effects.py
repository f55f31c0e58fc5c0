"""Is the head used? The causal effect of every head: the masked-token loss with that head alone
ablated, minus the loss without it, on the same RRT trials as the map.

Why not L x H ablation runs: ablating a head in layer l changes nothing below l. One clean pass
per chunk of trials keeps the hidden states entering every layer; a head of layer l is then
ablated by re-running only layers l.. from them, and the MLM head reads only the masked positions
(the vocabulary projection of every other position, which a full masked-LM forward computes, is
most of its cost). Where an architecture's layers cannot be run on their own (checked on the
first chunk against the full forward), every head is ablated in a full forward instead, several
heads as rows of one batch. Both give what `ablate` gives for that head alone.

`pairs_with`: every head's effect with another head already ablated, measured from the loss with
that head ablated (the study's backup-head question, for every head at once). In mean mode the
replacement of a head is its mean output over the run's trials (with the paired head ablated).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from induction.analyses.ablation import clean_loss, require_ablation, run_trials
from induction.cache import ResultCache, get_or_compute, open_cache
from induction.capture.layer_suffix import MaskedLoss
from induction.config import (
    ABLATION_MODES,
    AblationMode,
    ConfigError,
    MapConfig,
    ModelKind,
    check_choice,
    head_name,
    parse_head,
)
from induction.engine import Progress, batch_size, make_trials, model_for
from induction.losses import has_loss
from induction.models.loading import LoadedModel
from induction.runs import Run, clean_loss_key, effects_key, resolve_run
from induction.scoring import mean_sem
from induction.trials.rrt import TrialBatch


@dataclass(repr=False)
class EffectsResult:
    """Every head's causal effect on the loss: the loss with that head ablated (on top of `pairs_with`, if any)
    minus the loss without it, per trial and as a mean with its standard error over the paired trials.

    The loss is the masked-token loss (an encoder's) or the next-token loss on the second copy (a decoder's), in
    nats. `loss_clean`, `loss_base` are means over trials (floats) and `loss_ablated` the mean per head [L, H];
    the per-trial arrays are the `*_per_trial` fields."""

    config: MapConfig
    mode: AblationMode
    pairs_with: tuple[int, int] | None
    layers: int
    heads: int
    loss_clean_per_trial: np.ndarray  # [T] nothing ablated
    loss_base_per_trial: np.ndarray  # [T] `pairs_with` ablated (the clean loss without it)
    loss_ablated_per_trial: np.ndarray  # [T, L, H] each head ablated (with `pairs_with`)
    path: str  # "suffix" (layers l.. re-run) or "full" (a full forward per head)
    elapsed_s: float = 0.0
    cached: bool = False
    kind: ModelKind = "encoder"  # causal: the loss is the next-token loss on the second copy

    @property
    def trials(self) -> int:
        """Trials the effects were measured on."""
        return int(self.loss_clean_per_trial.shape[0])

    @property
    def loss_clean(self) -> float:
        """The mean loss over trials with nothing ablated (nats)."""
        return float(self.loss_clean_per_trial.mean())

    @property
    def loss_base(self) -> float:
        """The mean loss over trials with `pairs_with` ablated (the clean loss when there is none)."""
        return float(self.loss_base_per_trial.mean())

    @property
    def loss_ablated(self) -> np.ndarray:
        """[L, H] the mean loss over trials with each head ablated (on top of `pairs_with`)."""
        return self.loss_ablated_per_trial.mean(axis=0)

    @property
    def per_trial(self) -> np.ndarray:
        """Effect per trial [T, L, H]: loss with the head ablated minus the base loss."""
        return self.loss_ablated_per_trial - self.loss_base_per_trial[:, None, None]

    @property
    def effect(self) -> np.ndarray:
        """[L, H] each head's mean effect on the loss (nats): loss with the head ablated minus without it. Positive:
        the head helps (removing it raises the loss); negative: removing it lowers the loss."""
        return mean_sem(self.per_trial)[0]

    @property
    def effect_sem(self) -> np.ndarray:
        """[L, H] the standard error of `effect` over the paired trials."""
        return mean_sem(self.per_trial)[1]

    def to_frame(self):
        """The tidy long format (`induction.frames`): every head's effect (score, nats) and its sem."""
        from induction.frames import effects_rows, frame

        return frame(effects_rows(self))

    def __repr__(self) -> str:
        l, h = np.unravel_index(int(np.argmax(np.abs(self.effect))), self.effect.shape)
        pair = f", with {head_name(*self.pairs_with)} ablated" if self.pairs_with else ""
        return (f"EffectsResult({self.config.model!r}, {self.config.setup}, {self.trials} trials, {self.mode}{pair}: "
                f"loss {self.loss_clean:.4f}, largest effect {head_name(int(l), int(h))} "
                f"{self.effect[l, h]:+.4f} ± {self.effect_sem[l, h]:.4f})")

    def to_json(self) -> dict:
        """The JSON `induction effects --json` writes (keys in docs/method.md's glossary)."""
        c = self.config
        return {"model": c.model, "setup": c.setup, "protocol": c.protocol, "segment": c.segment,
                "trials": self.trials, "seed": c.seed, "mode": self.mode, "device": c.device, "dtype": c.dtype,
                "pairs_with": None if self.pairs_with is None else head_name(*self.pairs_with),
                "layers": self.layers, "heads": self.heads, "loss_clean": self.loss_clean,
                "loss_base": self.loss_base, "effect": np.round(self.effect, 6).tolist(),
                "effect_sem": np.round(self.effect_sem, 6).tolist(), "path": self.path,
                "elapsed_s": round(self.elapsed_s, 4), "cached": self.cached, "kind": self.kind}


def _means(model: LoadedModel, batch: TrialBatch, pair: dict, mode: str, chunk: int) -> dict | None:
    """Mean mode: every head's mean output over the run's trials [H, S, D] per layer (pair ablated)."""
    if mode != "mean":
        return None
    import torch

    from induction.capture.interface import run_hidden

    def sums(ablate: dict, means: dict | None) -> dict:
        total: dict = {}
        for start in range(0, batch.trials, chunk):
            ids = torch.from_numpy(batch.slice(start, start + chunk).input_ids).to(model.device)
            for layer, s in run_hidden(model.encoder, ids, ablate=ablate, mode="mean", means=means,
                                       collect_means=True)[1].items():
                total[layer] = total.get(layer, 0) + s
        return {layer: s / batch.trials for layer, s in total.items()}

    clean = sums({}, None)  # a head's own ablation never changes its own output: the pair's mean is clean
    return sums(pair, clean) if pair else clean


def head_losses(model: LoadedModel, batch: TrialBatch, mode: AblationMode, pair: tuple[int, int] | None, *,
                progress: Progress | None = None) -> tuple[np.ndarray, str]:
    """Masked-token loss per trial with each head ablated (and `pair`): ([T, L, H], path)."""
    rows = batch_size(model, batch.input_ids.shape[1])
    pair_ablate = {pair[0]: (pair[1],)} if pair else {}
    means = _means(model, batch, pair_ablate, mode, rows)
    scorer = MaskedLoss(model, mode=mode, pair=pair_ablate, means=means)
    out = np.empty((batch.trials, model.layers, model.heads), dtype=np.float64)
    chunk = min(batch.trials, rows)
    group = max(1, rows // chunk)  # heads per forward, as rows of one batch
    steps, done = model.layers * -(-batch.trials // chunk), 0
    for start in range(0, batch.trials, chunk):
        part = batch.slice(start, start + chunk)
        scorer.start_chunk(part)
        for layer in range(model.layers):
            for first in range(0, model.heads, group):
                heads = list(range(first, min(first + group, model.heads)))
                out[start:start + part.trials, layer, heads] = scorer.losses(layer, heads).T
            done += 1
            if progress:
                progress(done, steps)
    return out, scorer.path


def _model_with_head(run: Run) -> LoadedModel:
    model = model_for(run)
    require_ablation(model, [(0, 0)])
    if not has_loss(model.kind, run.config.setup):
        raise ConfigError("the repeat setup masks nothing, so an encoder has no masked-token loss there for a head "
                          "to change; effects of an encoder need a setup with a [MASK] (standard, shuffled, triple)")
    if model.mlm is None:
        raise ConfigError(f"model {run.model!r} has no trained masked-LM head (its checkpoint is an encoder "
                          "only), so ablating a head cannot change a masked-token loss; effects need one")
    return model


def _chunk_losses(model: LoadedModel, batch: TrialBatch, mode: AblationMode, pair, progress=None
                  ) -> tuple[dict, dict]:
    losses, path = head_losses(model, batch, mode, pair, progress=progress)
    base = run_trials(model, batch, (pair,), mode)[1] if pair else np.zeros(0)
    return {"path": path}, {"loss_ablated": losses, "base": base}


def effects(config: MapConfig | Run, *, mode: AblationMode = "zero", pairs_with=None, until_sem: float | None = None,
            chunk: int = 10, progress: Progress | None = None, use_cache: bool = True,
            cache: ResultCache | None = None) -> EffectsResult:
    """Every head's effect on the masked-token loss (see the module docstring).

    `until_sem` (zero mode): run chunks of `chunk` trials until every head's standard error is below it,
    or `config.trials` (the cap) is reached; cached under the trial count it stopped at.
    """
    check_choice("ablation mode", mode, ABLATION_MODES)
    run = resolve_run(config, "effects")
    run.one_mask("the effect of a head")
    pair = None
    if pairs_with is not None:
        pair = run.check_head(*(parse_head(pairs_with) if isinstance(pairs_with, str) else pairs_with))
    if until_sem is not None:
        return _effects_until(run, mode, pair, until_sem, chunk, progress, use_cache, cache)

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model = _model_with_head(run)
        meta, arrays = _chunk_losses(model, make_trials(run, model), mode, pair, progress)
        return {**meta, "elapsed_s": time.perf_counter() - started}, arrays

    started = time.perf_counter()
    meta, arrays, cached = get_or_compute(effects_key(run, mode, pair), compute, use_cache=use_cache, cache=cache)
    return _result(run, mode, pair, meta, arrays, cached, time.perf_counter() - started, use_cache, cache)


def cached_effects(config: MapConfig | Run, *, mode: AblationMode = "zero", pairs_with=None,
                   cache: ResultCache | None = None) -> EffectsResult | None:
    """The effects if they are cached (the writable cache or the precomputed tier); None, never a computation."""
    run = resolve_run(config, "effects")
    run.one_mask("the effect of a head")
    pair = None if pairs_with is None else run.check_head(*pairs_with)
    hit = (cache or open_cache()).get(effects_key(run, mode, pair))
    if hit is None:
        return None
    return _result(run, mode, pair, *hit, True, 0.0, True, cache)


def _effects_until(run: Run, mode, pair, until_sem: float, chunk: int, progress, use_cache, cache) -> EffectsResult:
    if not until_sem > 0:
        raise ConfigError("until_sem must be a positive number")
    if mode == "mean":
        raise ConfigError("adaptive trials ([[until_sem=...]]) need zero ablation: a mean replacement depends on every "
                          "trial of the run, so it cannot grow chunk by chunk; give a fixed "
                          "number of [[trials=...]] instead")
    started = time.perf_counter()
    model = _model_with_head(run)
    parts: list[dict] = []
    clean: list[np.ndarray] = []  # the clean loss of each chunk, computed once with it
    done, cap = 0, run.config.trials
    while done < cap:
        count = min(max(chunk, 2), cap - done)
        batch = make_trials(run, model, start=done, count=count)
        meta, arrays = _chunk_losses(model, batch, mode, pair)
        parts.append(arrays)
        if not pair:
            clean.append(run_trials(model, batch, (), "zero")[1])
        done += count
        if progress:
            progress(done, cap)
        losses = np.concatenate([p["loss_ablated"] for p in parts])  # [done, L, H]
        base = np.concatenate([p["base"] for p in parts] if pair else clean)
        if float(mean_sem(losses - base[:, None, None])[1].max()) < until_sem:
            break
    final = run.with_trials(done)
    arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    meta = {**meta, "elapsed_s": time.perf_counter() - started}
    if use_cache:
        store = cache or open_cache()
        store.put(effects_key(final, mode, pair), meta, arrays)
        if clean:  # the final run's clean loss, as clean_loss would store it
            store.put(clean_loss_key(final), {"has_mlm": True}, {"loss": np.concatenate(clean)})
    return _result(final, mode, pair, meta, arrays, False, meta["elapsed_s"], use_cache, cache)


def _result(run: Run, mode, pair, meta: dict, arrays: dict, cached: bool, elapsed: float, use_cache, cache
            ) -> EffectsResult:
    clean = clean_loss(run, use_cache=use_cache, cache=cache)
    base = arrays["base"] if arrays["base"].size else clean
    return EffectsResult(config=run.config, mode=mode, pairs_with=pair, layers=run.info.layers,
                         heads=run.info.heads, loss_clean_per_trial=clean, loss_base_per_trial=base,
                         loss_ablated_per_trial=arrays["loss_ablated"],
                         path=str(meta["path"]), cached=cached, kind=run.info.kind,
                         elapsed_s=elapsed if cached else float(meta["elapsed_s"]))
