"""What kind of model a config describes: a BERT-family encoder, a causal (decoder-only) LM, or neither.

Why one place: the loader picks the model class from it, the run refuses setups a kind cannot run
(a causal model has no [MASK] and sees only earlier tokens: it runs only `repeat`), the losses differ
(masked-token for encoders, next-token for causal models) and the results record it. Families are
read from transformers' own mappings, never from a list of names, and nothing is loaded with
`trust_remote_code`.
"""

from __future__ import annotations

from induction.config import CAUSAL_SETUPS, SETUPS, ConfigError, ModelKind, ModelLoadError


def _mappings() -> tuple[dict, dict]:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    return MODEL_FOR_MASKED_LM_MAPPING_NAMES, MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def model_kind(name: str, config) -> ModelKind:
    """'encoder' or 'causal' for a config, or a ModelLoadError that says why the model is neither."""
    masked, causal = _mappings()
    kind_of = f"model {name!r} (type {config.model_type!r})"
    if getattr(config, "is_encoder_decoder", False):
        raise ModelLoadError(f"{kind_of} is an encoder-decoder (like T5 or BART): its decoder attends to the encoder "
                             "through cross-attention, which no setup here scores; use an encoder such as BERT or a "
                             "decoder-only model such as GPT-2")
    if getattr(config, "sub_configs", None):
        raise ModelLoadError(f"{kind_of} is a multimodal model, not a text encoder or decoder")
    if config.model_type in masked and not getattr(config, "is_decoder", False):
        return "encoder"
    if config.model_type in causal:
        return "causal"
    raise ModelLoadError(f"{kind_of} is neither a BERT-family encoder (a masked-LM class) nor a decoder-only model "
                         "(a causal-LM class) in transformers; use an encoder such as BERT, RoBERTa or ELECTRA, or "
                         "a decoder such as GPT-2, Pythia, OPT or a Llama-style model")


def lm_class(config, kind: str):
    """The transformers class with the LM head of this kind (masked or causal), or None."""
    import transformers

    masked, causal = _mappings()
    name = (masked if kind == "encoder" else causal).get(config.model_type)
    return getattr(transformers, name, None) if name else None


def setups_for(kind: str) -> tuple[str, ...]:
    """The setups a model of this kind runs."""
    return CAUSAL_SETUPS if kind == "causal" else SETUPS


def check_setup(name: str, kind: str, setup: str) -> None:
    """A causal model runs only the setups that need no [MASK] and no later token."""
    if kind == "causal" and setup not in CAUSAL_SETUPS:
        raise ConfigError(f"model {name!r} is a causal (decoder-only) model: it has no [MASK] token and each token "
                          f"sees only earlier ones, so the {setup} setup cannot be scored on it; use "
                          f"[[setup={CAUSAL_SETUPS[0]}]] (every token of a repeated segment is a query)")
