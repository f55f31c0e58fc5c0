"""The natural-text map: `text_map` scores every occurrence of a text (see `text.py` for what an occurrence
is), `TextMap` holds the per-occurrence scores, `text_detail` one occurrence's attention for the page."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from .cache import ResultCache, get_or_compute, make_key
from .config import ConfigError
from .engine import Progress, capture
from .scoring import PerHeadScores
from .sequences import TrialBatch
from .text import TEXT_TARGETS, TextConfig, prepare, read_text, resolve_text


@dataclass
class TextMap(PerHeadScores):
    """Per-head scores on the occurrences of one text."""

    config: TextConfig
    source: str  # where the text came from
    text_hash: str
    layers: int
    heads: int
    per_trial: dict[str, np.ndarray]  # target -> [T, L, H]
    seq_lens: np.ndarray  # [T] tokens in each occurrence's window ([CLS] and [SEP] included)
    occurrences: list[dict]  # token, window, position, earlier, continuation
    capture_path: str = "interface"
    device: str = "cpu"
    dtype: str = "float32"
    elapsed_s: float = 0.0
    cached: bool = False
    _stats: dict = field(default_factory=dict, repr=False)

    @property
    def trials(self) -> int:
        return len(self.occurrences)

    @property
    def baseline(self) -> float:
        """Uniform attention averaged over the occurrences' windows."""
        return float(np.mean(1.0 / self.seq_lens))

    def check(self, target: str) -> None:
        if target not in TEXT_TARGETS:
            raise ConfigError(f"unknown target {target!r} for text; choose one of {', '.join(TEXT_TARGETS)}")

    def to_json(self) -> dict:
        return {"model": self.config.model, "source": self.source, "text_hash": self.text_hash,
                "min_distance": self.config.min_distance, "seed": self.config.seed, "layers": self.layers,
                "device": self.device, "dtype": self.dtype,
                "heads": self.heads, "occurrences": self.trials,
                "targets": {t: self.mean(t).round(6).tolist() for t in TEXT_TARGETS},
                "sem": {t: self.sem(t).round(6).tolist() for t in TEXT_TARGETS}, "baseline": self.baseline,
                "per_occurrence": self.occurrences, "capture_path": self.capture_path,
                "elapsed_s": round(self.elapsed_s, 4), "cached": self.cached}



def text_map(config: TextConfig, *, progress: Progress | None = None, use_cache: bool = True,
             cache: ResultCache | None = None) -> TextMap:
    """The natural-text induction map of one text (see the module docstring)."""
    info, device, dtype = resolve_text(config)
    text, source = read_text(config)
    text_hash = hashlib.sha256(text.encode()).hexdigest()[:16]

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model, batches, occurrences, _, _ = prepare(config, read=(text, source))  # read once, above
        scores: dict[str, list] = {t: [] for t in TEXT_TARGETS}
        lens, done = [], 0
        for batch in batches:
            rows = capture(model, batch)  # [T, L, H, S]
            t = np.arange(batch.trials)
            for target in TEXT_TARGETS:
                scores[target].append(rows[t, :, :, batch.target_index[target]])  # [T, L, H]
            lens += [batch.input_ids.shape[1]] * batch.trials
            done += batch.trials
            if progress:
                progress(done, len(occurrences))
        arrays = {f"score_{t}": np.concatenate(v).astype(np.float32) for t, v in scores.items()}
        arrays["seq_lens"] = np.asarray(lens, dtype=np.int64)
        meta = {"elapsed_s": time.perf_counter() - started, "occurrences": occurrences}
        return meta, arrays

    key = make_key("text", source=info.source, fingerprint=info.fingerprint, text=text_hash,
                   min_distance=config.min_distance, max_occurrences=config.max_occurrences, seed=config.seed,
                   device=device, dtype=dtype, capture=info.capture_path)
    started = time.perf_counter()
    meta, arrays, cached = get_or_compute(key, compute, use_cache=use_cache, cache=cache)
    return TextMap(config=config, source=source, text_hash=text_hash, layers=info.layers, heads=info.heads,
                   per_trial={t: arrays[f"score_{t}"] for t in TEXT_TARGETS}, seq_lens=arrays["seq_lens"],
                   occurrences=meta["occurrences"], capture_path=info.capture_path, device=device, dtype=dtype,
                   cached=cached,
                   elapsed_s=time.perf_counter() - started if cached else float(meta["elapsed_s"]))


def dump_text_trials(batches: list[TrialBatch]) -> list[dict]:
    """Per occurrence: the ids fed (mask in place), the mask position and each target position."""
    from .scoring import dump_trials

    return [trial for batch in batches for trial in dump_trials(batch)]


def text_detail(config: TextConfig, occurrence: int, layer: int, head: int):
    """One occurrence, one head: the masked window's tokens and that head's attention (a HeadDetail)."""
    import torch

    from .capture import run_pattern
    from .detail import HeadDetail
    from .fallback import run_pattern as run_fallback_pattern

    model, batches, occurrences, _, _ = prepare(config)
    if not 0 <= occurrence < len(occurrences):
        raise ConfigError(f"occurrence must be between 0 and {len(occurrences) - 1}")
    if not (0 <= layer < model.layers and 0 <= head < model.heads):
        raise ConfigError(f"{config.model!r} has layers 0..{model.layers - 1} and heads 0..{model.heads - 1}")
    flat = [(b, t) for b in batches for t in range(b.trials)]
    batch, t = flat[occurrence]
    one = batch.slice(t, t + 1)
    ids = torch.from_numpy(one.input_ids).to(model.device)
    read = run_fallback_pattern if model.capture_path == "fallback" else run_pattern
    pattern = read(model.encoder, ids, layer)[0, head].cpu().numpy()  # [S, S]
    tokens = model.tokenizer.convert_ids_to_tokens
    m = int(one.mask_index[0])
    return HeadDetail(layer=layer, head=head, trial=occurrence, tokens=tokens(one.input_ids[0].tolist()),
                      original_tokens=tokens(one.original_ids[0].tolist()), mask_index=m,
                      anchor_index=int(one.anchor_index[0]),
                      target_index={k: int(v[0]) for k, v in one.target_index.items()}, row=pattern[m].copy(),
                      pattern=pattern)


def window_tokens(config: TextConfig) -> list[list[str]]:
    """The tokens of each window as the model sees them ([CLS] and [SEP] included), for display."""
    from .engine import shared_model
    from .text import windows_of

    info, device, dtype = resolve_text(config)
    model = shared_model(info, device, dtype)
    vocab = model.vocab
    windows, _ = windows_of(model, read_text(config)[0])
    return [model.tokenizer.convert_ids_to_tokens([vocab.cls_id, *w, vocab.sep_id]) for w in windows]
