"""In-context learning score: Loss(short context) - Loss(long context), and the ICL curve.

A trial takes one document of at least `long` tokens (after the model's own
tokenisation, [CLS] included), masks one token and compares the masked LM's loss
with the first `short` tokens against the first `long` tokens as context.

Variants:
- `masked` (default, what the study describes): cross-entropy of the masked token.
  The same position is masked in both contexts, drawn from positions 1..short-1,
  so the only difference between the two losses is the extra context.
- `all-tokens` (what the study's code computed, giving 0.2555 for bert-base-uncased
  on Simple English Wikipedia): labels are the original ids everywhere, the loss is
  the mean over every position of the context, the mask included; the masked
  position is drawn from all positions of each context, separately.
- `next-token` (a causal model's, Olsson et al.'s in-context learning score): one forward pass over the first
  `long` tokens of a document; the next-token loss of the `long`-th token minus that of the `short`-th, averaged
  over documents, with their sign (negative when more context helps). The only variant a decoder runs, and its
  default; an encoder runs the first two (its default: `masked`).

One sign for every kind: `ICLResult.gain` (and `gain_per_trial`) is the loss saved by the longer context, positive
when context helps, whatever the variant's own convention (`mean`, `per_trial`: the variant's raw difference).

The ICL curve draws its documents and masked positions from its own generator, seeded by (seed, CURVE_STREAM): asking
for a curve never changes the headline score's trials.

Contexts must fit the model's positions; a model whose positions cannot hold `long` tokens is refused with lengths
that fit it (computed from its positions: `fitting_lengths`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from induction.cache import ResultCache, get_or_compute
from induction.config import (
    CAUSAL_ICL_VARIANTS,
    ENCODER_ICL_VARIANTS,
    ICL_VARIANTS,
    ConfigError,
    ICLVariant,
    InductionError,
    ModelLoadError,
    check_choice,
)
from induction.engine import Progress, shared_model
from induction.models.hub import hub_reachable
from induction.models.loading import LoadedModel, ModelInfo, describe, resolve_device
from induction.models.memory import model_name
from induction.runs import icl_key
from induction.scoring import mean_sem
from induction.training.series import trained_here
from induction.trials.corpus import HELD_OUT_RULE, PYTHON_DOCS, PYTHON_DOCS_HELD_OUT, offline_documents
from induction.trials.rrt import repeat_prefix

CURVE_LENGTHS = (25, 50, 100, 200, 300, 400, 500)
# Simple English Wikipedia: the study's script dataset (`wikipedia`, 20220301.simple) is no longer published;
# this is the nearest snapshot on the Hub. Documents are sampled, seeded, from the whole split.
WIKIPEDIA = ("wikimedia/wikipedia", "20231101.simple")
WIKIPEDIA_DOCUMENTS = 5000
MAX_UNKNOWN_SHARE = 0.5  # a corpus the tokenizer mostly cannot read is refused
SIGN = ("Loss(short) - Loss(long): positive when more context helps, as the study reports it; Olsson et al. "
        "report loss(token 500) - loss(token 50), the opposite sign")
NEXT_TOKEN_SIGN = ("loss(token long) - loss(token short), Olsson et al.'s definition and sign: negative when more "
                   "context helps (the study's masked-LM variants report the opposite sign)")
ENCODER_VARIANTS, CAUSAL_VARIANTS = ENCODER_ICL_VARIANTS, CAUSAL_ICL_VARIANTS
GAIN = "the loss saved by the longer context (nats): positive when context helps, for every kind and variant"
CURVE_STREAM = 0x6375727665  # b"curve": the curve's own generator, (seed, CURVE_STREAM), apart from the trials'


def definition(variant: str, short: int, long: int) -> str:
    """What a score of this variant is, in one line."""
    if variant == "next-token":
        return f"loss(token {long}) - loss(token {short})"
    return f"Loss({short}-token context) - Loss({long}-token context)"


def sign(variant: str) -> str:
    """The sign convention of a variant's raw score (`ICLResult.mean`)."""
    return NEXT_TOKEN_SIGN if variant == "next-token" else SIGN


def gain_factor(variant: str) -> int:
    """Raw score x this = the gain (positive when context helps): the next-token score has the opposite sign."""
    return -1 if variant == "next-token" else 1


