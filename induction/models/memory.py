"""In-memory models: a Hugging Face model a notebook holds (fine-tuned, edited, pruned), named by a handle.

Why a handle: every run, cache key and result names its model by a string (`MapConfig.model`, a frame's `model`
column, a pickled config). `from_model(model, tokenizer)` registers the caller's model under a handle such as
``memory:BertForMaskedLM#1`` (the same object always gets the same handle); `resolve_run` pins it to the weights'
fingerprint (``memory:BertForMaskedLM#1@3fa2...``), so a result's config names exactly the weights it was computed
on, and reusing it after the model was edited is refused instead of mixing two models.

The fingerprint is a hash of the state dict (every tensor's name, dtype, shape and bytes), the config (less the
fields that change no number, such as the attention implementation) and the token ids the trials are drawn from:
an edited model never reads a stale map, and an unchanged one (or an identical copy) hits the cache.

The caller's model is only read (its state dict and config): computations run on a private copy built from its
config with the capture attention, on the run's device and dtype, in eval mode, without the caller's hooks.
TransformerLens and nnsight wrappers are unwrapped to the Hugging Face model they hold (`unwrap`), or refused in
one line saying what to pass instead; neither package is imported here.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from induction.config import ConfigError, ModelLoadError
from induction.trials.rrt import VocabSpec

PREFIX = "memory:"
_LOCK = threading.RLock()  # re-entrant: a finalizer (_forget) may run during a collection inside the lock
_COUNTER = itertools.count(1)
# config fields that change no number a run computes (how attention is implemented, what is returned, provenance)
_NOT_NUMBERS = {"architectures", "dtype", "torch_dtype", "transformers_version", "name_or_path", "use_cache",
                "output_attentions", "output_hidden_states", "return_dict", "attn_implementation"}


@dataclass
class _Entry:
    model: weakref.ref  # the caller's model (a weak reference: registering never keeps a model alive)
    tokenizer: object | None
    handle: str


_ENTRIES: dict[str, _Entry] = {}
_BY_ID: dict[int, str] = {}


def is_memory(name: object) -> bool:
    """Whether `name` is an in-memory model's handle."""
    return isinstance(name, str) and name.startswith(PREFIX)


def _module_of(obj: object) -> str:
    return type(obj).__module__ or ""


def unwrap(obj: object) -> tuple[object, object | None]:
    """(the Hugging Face model, the wrapper's tokenizer or None) that `obj` stands for: a TransformerLens
    TransformerBridge or an nnsight LanguageModel holds one; a HookedTransformer/HookedEncoder (converted weights)
    and a PEFT model (an unmerged adapter) are refused in one line saying what to pass instead. Detected by class
    and module name, so neither package needs to be installed."""
    module, cls = _module_of(obj), type(obj).__name__
    if module.startswith("transformer_lens"):
        inner = getattr(obj, "original_model", None)
        if inner is not None and _is_hf_model(inner):  # TransformerBridge: the Hugging Face model it wraps
            return inner, getattr(obj, "tokenizer", None)
        raise ConfigError(f"a TransformerLens {cls} holds converted weights, not a Hugging Face model: pass the "
                          "Hugging Face model it was made from (for example "
                          "AutoModelForCausalLM.from_pretrained(...), with its tokenizer), or a TransformerBridge "
                          "(TransformerBridge.boot_transformers(...))")
    if module.startswith("nnsight"):
        held = getattr(obj, "__dict__", {})  # read directly: an Envoy's attributes proxy the modules it wraps
        inner = next((held[k] for k in ("_module", "_model") if held.get(k) is not None), None)  # 0.4+, earlier
        if inner is None or not _is_hf_model(inner):
            raise ConfigError(f"this nnsight {cls} holds no Hugging Face model: pass the Hugging Face model itself "
                              "(AutoModelForCausalLM.from_pretrained(...)) with its tokenizer")
        if any(getattr(p, "is_meta", False) for p in inner.parameters()):
            raise ConfigError(f"this nnsight {cls} has not loaded its weights yet (they are on the meta device): "
                              "create it with LanguageModel(..., dispatch=True), or pass the Hugging Face model")
        if held.get("peft") is not None:
            raise ConfigError(f"this nnsight {cls} computes through a PEFT adapter: merge it first and pass the "
                              "result, model.merge_and_unload()")
        return inner, held.get("tokenizer")
    if module.startswith("peft"):
        raise ConfigError(f"a PEFT {cls} computes through its adapter: merge it first and pass the result, "
                          "model.merge_and_unload()")
    return obj, None


