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

import numpy as np

from induction.cache import ResultCache, get_or_compute
from induction.config import ABLATION_MODES, AblationMode, ConfigError, MapConfig, check_choice, head_name, parse_head
from induction.engine import Progress, batch_size, compute_map, for_chunks, make_trials, model_for, query_count
from induction.losses import has_loss, loss_rows, place_loss
from induction.models.loading import LoadedModel
from induction.runs import Run, ablation_key, clean_loss_key, resolve_run
from induction.scoring import InductionMap, gather_targets, mean_sem
from induction.trials.rrt import TrialBatch

Heads = tuple[tuple[int, int], ...]


@dataclass(repr=False)
class AblationResult:
    """A map recomputed with `ablated_heads` removed, on the clean map's own trials: the ablated scores (NaN at the
    ablated heads), their change from `clean` (rising heads are backup candidates) and the loss with and without
    (the mean over trials: masked-token for an encoder, next-token on the second copy for a decoder; None where
    there is none), with the standard error of the loss change paired over the same trials."""

    clean: InductionMap
    ablated_heads: Heads  # (layer, head) pairs removed; `heads`, as everywhere, is the number of heads a layer
    mode: AblationMode
    per_trial: dict[str, np.ndarray]  # target -> [T, L, H] with the heads ablated
    loss_clean: float | None  # the mean loss over trials, nothing ablated; None without an LM head
    loss_ablated: float | None  # the mean loss over trials with the heads ablated
    loss_change_sem: float | None = None  # standard error of loss_ablated - loss_clean, paired over the trials
    cached: bool = False
    _means: dict = field(default_factory=dict, repr=False)

    @property
    def heads(self) -> int:
        """Heads per layer (as on every result); the ablated ones are `ablated_heads`."""
        return self.clean.heads

    @property
    def layers(self) -> int:
        """Layers of the model."""
        return self.clean.layers

    @property
    def loss_change(self) -> float | None:
        """loss_ablated - loss_clean (nats): positive when removing the heads hurts."""
        return None if self.loss_clean is None or self.loss_ablated is None else self.loss_ablated - self.loss_clean

    def __repr__(self) -> str:
        heads = ", ".join(head_name(l, h) for l, h in self.ablated_heads)
        sem = "" if self.loss_change_sem is None else f" ± {self.loss_change_sem:.4f}"
        loss = "" if self.loss_change is None else (f", loss {self.loss_clean:.4f} -> {self.loss_ablated:.4f} "
                                                    f"({self.loss_change:+.4f}{sem})")
        return f"AblationResult({self.clean.config.model!r}, ablated [{heads}] ({self.mode}){loss})"

    def to_frame(self):
        """The tidy long format (`induction.frames`): each target's ablated score and its change per head, and the
        loss change (a row without a head)."""
        from induction.frames import ablation_rows, frame

        return frame(ablation_rows(self))

    def ablated(self, target: str) -> np.ndarray:
        """[L, H] the mean score over trials with the heads ablated (NaN at the ablated heads: they have none)."""
        if target not in self._means:
            mean = self.per_trial[target].mean(axis=0)
            for l, h in self.ablated_heads:
                mean[l, h] = np.nan
            self._means[target] = mean
        return self._means[target]

    def diff(self, target: str) -> np.ndarray:
        """Ablated minus clean; rising heads are backup candidates."""
        return self.ablated(target) - self.clean.mean(target)

    def diff_sem(self, target: str) -> np.ndarray:
        """Standard error of each head's change over the paired trials (same trials with and without)."""
        return np.nan_to_num(mean_sem(self.per_trial[target] - self.clean.per_trial[target])[1])

    def to_json(self) -> dict:
        """The JSON `induction ablate --json` writes (keys in docs/method.md's glossary)."""
        def grid(a: np.ndarray) -> list:
            return [[None if not np.isfinite(v) else round(float(v), 6) for v in row] for row in a]

        targets = self.clean.targets
        c = self.clean.config
        return {"model": c.model, "setup": c.setup, "segment": c.segment, "trials": self.clean.trials,
                "seed": c.seed, "layers": self.layers, "heads": self.heads, "targets": list(targets),
                "ablated_heads": [head_name(l, h) for l, h in self.ablated_heads], "mode": self.mode,
                "device": c.device, "dtype": c.dtype, "loss_change": self.loss_change,
                "loss_change_sem": self.loss_change_sem,
                "clean": {t: grid(self.clean.mean(t)) for t in targets},
                "ablated": {t: grid(self.ablated(t)) for t in targets},
                "diff": {t: grid(self.diff(t)) for t in targets},
                "loss_clean": self.loss_clean, "loss_ablated": self.loss_ablated}


def check_heads(heads, run: Run) -> Heads:
    """Accept 'L9H9' strings or (layer, head) pairs, or one head alone ('L1H0', 'L1H0,L1H1' or (1, 0)): a string is
    never read letter by letter; refuse heads the model does not have."""
    if isinstance(heads, str):
        heads = [h for h in heads.split(",") if h.strip()]
    elif isinstance(heads, tuple) and len(heads) == 2 and all(isinstance(x, int | np.integer) for x in heads):
        heads = [heads]
    out = []
    for item in heads:
        out.append(run.check_head(*(parse_head(item) if isinstance(item, str) else (int(item[0]), int(item[1])))))
    if not out:
        raise ConfigError("name at least one head to ablate, for example L1H0")
    return tuple(dict.fromkeys(out))


def _by_layer(heads: Heads) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for l, h in heads:
        out.setdefault(l, []).append(h)
    return {l: tuple(hs) for l, hs in out.items()}