@dataclass(frozen=True)
class ICLConfig:
    """What an ICL score depends on (but the weights): the model, the corpus, the variant, the contexts, the trials.

    model (required: no default reaches for the Hub or pairs a model with a corpus it cannot read): a known name, a
    hub id or a folder; offline, `trained-gpt` and `trained-bert` read python-docs-held-out (contexts of at most 64
    tokens, for example short=6, long=60), `toy` and `toy-gpt` only folders of .txt files in their own tokens.
    corpus: None takes python-docs, or its held-out part for a model `induction train` wrote (never its training
    text).
    variant: None takes the kind's own (masked for an encoder, next-token for a decoder). short, long: the two
    context lengths in tokens (the model's prefix included); both must fit its positions. curve: context lengths
    for the loss-vs-context curve, drawn apart from the headline trials. replace: sample documents with
    replacement when the corpus has fewer than `trials`.
    """

    model: str
    corpus: str | None = None  # None: python-docs, or for a model trained here its held-out part (never trained on)
    variant: ICLVariant | None = None  # None: the kind's own (masked for an encoder, next-token for a decoder)
    trials: int = 50
    seed: int = 0
    short: int = 50
    long: int = 500
    replace: bool = False  # sample documents with replacement when there are fewer than trials
    curve: tuple[int, ...] = ()  # context lengths for the ICL curve (masked-token loss)
    device: str = "auto"
    dtype: str = "auto"


@dataclass(repr=False)
class ICLResult:
    """An ICL score: `mean`/`per_trial` in the variant's own sign (`sign`), `gain` in one sign for every kind
    (positive when context helps), the curve (length -> (mean loss, sem)) and how many documents were read."""

    config: ICLConfig
    corpus_hash: str
    per_trial: np.ndarray  # [T] loss(short) - loss(long)
    skipped_documents: int
    eligible_documents: int
    curve: dict[int, tuple[float, float]] = field(default_factory=dict)  # length -> (mean, sem)
    documents: list[str] = field(default_factory=list)  # [T] the name of each trial's document
    elapsed_s: float = 0.0
    cached: bool = False

    @property
    def mean(self) -> float:
        """The variant's raw score, its mean over trials, in the variant's own sign (see `sign`)."""
        return float(self.per_trial.mean())

    @property
    def sem(self) -> float:
        """The standard error of `mean` (and of `gain`) over trials."""
        return float(mean_sem(self.per_trial)[1])

    @property
    def gain_per_trial(self) -> np.ndarray:
        """[T] the loss saved by the longer context in each trial: positive when context helps, for every kind."""
        return gain_factor(self.config.variant) * self.per_trial

    @property
    def gain(self) -> float:
        """The mean loss saved by the longer context (nats): positive when context helps, whatever the kind."""
        return float(self.gain_per_trial.mean())

    @property
    def definition(self) -> str:
        """What `mean` is, in one line (for example Loss(50-token context) - Loss(500-token context))."""
        return definition(self.config.variant, self.config.short, self.config.long)

    @property
    def sign(self) -> str:
        """The sign convention of `mean` (the variant's own; `gain` is positive when context helps)."""
        return sign(self.config.variant)

    def to_frame(self):
        """The tidy long format (`induction.frames`): the gain, the raw mean and the curve's losses, one row each."""
        from induction.frames import frame, icl_rows

        return frame(icl_rows(self))

    def __repr__(self) -> str:
        c = self.config
        return (f"ICLResult({c.model!r}, {c.variant}, {c.short}/{c.long} tokens, {len(self.per_trial)} trials: "
                f"gain {self.gain:+.4f} ± {self.sem:.4f} nats, mean {self.mean:+.4f})")

    def to_json(self) -> dict:
        """The JSON `induction icl --json` writes (keys in docs/method.md's glossary)."""
        c = self.config
        out = {"model": c.model, "corpus": c.corpus, "corpus_hash": self.corpus_hash, "variant": c.variant,
               "corpus_snapshot": "/".join(WIKIPEDIA) if c.corpus == "wikipedia-simple" else None,
               "trials": c.trials, "seed": c.seed, "device": c.device, "dtype": c.dtype,
               "short": c.short, "long": c.long, "mean": self.mean, "gain": self.gain,
               "sem": self.sem, "definition": self.definition, "sign": self.sign, "gain_definition": GAIN,
               "per_trial": [float(v) for v in self.per_trial],
               "skipped_documents": self.skipped_documents, "eligible_documents": self.eligible_documents,
               "held_out_rule": HELD_OUT_RULE if c.corpus == PYTHON_DOCS_HELD_OUT else None,
               "documents": self.documents}
        if self.curve:
            out["curve"] = {str(k): {"mean": m, "sem": s} for k, (m, s) in self.curve.items()}
        return out