def _is_hf_model(obj: object) -> bool:
    config = getattr(obj, "config", None)
    return (getattr(config, "model_type", None) is not None and callable(getattr(obj, "state_dict", None))
            and callable(getattr(obj, "parameters", None)))


def from_model(model: object, tokenizer: object | None = None) -> str:
    """Name a Hugging Face model held in memory (and its tokenizer) so every entry point takes it.

    `MapConfig(model=model)` does this itself; call it to give the tokenizer, which an encoder always needs (its
    config names no [MASK] id) and a decoder needs where its ids are not all ordinary tokens:
    `MapConfig(model=induction.from_model(model, tokenizer), ...)`. A TransformerLens TransformerBridge or an
    nnsight LanguageModel may be passed in place of the model (their Hugging Face model and tokenizer are used).
    The same object always gets the same handle; a later call with a tokenizer replaces the one registered.
    The caller's model is only read, never moved, cast or changed.
    """
    inner, wrapped_tokenizer = unwrap(model)
    if not _is_hf_model(inner):
        raise ConfigError(f"model must be a name, a Hugging Face id, a folder or a loaded Hugging Face model "
                          f"(transformers' PreTrainedModel); got {type(model).__name__}")
    tokenizer = tokenizer if tokenizer is not None else wrapped_tokenizer
    with _LOCK:
        handle = _BY_ID.get(id(inner))
        entry = _ENTRIES.get(handle) if handle else None
        if entry is not None and entry.model() is inner:
            if tokenizer is not None:
                entry.tokenizer = tokenizer
            return handle
        handle = f"{PREFIX}{type(inner).__name__}#{next(_COUNTER)}"
        _ENTRIES[handle] = _Entry(model=weakref.ref(inner), tokenizer=tokenizer, handle=handle)
        _BY_ID[id(inner)] = handle
        weakref.finalize(inner, _forget, handle, id(inner))
    return handle


def _forget(handle: str, key: int) -> None:
    with _LOCK:
        _ENTRIES.pop(handle, None)
        if _BY_ID.get(key) == handle:
            _BY_ID.pop(key, None)


def model_name(model: object) -> str:
    """A name as it is (a path as its string); a model object (or a wrapper of one) registered and named by its
    handle."""
    if isinstance(model, str):
        return model
    if isinstance(model, os.PathLike):
        return os.fspath(model)
    return from_model(model)


def lookup(name: str) -> tuple[object, object | None, str | None]:
    """(the live model, its tokenizer, the pinned fingerprint or None) of a handle, or a one-line error when the
    model is gone."""
    handle, _, pinned = name.partition("@")
    entry = _ENTRIES.get(handle)
    model = entry.model() if entry is not None else None
    if model is None:
        raise ModelLoadError(f"the in-memory model {handle!r} no longer exists in this process: pass the model "
                             "again, MapConfig(model=model, ...)")
    return model, entry.tokenizer, pinned or None


def state_fingerprint(state: dict, config, vocab: VocabSpec) -> str:
    """A hash of a state dict's tensors (name, dtype, shape, bytes), the config's numbers and the trials' ids."""
    import torch

    digest = hashlib.sha256()
    digest.update(config_json(config).encode())
    digest.update(repr((vocab.cls_id, vocab.sep_id, vocab.mask_id, vocab.vocab_size, vocab.causal,
                        vocab.bos_id)).encode())
    digest.update(np.ascontiguousarray(vocab.clean_ids, dtype=np.int64).tobytes())
    for key, tensor in sorted(state.items()):
        t = tensor.detach()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.numel():
            digest.update(t.reshape(-1).contiguous().view(torch.uint8).cpu().numpy().data)
    return "mem:" + digest.hexdigest()[:16]


def plain_state(model) -> dict:
    """The model's state dict under its class's own names. A TransformerBridge replaces the modules of the model it
    holds by components that keep the original as `_original_component` and add aliases (`ln1`, `attn.q`): each
    name is read back through the originals, and the aliases, which the class has not, are left out."""
    state = model.state_dict()
    if not any(_WRAPPED in key for key in state):
        return state
    out: dict = {}
    for key in state:
        name = key.replace(f".{_WRAPPED}", "").replace(f"{_WRAPPED}.", "")
        if name not in out and (tensor := _original(model, name)) is not None:
            out[name] = tensor.detach()
    layout = _class_layout(model)
    for name in [k for k in out if k not in layout]:  # what the wrapper added (the unembedding's zero bias)
        if out[name].count_nonzero():
            raise ModelLoadError(f"the wrapped {type(model).__name__} has a tensor its class has not ({name}): pass "
                                 "the Hugging Face model before it was wrapped")
        del out[name]
    return out


