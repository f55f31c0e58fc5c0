"""Induction on your own text: the same heads, scored on natural text instead of repeated random tokens.

The text is tokenised with the model's own tokenizer (no special tokens), cut into windows that fit the
model's positions, and each window is fed as `[CLS]` + window + `[SEP]`. An *occurrence* is a token whose
id already appeared at least `min_distance` positions earlier in the same window; each occurrence is one
trial: that position alone is masked, in its own forward pass (batched). Targets, in window positions:
`earlier` (the nearest earlier occurrence at least `min_distance` back), `earlier_next` (the position after
it: what an induction head attends to) and `earlier_prev` (the position before it).

A causal (decoder-only) model has no [MASK] and sees only earlier tokens: each window is fed as (BOS +) window,
nothing is masked, and every occurrence is a query of the unmasked text. Its targets are those of the repeat
setup: `induction` (the token after the earlier occurrence: what an induction head attends to, as Olsson et al.
score it on natural text), `duplicate` (the earlier occurrence itself) and `previous_token`; the uniform
baseline is the mean of 1 / (p + 1) over the queries (a query at position p sees p + 1 positions).

Documented choices: special tokens are never occurrences; continuation word pieces (`##ing`) are
occurrences like any token and are flagged `continuation` in the JSON; an earlier occurrence in another
window does not count (windows do not overlap). The default `min_distance` is 4, so that the earlier
occurrence lies outside the immediate neighbourhood that previous- and next-token heads cover.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from induction.cache import ResultCache, get_or_compute
from induction.config import CapturePath, ConfigError, ModelKind, check_int
from induction.engine import Progress, capture, shared_model
from induction.models.loading import LoadedModel, describe, resolve_device
from induction.models.memory import model_name
from induction.runs import text_key
from induction.scoring import PerHeadScores
from induction.trials.corpus import offline_documents
from induction.trials.rrt import TrialBatch, repeat_prefix, repeat_suffix

TEXT_TARGETS = ("earlier", "earlier_next", "earlier_prev")  # an encoder's (the [MASK] is the query)
CAUSAL_TEXT_TARGETS = ("induction", "duplicate", "previous_token")  # a decoder's, as in the repeat setup
DEFAULT_MIN_DISTANCE = 4
MAX_TEXT_BYTES = 1_000_000  # a longer file is refused (deployed mode caps pasted text lower)
MAX_UNKNOWN_SHARE = 0.5
MAX_OCCURRENCES = 2000


@dataclass(frozen=True)
class TextConfig:
    """A natural-text map: the model, one source of text (`text`, a `file`, or a `corpus` with its `document`),
    how far back an earlier occurrence must be (`min_distance`), how many occurrences at most (sampled with `seed`),
    the device and dtype."""

    model: str = "toy"
    text: str | None = None
    file: str | None = None
    corpus: str | None = None
    document: str | None = None  # a document of the corpus by name; None: drawn with the seed
    min_distance: int = DEFAULT_MIN_DISTANCE
    max_occurrences: int = 200  # more occurrences are sampled down (seeded), in text order
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"


def corpus_documents(corpus: str) -> dict[str, str]:
    """Named documents of an offline corpus (see `induction.trials.corpus`)."""
    return offline_documents(corpus)


def read_text(config: TextConfig) -> tuple[str, str]:
    """(the text, where it came from). Exactly one of text, file and corpus."""
    given = [x for x in (config.text, config.file, config.corpus) if x is not None]
    if len(given) != 1:
        raise ConfigError("give exactly one of a text, a file or a corpus")
    if config.file is not None:
        path = Path(config.file)
        if not path.is_file():
            raise ConfigError(f"no file at {config.file!r}")
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise ConfigError(f"{config.file!r} is larger than {MAX_TEXT_BYTES // 1000} kB; give a shorter text")
        data = path.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = "\0"
        if "\0" in text:
            raise ConfigError(f"{config.file!r} is not a UTF-8 text file")
        return text, f"file {path.name}"
    if config.corpus is not None:
        docs = corpus_documents(config.corpus)
        if not docs:
            raise ConfigError(f"the corpus {config.corpus!r} has no documents")
        name = config.document or sorted(docs)[int(np.random.default_rng(config.seed).integers(len(docs)))]
        if name not in docs:
            raise ConfigError(f"the corpus {config.corpus!r} has no document {name!r}")
        return docs[name], f"{config.corpus}: {name}"
    if len(config.text.encode()) > MAX_TEXT_BYTES:
        raise ConfigError(f"the text is larger than {MAX_TEXT_BYTES // 1000} kB")
    return config.text, "text"


def find_occurrences(ids: list[int], *, min_distance: int, skip: set[int]) -> list[tuple[int, int]]:
    """(position, nearest earlier position at least `min_distance` back) for every repeated token not in `skip`."""
    seen: dict[int, list[int]] = {}
    out = []
    for i, token in enumerate(ids):
        if token in skip:
            continue
        earlier = [j for j in seen.get(token, ()) if i - j >= min_distance]
        if earlier:
            out.append((i, earlier[-1]))
        seen.setdefault(token, []).append(i)
    return out


def text_targets(kind: str) -> tuple[str, ...]:
    """The targets a text map of this kind of model has."""
    return CAUSAL_TEXT_TARGETS if kind == "causal" else TEXT_TARGETS


def windows_of(model: LoadedModel, text: str) -> tuple[list[list[int]], float]:
    """The text's word pieces in windows that fit the model's positions with its special tokens, and the share of
    unknown pieces."""
    tok = model.tokenizer
    pieces = tok(text, add_special_tokens=False)["input_ids"] if text.strip() else []
    if not pieces:
        raise ConfigError("the text is empty: there is nothing to tokenise")
    unknown = tok.unk_token_id
    share = float(np.mean([p == unknown for p in pieces])) if unknown is not None else 0.0
    width = model.max_positions - len(repeat_prefix(model.vocab)) - len(repeat_suffix(model.vocab))
    return [pieces[i:i + width] for i in range(0, len(pieces), width)], share


def _is_continuation(token: str) -> bool:
    return token.startswith("##")  # WordPiece; BPE and SentencePiece mark word starts instead


class Occurrences(list):
    """The occurrences scored, in text order; `found`: how many the text has (more when they were sampled down to
    the config's max_occurrences)."""

    def __init__(self, items=(), *, found: int = 0):
        super().__init__(items)
        self.found = found


def build_text_trials(model: LoadedModel, windows: list[list[int]], config: TextConfig
                      ) -> tuple[list[TrialBatch], list[dict]]:
    """One TrialBatch per window holding its occurrences (an encoder's masked one at a time; a decoder's read
    unmasked), and the occurrences in text order."""
    vocab = model.vocab
    causal = model.kind == "causal"
    skip = set(model.tokenizer.all_special_ids)
    prefix, suffix = repeat_prefix(model.vocab), repeat_suffix(model.vocab)
    found = []  # (window, position, earlier), positions in the window's ids (the prefix at 0)
    for w, chunk in enumerate(windows):
        ids = [*prefix, *chunk, *suffix]
        found += [(w, i, j) for i, j in find_occurrences(ids, min_distance=config.min_distance, skip=skip)]
    if not found:
        raise ConfigError(f"no token of the text repeats at least {config.min_distance} tokens after an earlier "
                          "occurrence in the same window: there is nothing to score")
    total = len(found)
    if len(found) > config.max_occurrences:
        keep = np.sort(np.random.default_rng(config.seed).choice(len(found), config.max_occurrences, replace=False))
        found = [found[k] for k in keep]
    batches, occurrences = [], Occurrences(found=total)
    tokens = model.tokenizer.convert_ids_to_tokens
    for w, chunk in enumerate(windows):
        mine = [(i, j) for ww, i, j in found if ww == w]
        if not mine:
            continue
        original = np.tile(np.asarray([*prefix, *chunk, *suffix], dtype=np.int64), (len(mine), 1))  # [T, S]
        mask = np.asarray([i for i, _ in mine], dtype=np.int64)  # [T] the query of each trial
        earlier = np.asarray([j for _, j in mine], dtype=np.int64)  # [T]
        if causal:  # nothing masked: the query reads the text as it is, and sees only what came before
            batches.append(TrialBatch(original.copy(), original, mask, earlier, {
                "induction": earlier + 1, "duplicate": earlier, "previous_token": mask - 1}))
        else:
            masked = original.copy()
            masked[np.arange(len(mine)), mask] = vocab.mask_id
            batches.append(TrialBatch(masked, original, mask, earlier, {
                "earlier": earlier, "earlier_next": earlier + 1, "earlier_prev": earlier - 1}))
        for i, j in mine:
            token = tokens(int(original[0, i]))
            occurrences.append({"token": token, "window": w, "position": i, "earlier": j,
                                "continuation": _is_continuation(token)})
    return batches, occurrences


def resolve_text(config: TextConfig):
    check_int("min_distance", config.min_distance, 2, 100_000)
    check_int("max_occurrences", config.max_occurrences, 1, MAX_OCCURRENCES)
    info = describe(model_name(config.model))
    device, dtype = resolve_device(config.device, config.dtype)
    return info, device, dtype


def prepare(config: TextConfig, read: tuple[str, str] | None = None
            ) -> tuple[LoadedModel, list[TrialBatch], list[dict], str, str]:
    """Read (unless `read` already holds (text, source)), check and tokenise the text; build its trials:
    (model, batches, occurrences, source, text)."""
    info, device, dtype = resolve_text(config)
    text, source = read or read_text(config)
    model = shared_model(info, device, dtype)
    windows, unknown = windows_of(model, text)
    if unknown > MAX_UNKNOWN_SHARE:
        raise ConfigError(f"{unknown:.0%} of the text's tokens are unknown to the tokenizer of "
                          f"{config.model!r}: it cannot read this text (try a model whose vocabulary covers it)")
    batches, occurrences = build_text_trials(model, windows, config)
    return model, batches, occurrences, source, text

@dataclass(repr=False)
class TextMap(PerHeadScores):
    """Per-head scores on the occurrences of one text."""

    config: TextConfig
    source: str  # where the text came from
    text_hash: str
    layers: int
    heads: int
    per_trial: dict[str, np.ndarray]  # target -> [T, L, H]
    seq_lens: np.ndarray  # [T] tokens each query sees: an encoder's whole window ([CLS] and [SEP] included), a
    # decoder's positions up to and including the query
    occurrences: list[dict]  # token, window, position, earlier, continuation
    capture_path: CapturePath = "interface"
    device: str = "cpu"
    dtype: str = "float32"
    elapsed_s: float = 0.0
    cached: bool = False
    kind: ModelKind = "encoder"  # causal: every occurrence a query of the unmasked text, the repeat setup's targets
    found: int = 0  # the occurrences the text has: more than `trials` when they were sampled down
    _stats: dict = field(default_factory=dict, repr=False)

    @property
    def trials(self) -> int:
        """Occurrences scored: each repeated token, a query of its own (the text map's trials)."""
        return len(self.occurrences)

    @property
    def targets(self) -> tuple[str, ...]:
        """The names of the targets a text map of this kind scores."""
        return text_targets(self.kind)

    def _describe_run(self) -> str:
        return f"{self.config.model!r}, {self.source}, "

    @property
    def baseline(self) -> float:
        """Uniform attention averaged over the occurrences (each over the positions its query sees)."""
        return float(np.mean(1.0 / self.seq_lens))

    def check(self, target: str) -> None:
        """Raise a ConfigError naming the text map's targets when `target` is not one of them."""
        if target not in self.targets:
            raise ConfigError(f"unknown target {target!r} for a text map of a {self.kind} model; choose one of "
                              f"{', '.join(self.targets)}")

    def to_json(self) -> dict:
        """The JSON `induction text --json` writes (keys in docs/method.md's glossary)."""
        return {"model": self.config.model, "source": self.source, "text_hash": self.text_hash,
                "min_distance": self.config.min_distance, "seed": self.config.seed, "layers": self.layers,
                "device": self.device, "dtype": self.dtype,
                "heads": self.heads, "occurrences": self.trials, "kind": self.kind,
                "targets": list(self.targets), "mean": {t: self.mean(t).round(6).tolist() for t in self.targets},
                "sem": {t: self.sem(t).round(6).tolist() for t in self.targets}, "baseline": self.baseline,
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
        scores: dict[str, list] = {t: [] for t in text_targets(model.kind)}
        lens, done = [], 0
        for batch in batches:
            rows = capture(model, batch)  # [T, L, H, S]
            t = np.arange(batch.trials)
            for target in scores:
                scores[target].append(rows[t, :, :, batch.target_index[target]])  # [T, L, H]
            seen = batch.mask_index + 1 if model.kind == "causal" else np.full(batch.trials, batch.input_ids.shape[1])
            lens += seen.tolist()
            done += batch.trials
            if progress:
                progress(done, len(occurrences))
        arrays = {f"score_{t}": np.concatenate(v).astype(np.float32) for t, v in scores.items()}
        arrays["seq_lens"] = np.asarray(lens, dtype=np.int64)
        meta = {"elapsed_s": time.perf_counter() - started, "occurrences": list(occurrences),
                "found": getattr(occurrences, "found", len(occurrences))}
        return meta, arrays

    key = text_key(config, info, text_hash, device, dtype)
    started = time.perf_counter()
    meta, arrays, cached = get_or_compute(key, compute, use_cache=use_cache, cache=cache)
    return TextMap(config=config, source=source, text_hash=text_hash, layers=info.layers, heads=info.heads,
                   per_trial={t: arrays[f"score_{t}"] for t in text_targets(info.kind)},
                   seq_lens=arrays["seq_lens"], occurrences=meta["occurrences"], capture_path=info.capture_path,
                   device=device, dtype=dtype, cached=cached, kind=info.kind,
                   found=int(meta.get("found", len(meta["occurrences"]))),
                   elapsed_s=time.perf_counter() - started if cached else float(meta["elapsed_s"]))


def dump_text_trials(batches: list[TrialBatch]) -> list[dict]:
    """Per occurrence: the ids fed (mask in place), the mask position and each target position."""
    from induction.scoring import dump_trials

    return [trial for batch in batches for trial in dump_trials(batch)]


def text_detail(config: TextConfig, occurrence: int, layer: int, head: int):
    """One occurrence, one head: the masked window's tokens and that head's attention (a HeadDetail)."""
    import torch

    from induction.analyses.head_detail import HeadDetail
    from induction.capture.eager import run_pattern as run_fallback_pattern
    from induction.capture.interface import run_pattern

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
    """The tokens of each window as the model sees them (an encoder's [CLS] and [SEP], a decoder's BOS where it
    has one: the positions the occurrences name), for display; an id the tokenizer cannot name shows as '?'."""
    from induction.engine import shared_model

    info, device, dtype = resolve_text(config)
    model = shared_model(info, device, dtype)
    prefix, suffix = repeat_prefix(model.vocab), repeat_suffix(model.vocab)
    windows, _ = windows_of(model, read_text(config)[0])
    return [[t if t is not None else "?" for t in model.tokenizer.convert_ids_to_tokens([*prefix, *w, *suffix])]
            for w in windows]