def sample_documents(dataset, seed: int, count: int = WIKIPEDIA_DOCUMENTS) -> list[str]:
    """`count` documents drawn without replacement, seeded, from the whole split (in split order)."""
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(dataset), size=min(count, len(dataset)), replace=False))
    return [dataset[int(i)]["text"] for i in picks]


def load_corpus(corpus: str, seed: int = 0) -> list[str]:
    """Documents of a named corpus, a .txt file or a folder of .txt files."""
    return list(load_named_corpus(corpus, seed).values())


def load_named_corpus(corpus: str, seed: int = 0) -> dict[str, str]:
    """Documents of a named corpus, a .txt file or a folder of .txt files, by name (in the corpus's order)."""
    if corpus == "wikipedia-simple":
        if not hub_reachable():
            raise InductionError("the wikipedia-simple corpus downloads from the Hugging Face Hub, which is not "
                                 "reachable from here; python-docs works offline, or pass a folder of .txt files")
        try:
            from datasets import load_dataset
        except ImportError as exc:
            raise InductionError("the wikipedia-simple corpus needs `pip install datasets`; "
                                 "python-docs works offline") from exc
        try:
            docs = sample_documents(load_dataset(*WIKIPEDIA, split="train"), seed)
            return {f"wikipedia-simple:{i}": d for i, d in enumerate(docs)}
        except Exception as exc:
            raise InductionError(f"could not load Simple English Wikipedia ({exc}); python-docs works offline") from exc
    try:
        return offline_documents(corpus)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (or wikipedia-simple, with a network)") from exc


def corpus_hash(docs: list[str]) -> str:
    digest = hashlib.sha256()
    for d in docs:
        digest.update(hashlib.sha256(d.encode()).digest())
    return digest.hexdigest()[:16]


def eligible(model: LoadedModel, docs: list[str], length: int) -> tuple[list[np.ndarray], int]:
    """The prefix + the first word pieces of every document that has `length` tokens in all, as the study built
    its contexts (no closing [SEP]; a shorter context is a prefix of a longer one)."""
    _, kept, skipped = eligible_indexed(model, docs, length)
    return kept, skipped


def eligible_indexed(model: LoadedModel, docs: list[str], length: int) -> tuple[list[int], list[np.ndarray], int]:
    """`eligible`, with the index in `docs` of each kept document (so a trial can name its document)."""
    index, kept, skipped, pieces_seen, unknown = [], [], 0, 0, 0
    unk = model.tokenizer.unk_token_id
    prefix = repeat_prefix(model.vocab)  # [CLS], as the study built its contexts; a decoder's BOS
    need = length - len(prefix)
    for i, doc in enumerate(docs):
        pieces = model.tokenizer(doc, add_special_tokens=False, truncation=True, max_length=need)["input_ids"]
        pieces_seen += len(pieces)
        unknown += sum(p == unk for p in pieces) if unk is not None else 0
        if len(pieces) >= need:
            kept.append(np.asarray([*prefix, *pieces[:need]], dtype=np.int64))
            index.append(i)
        else:
            skipped += 1
    if pieces_seen and unknown / pieces_seen > MAX_UNKNOWN_SHARE:
        raise ConfigError(f"{unknown / pieces_seen:.0%} of the corpus's tokens are unknown to the tokenizer "
                          f"of {model.name!r}: it cannot read this corpus, and a score on [UNK] tokens means nothing")
    return index, kept, skipped


def _loss(model: LoadedModel, ids: np.ndarray, pos: int, variant: str) -> float:
    import torch

    x = torch.from_numpy(ids.copy()).unsqueeze(0).to(model.device)
    x[0, pos] = model.vocab.mask_id
    with torch.inference_mode():
        logits = model.mlm(input_ids=x).logits[0].float()  # [S, V]
    target = torch.from_numpy(ids).to(model.device)
    if variant == "masked":
        return float(torch.nn.functional.cross_entropy(logits[pos:pos + 1], target[pos:pos + 1]))
    return float(torch.nn.functional.cross_entropy(logits, target))