def _class_layout(model) -> set[str]:
    """The state dict names of the model's class, built on the meta device (no memory, no initialisation)."""
    import copy

    import torch

    with torch.device("meta"):
        return set(type(model)._from_config(copy.deepcopy(model.config)).state_dict())


def _original(model, name: str):
    """The tensor `name` of the model as its class lays it out, or None for a name the class has not."""
    obj = model
    for part in name.split("."):
        while _WRAPPED in getattr(obj, "_modules", {}):
            obj = obj._modules[_WRAPPED]
        found = [where[part] for where in (getattr(obj, "_modules", {}), getattr(obj, "_parameters", {}),
                                           getattr(obj, "_buffers", {})) if where.get(part) is not None]
        if not found:
            return None
        obj = found[0]
    return obj if hasattr(obj, "dtype") else None


_WRAPPED = "_original_component"


def config_json(config) -> str:
    """The config's fields that change numbers, as sorted JSON."""
    fields = {k: v for k, v in config.to_dict().items() if not k.startswith("_") and k not in _NOT_NUMBERS}
    return json.dumps(fields, sort_keys=True, default=str)


class IdTokenizer:
    """A stand-in tokenizer for a decoder registered without one: tokens are shown as their ids; reading text
    (text maps, ICL, whole words) says to pass the real tokenizer."""

    def __init__(self, config) -> None:
        ids = (getattr(config, name, None) for name in ("bos_token_id", "eos_token_id", "pad_token_id"))
        self.all_special_ids = sorted({int(i) for i in ids if isinstance(i, int)})
        self.unk_token_id = None
        self.bos_token_id = getattr(config, "bos_token_id", None)

    def convert_ids_to_tokens(self, ids):
        return f"<{ids}>" if isinstance(ids, int) else [f"<{i}>" for i in ids]

    def __call__(self, *args, **kwargs):
        raise ConfigError("reading text needs the model's tokenizer: pass it, "
                          "MapConfig(model=induction.from_model(model, tokenizer), ...)")

    def get_vocab(self):
        raise ConfigError("reading words needs the model's tokenizer: pass it, induction.from_model(model, tokenizer)")


def config_vocab(name: str, config, kind: str) -> VocabSpec:
    """The trials' ids of a model registered without a tokenizer: for a decoder every id but the specials its
    config names; an encoder is refused (its config names no [MASK])."""
    if kind != "causal":
        raise ModelLoadError(f"the in-memory encoder {name.partition('@')[0]!r} needs its tokenizer (its config names "
                             "no [MASK] id): pass MapConfig(model=induction.from_model(model, tokenizer), ...)")
    stand_in = IdTokenizer(config)
    size = int(config.vocab_size)
    clean = np.setdiff1d(np.arange(size, dtype=np.int64), np.asarray(stand_in.all_special_ids, dtype=np.int64))
    return VocabSpec(cls_id=101, sep_id=102, mask_id=103, vocab_size=size, clean_ids=clean, causal=True,
                     bos_id=None if stand_in.bos_token_id is None else int(stand_in.bos_token_id))


def lm_head_class(model) -> bool:
    """Whether the model object carries a language-model head (masked or causal)."""
    return type(model).__name__.endswith(("ForMaskedLM", "ForCausalLM", "LMHeadModel", "ForPreTraining"))


def copy_for_capture(model, *, attn_implementation: str, device: str, dtype: str, overrides: dict):
    """(a private copy of the caller's model with the capture attention, on `device` in `dtype`, eval mode; the
    state dict it was loaded from). The caller's model is only read: its state dict and config."""
    import copy

    import torch

    config = copy.deepcopy(model.config)
    for key, value in overrides.items():
        setattr(config, key, value)
    state = plain_state(model)
    with torch.device("cpu"):
        clone = type(model)._from_config(config, attn_implementation=attn_implementation)
    missing, unexpected = clone.load_state_dict(state, strict=False)
    if unexpected or [k for k in missing if k in dict(clone.named_parameters())]:
        raise ModelLoadError(f"could not copy the in-memory {type(model).__name__}: its state dict does not match "
                             f"its class ({(unexpected or missing)[0]}); save it with save_pretrained and pass the "
                             "folder")
    clone.to(device=device, dtype=getattr(torch, dtype)).eval()
    return clone, state
