"""Induction on your own text: the same heads, scored on natural text instead of repeated random tokens.

The text is tokenised with the model's own tokenizer (no special tokens), cut into windows that fit the
model's positions, and each window is fed as `[CLS]` + window + `[SEP]`. An *occurrence* is a token whose
id already appeared at least `min_distance` positions earlier in the same window; each occurrence is one
trial: that position alone is masked, in its own forward pass (batched). Targets, in window positions:
`earlier` (the nearest earlier occurrence at least `min_distance` back), `earlier_next` (the position after
it: what an induction head attends to) and `earlier_prev` (the position before it).

Documented choices: special tokens are never occurrences; continuation word pieces (`##ing`) are
occurrences like any token and are flagged `continuation` in the JSON; an earlier occurrence in another
window does not count (windows do not overlap). The default `min_distance` is 4, so that the earlier
occurrence lies outside the immediate neighbourhood that previous- and next-token heads cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import ConfigError, check_int
from .engine import shared_model
from .models import LoadedModel, describe, resolve_device
from .sequences import TrialBatch

TEXT_TARGETS = ("earlier", "earlier_next", "earlier_prev")
DEFAULT_MIN_DISTANCE = 4
MAX_TEXT_BYTES = 1_000_000  # a longer file is refused (deployed mode caps pasted text lower)
MAX_UNKNOWN_SHARE = 0.5
MAX_OCCURRENCES = 2000


@dataclass(frozen=True)
class TextConfig:
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
    """Named documents of an offline corpus: python-docs (its topics) or a folder of .txt files."""
    if corpus == "python-docs":
        from pydoc_data.topics import topics

        return dict(sorted(topics.items()))
    folder = Path(corpus)
    if folder.is_dir():
        return {p.name: p.read_text(errors="replace") for p in sorted(folder.glob("*.txt"))}
    raise ConfigError(f"unknown corpus {corpus!r}: use python-docs or a folder of .txt files")


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


def windows_of(model: LoadedModel, text: str) -> tuple[list[list[int]], float]:
    """The text's word pieces in windows of at most max_positions - 2, and the share of unknown pieces."""
    tok = model.tokenizer
    pieces = tok(text, add_special_tokens=False)["input_ids"] if text.strip() else []
    if not pieces:
        raise ConfigError("the text is empty: there is nothing to tokenise")
    unknown = tok.unk_token_id
    share = float(np.mean([p == unknown for p in pieces])) if unknown is not None else 0.0
    width = model.max_positions - 2
    return [pieces[i:i + width] for i in range(0, len(pieces), width)], share


def _is_continuation(token: str) -> bool:
    return token.startswith("##")  # WordPiece; BPE and SentencePiece mark word starts instead


def build_text_trials(model: LoadedModel, windows: list[list[int]], config: TextConfig
                      ) -> tuple[list[TrialBatch], list[dict]]:
    """One TrialBatch per window holding its occurrences (one mask each), and the occurrences in text order."""
    vocab = model.vocab
    skip = set(model.tokenizer.all_special_ids)
    found = []  # (window, position, earlier), positions in the window's ids ([CLS] at 0)
    for w, chunk in enumerate(windows):
        ids = [vocab.cls_id, *chunk, vocab.sep_id]
        found += [(w, i, j) for i, j in find_occurrences(ids, min_distance=config.min_distance, skip=skip)]
    if not found:
        raise ConfigError(f"no token of the text repeats at least {config.min_distance} tokens after an earlier "
                          "occurrence in the same window: there is nothing to score")
    if len(found) > config.max_occurrences:
        keep = np.sort(np.random.default_rng(config.seed).choice(len(found), config.max_occurrences, replace=False))
        found = [found[k] for k in keep]
    batches, occurrences = [], []
    tokens = model.tokenizer.convert_ids_to_tokens
    for w, chunk in enumerate(windows):
        mine = [(i, j) for ww, i, j in found if ww == w]
        if not mine:
            continue
        original = np.tile(np.asarray([vocab.cls_id, *chunk, vocab.sep_id], dtype=np.int64), (len(mine), 1))
        mask = np.asarray([i for i, _ in mine], dtype=np.int64)
        earlier = np.asarray([j for _, j in mine], dtype=np.int64)
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
    info = describe(config.model)
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
        raise ConfigError(f"{unknown:.0%} of the text's tokens are unknown to {config.model!r}'s tokenizer: "
                          "it cannot read this text (try a model whose vocabulary covers it)")
    batches, occurrences = build_text_trials(model, windows, config)
    return model, batches, occurrences, source, text