def _next_token_losses(model: LoadedModel, ids: np.ndarray) -> np.ndarray:
    """The next-token loss of every token of `ids` but the first: [S - 1], entry k the loss of token k + 1."""
    import torch

    x = torch.from_numpy(ids).unsqueeze(0).to(model.device)  # [1, S]
    with torch.inference_mode():
        logits = model.mlm(input_ids=x).logits[0, :-1].float()  # [S-1, V]
    return torch.nn.functional.cross_entropy(logits, x[0, 1:], reduction="none").double().cpu().numpy()


def check(config: ICLConfig, max_positions: int, kind: str = "encoder") -> None:
    check_choice("variant", config.variant, ICL_VARIANTS)
    allowed = CAUSAL_VARIANTS if kind == "causal" else ENCODER_VARIANTS
    if config.variant not in allowed:
        raise ConfigError(f"model {config.model!r} is a {kind} model: its ICL variants are {', '.join(allowed)}"
                          + (" (a decoder has no [MASK]; next-token is Olsson et al.'s score)" if kind == "causal"
                             else " (next-token is for decoder-only models)"))
    if not (isinstance(config.trials, int) and config.trials >= 1):
        raise ConfigError("trials must be a whole number of at least 1")
    lengths = (config.short, config.long, *config.curve)
    if min(lengths) < 3 or config.short >= config.long:
        raise ConfigError("context lengths must be at least 3 tokens and short < long")
    if max(lengths) > max_positions:
        short, long = fitting_lengths(max_positions)
        raise ConfigError(f"a {max(lengths)}-token context does not fit the {max_positions} positions of "
                          f"{config.model!r}: choose a long context (and curve lengths) of at most {max_positions} "
                          f"tokens, with the short one below it, for example [[short={short} long={long}]]")