def require_ablation(model: LoadedModel, heads) -> None:
    if heads and model.ablation_note:
        raise ConfigError(f"model {model.name!r} cannot have heads ablated: {model.ablation_note}")


def run_trials(model: LoadedModel, batch: TrialBatch, heads: Heads, mode: AblationMode, *,
               progress: Progress | None = None, loss: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Full forwards with `heads` ablated: ([MASK] rows [T, L, H, S] (the repeat setup: [T, L, H, Q, S]),
    loss per trial [T] or None). The loss is the masked-token loss, or a causal model's next-token loss on
    the second copy (`kinds.loss_rows`); None without an LM head or when `loss` is False.

    Mean ablation runs the whole run as one chunk, so the mean is over all its trials.
    """
    import torch

    from induction.capture.interface import run_ablated

    require_ablation(model, heads)
    net = model.mlm if model.mlm is not None else model.encoder

    def step(part: TrialBatch) -> tuple[np.ndarray, np.ndarray | None]:
        ids = torch.from_numpy(part.input_ids).to(model.device)
        q = torch.from_numpy(part.mask_index).to(model.device)
        out, rows = run_ablated(net, ablate=_by_layer(heads), mode=mode, query_index=q, input_ids=ids,
                                attentions=model.capture_path == "fallback")
        if model.mlm is None or not loss:
            return rows.float().cpu().numpy(), None
        positions, targets = (torch.from_numpy(a).to(model.device) for a in loss_rows(part, model.kind))  # [B, P]
        logits = out.logits[torch.arange(part.trials, device=model.device)[:, None], positions].float()  # [B, P, V]
        return rows.float().cpu().numpy(), place_loss(logits, targets).cpu().numpy()  # [B]

    chunk = batch.trials if mode == "mean" else batch_size(model, batch.input_ids.shape[1], query_count(batch))
    parts = for_chunks(batch, chunk, step, progress=progress)
    losses = [loss for _, loss in parts if loss is not None]
    return np.concatenate([rows for rows, _ in parts]), (np.concatenate(losses) if losses else None)


def ablate(config: MapConfig | Run, heads, *, mode: AblationMode = "zero", progress: Progress | None = None,
           use_cache: bool = True, cache: ResultCache | None = None) -> AblationResult:
    """The map of `config` with `heads` ablated, on the same trials as the clean map."""
    check_choice("ablation mode", mode, ABLATION_MODES)
    run = resolve_run(config, "ablate")
    run.one_mask("ablation")
    heads = check_heads(heads, run)
    clean = compute_map(run, use_cache=use_cache, cache=cache)

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model = model_for(run)
        batch = make_trials(run, model)
        rows, loss_ablated = run_trials(model, batch, heads, mode, progress=progress,
                                        loss=has_loss(model.kind, run.config.setup))
        arrays = {f"score_{t}": v.astype(np.float32) for t, v in gather_targets(rows, batch, run.config.setup).items()}
        if loss_ablated is not None:
            arrays["loss_ablated"] = loss_ablated
        return {"elapsed_s": time.perf_counter() - started}, arrays

    _, arrays, cached = get_or_compute(ablation_key(run, heads, mode), compute, use_cache=use_cache, cache=cache)
    lc = clean_loss(run, use_cache=use_cache, cache=cache)
    per_trial = {t: arrays[f"score_{t}"] for t in run.config.targets()}
    la = arrays.get("loss_ablated")
    both = lc is not None and la is not None
    return AblationResult(clean=clean, ablated_heads=heads, mode=mode, per_trial=per_trial,
                          loss_clean=None if lc is None else float(lc.mean()),
                          loss_ablated=None if la is None else float(la.mean()),
                          loss_change_sem=float(mean_sem(la - lc)[1]) if both else None, cached=cached)


def clean_loss(run: Run, *, use_cache: bool = True, cache: ResultCache | None = None) -> np.ndarray | None:
    """Masked-token loss per trial with nothing ablated [T]: computed once per run, shared by every ablation."""

    def compute() -> tuple[dict, dict]:
        model = model_for(run)
        loss = run_trials(model, make_trials(run, model), (), "zero", loss=has_loss(model.kind, run.config.setup))[1] \
            if model.mlm is not None else None
        return {"has_mlm": loss is not None}, {"loss": np.zeros(0) if loss is None else loss}

    loss = get_or_compute(clean_loss_key(run), compute, use_cache=use_cache, cache=cache)[1]["loss"]
    return loss if loss.size else None


def top_heads(result: InductionMap, target: str, k: int) -> Heads:
    """The k best heads of a map at `target`, as (layer, head) pairs."""
    return tuple((h.layer, h.head) for h in result.top_heads(target, k))


def cumulative_ablation(config: MapConfig | Run, target: str, k: int, *, mode: AblationMode = "zero",
          progress: Progress | None = None, use_cache: bool = True, cache: ResultCache | None = None) -> list[dict]:
    """Ablate the top 1, 2, ..., k heads of the clean map cumulatively."""
    run = resolve_run(config, "ablate")
    clean = compute_map(run, use_cache=use_cache, cache=cache)
    order = top_heads(clean, target, k)
    rows = []
    for i in range(1, len(order) + 1):
        res = ablate(run, order[:i], mode=mode, use_cache=use_cache, cache=cache)
        remaining = res.ablated(target)
        best = np.nanargmax(remaining)
        l, h = np.unravel_index(best, remaining.shape)
        rows.append({"k": i, "ablated": [head_name(*x) for x in order[:i]], "loss": res.loss_ablated,
                     "loss_clean": res.loss_clean, "best_remaining": head_name(int(l), int(h)),
                     "best_remaining_score": float(remaining[l, h])})
        if progress:
            progress(i, len(order))
    return rows