def fitting_lengths(max_positions: int) -> tuple[int, int]:
    """(short, long) contexts a model of `max_positions` positions holds: the study's 50/500 where they fit, else
    the longest context that fits and a tenth of it (at least 3 tokens): what the fit error suggests."""
    long = min(500, max_positions)
    return min(50, max(3, long // 10)), long


def own_corpus(info: ModelInfo) -> str:
    """The corpus `corpus=None` reads: a model trained here read the training topics, so it is scored on the
    held-out ones; any other model on python-docs."""
    return PYTHON_DOCS_HELD_OUT if info.local and trained_here(info.source) else PYTHON_DOCS


def default_corpus(model: str) -> str:
    """`own_corpus` of a model by name (a series' checkpoint `trained-gpt@step_500`, a folder, a registry name):
    what the ICL page proposes; python-docs where the model cannot be described."""
    try:
        return own_corpus(describe(model_name(model)))
    except InductionError:
        return PYTHON_DOCS


def resolve_icl(config: ICLConfig) -> tuple[ICLConfig, ModelInfo]:
    """Check the config against the model and make its device and dtype concrete (once per call)."""
    info = describe(model_name(config.model))
    if config.corpus is None:
        config = dataclasses.replace(config, corpus=own_corpus(info))
    if config.variant is None:
        own = CAUSAL_VARIANTS if info.kind == "causal" else ENCODER_VARIANTS
        config = dataclasses.replace(config, variant=own[0])
    check(config, info.max_positions, info.kind)
    device, dtype = resolve_device(config.device, config.dtype, half_on_cuda=False)  # losses in float32
    return dataclasses.replace(config, device=device, dtype=dtype), info


def _enough(model: LoadedModel, docs: list[str], config: ICLConfig,
            length: int) -> tuple[list[int], list[np.ndarray], int]:
    """The documents of at least `length` tokens (with their indices in `docs`), or a clear error when there are
    fewer than the trials."""
    index, kept, skipped = eligible_indexed(model, docs, length)
    if not kept or (len(kept) < config.trials and not config.replace):
        raise ConfigError(f"the corpus {config.corpus!r} has {len(kept)} documents of at least {length} "
                          f"tokens for {config.model!r} ({skipped} shorter were skipped) but {config.trials} "
                          "trials were asked for: ask for fewer trials or sample with replacement")
    return index, kept, skipped


def _trial_score(model: LoadedModel, ids: np.ndarray, config: ICLConfig, rng: np.random.Generator) -> float:
    """One document's raw score in the variant's sign (masked positions drawn from `rng`, the trials' generator)."""
    if config.variant == "next-token":  # one pass: token n's loss is entry n - 2 (token 1 has none)
        losses = _next_token_losses(model, ids[:config.long])
        return float(losses[config.long - 2] - losses[config.short - 2])
    if config.variant == "masked":
        pos = int(rng.integers(1, config.short))
        return _loss(model, ids[:config.short], pos, "masked") - _loss(model, ids[:config.long], pos, "masked")
    p_short, p_long = int(rng.integers(0, config.short)), int(rng.integers(0, config.long))
    return (_loss(model, ids[:config.short], p_short, "all-tokens")
            - _loss(model, ids[:config.long], p_long, "all-tokens"))


def _curve(model: LoadedModel, docs: list[str], config: ICLConfig, progress: Progress | None) -> dict[int, list]:
    """The loss at each curve length (a decoder's: of token n; an encoder's: of one masked token inside the shortest
    context), on documents and positions drawn from the curve's own generator: the headline trials never move."""
    longest = max(config.curve)
    _, kept, _ = _enough(model, docs, config, longest)
    rng = np.random.default_rng([config.seed, CURVE_STREAM])
    picks = rng.choice(len(kept), size=config.trials, replace=len(kept) < config.trials)
    curve: dict[int, list] = {n: [] for n in config.curve}
    for t, d in enumerate(picks):
        ids = kept[d]
        if config.variant == "next-token":
            losses = _next_token_losses(model, ids[:longest])
            for n in config.curve:
                curve[n].append(losses[n - 2])
        else:
            pos = int(rng.integers(1, min(config.curve)))  # inside the shortest context
            for n in config.curve:
                curve[n].append(_loss(model, ids[:n], pos, "masked"))
        if progress:
            progress(config.trials + t + 1, 2 * config.trials)
    return curve


def icl_score(config: ICLConfig, *, progress: Progress | None = None, use_cache: bool = True,
              cache: ResultCache | None = None) -> ICLResult:
    """The in-context learning score of `config.model` on `config.corpus`: the loss with a short context minus
    the loss with a long one, per document, with its definition and sign recorded in the result (cached)."""
    config, info = resolve_icl(config)
    named = load_named_corpus(config.corpus, config.seed)
    docs, names = list(named.values()), list(named)
    chash = corpus_hash(docs)

    def compute() -> tuple[dict, dict]:
        started = time.perf_counter()
        model = shared_model(info, config.device, config.dtype)
        if model.mlm is None:
            what = "language-model" if model.kind == "causal" else "masked-LM"
            raise ModelLoadError(f"model {config.model!r} has no trained {what} head (its checkpoint is the base model "
                                 "only), so it cannot predict tokens; the ICL score needs one")
        index, kept, skipped = _enough(model, docs, config, config.long)
        rng = np.random.default_rng(config.seed)
        picks = rng.choice(len(kept), size=config.trials, replace=len(kept) < config.trials)
        scores = []
        for t, d in enumerate(picks):
            scores.append(_trial_score(model, kept[d], config, rng))
            if progress:
                progress(t + 1, config.trials + (config.trials if config.curve else 0))
        curve = _curve(model, docs, config, progress) if config.curve else {}
        arrays = {"per_trial": np.asarray(scores, dtype=np.float64)}
        arrays.update({f"curve_{n}": np.asarray(v) for n, v in curve.items()})
        return {"skipped": skipped, "eligible": len(kept), "elapsed_s": time.perf_counter() - started,
                "documents": [names[index[int(d)]] for d in picks]}, arrays

    meta, arrays, cached = get_or_compute(icl_key(config, info, chash), compute, use_cache=use_cache, cache=cache)
    curve = {}
    for n in config.curve:
        m, s = mean_sem(arrays[f"curve_{n}"])
        curve[n] = (float(m), float(s))
    return ICLResult(config=config, corpus_hash=chash, per_trial=arrays["per_trial"],
                     skipped_documents=int(meta["skipped"]), eligible_documents=int(meta["eligible"]),
                     curve=curve, elapsed_s=float(meta["elapsed_s"]), cached=cached,
                     documents=list(meta.get("documents", [])))
