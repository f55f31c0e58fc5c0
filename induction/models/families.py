"""Family quirks, read from a model's config before any weights load: which families are refused and why,
which capture path a family needs, how many heads attend, and the positions a family reserves.

Why one place: describing a model (`models.loading.describe`) needs all of these, and none needs torch
beyond building the embedding module on the meta device. Families are told apart by what transformers
says of their classes, not by lists of names, except where a family's attention is not a softmax over
the input's positions (refused, each with its reason).
"""

from __future__ import annotations

from induction.config import ModelLoadError

REFUSED: dict[str, str] = {
    "funnel": "Funnel pools the sequence after its first block, so later layers' query positions are not the "
              "input's (and its config has no max_position_embeddings)",
    "longformer": "Longformer's banded attention reports each query's weights over a window, not over key "
                  "positions; mapping the band back to positions is not implemented",
    "fnet": "FNet mixes tokens with a Fourier transform: it has no attention to read",
    "mra": "MRA's multi-resolution attention is an approximation that returns no attention weights",
    "yoso": "YOSO's attention is a hashing approximation that returns no weights over positions",
    "nystromformer": "Nystromformer's attention is a low-rank approximation: its weights are not a softmax over "
                     "positions for inputs longer than its landmarks",
    "perceiver": "Perceiver attends from latent arrays, not from the input's positions",
    "reformer": "Reformer's LSH attention sorts and chunks positions",
    "xmod": "X-MOD routes every layer through a language adapter that must be chosen first (set_default_language), "
            "which a map cannot guess",
}
# BigBird runs full attention on inputs up to (5 + 2 x random blocks) x block size tokens and block-sparse
# attention beyond; it is loaded with full attention and its positions are capped there.
BIGBIRD_FULL = {"attention_type": "original_full"}


def bigbird_full_positions(config) -> int:
    return (5 + 2 * int(config.num_random_blocks)) * int(config.block_size)


def position_offset(config) -> int:
    """Positions a family reserves before the first token's: RoBERTa-style embeddings number positions from
    padding index + 1. Read from the embedding module the config builds (on the meta device: no memory,
    no weights), not from a list of family names."""
    import torch
    from transformers import AutoModel

    try:
        with torch.device("meta"):
            model = AutoModel.from_config(config)
    except Exception as exc:  # guessing 0 would give RoBERTa-style families the wrong number of usable positions
        raise ModelLoadError(f"could not read where the {config.model_type!r} family numbers its positions from "
                             f"(building its embeddings from the config failed: {type(exc).__name__}: {exc}); "
                             "check the folder's config.json, or report the family") from exc
    positions = getattr(getattr(model, "embeddings", None), "position_embeddings", None)
    padding = getattr(positions, "padding_idx", None)
    return 0 if padding is None else int(padding) + 1


def load_overrides(config) -> dict:
    """Config changes a family needs at load time to be captured as it computes."""
    return dict(BIGBIRD_FULL) if config.model_type == "big_bird" else {}


def capture_path(config, kind: str = "encoder") -> str:
    """'interface' where the family's attention calls the registered function, else 'fallback'."""
    from induction.models.kinds import lm_class

    cls = lm_class(config, kind)
    return "interface" if cls is not None and getattr(cls, "_supports_attention_backend", False) else "fallback"


def refusal(config) -> str | None:
    """Why this family cannot be captured, or None."""
    return REFUSED.get(config.model_type)


def attention_heads(config) -> int:
    """Heads that attend: ConvBERT gives only num_attention_heads // head_ratio of them to attention."""
    heads = int(config.num_attention_heads)
    return heads // int(config.head_ratio) if config.model_type == "convbert" else heads


# Which weight reader (`analyses.circuits`) reads a family's attention, embedding and unembedding matrices for the
# weight-based role scores (copying, composition): one per module layout, named here by transformers' model_type.
# A family missing here keeps its behavioural roles; its copying and composition are a one-line note.
WEIGHT_READERS: dict[str, str] = {
    "bert": "bert", "roberta": "roberta", "xlm-roberta": "roberta", "electra": "electra", "roformer": "roformer",
    "albert": "albert", "distilbert": "distilbert",
    "gpt2": "gpt2", "gpt_neo": "gpt_neo", "gpt_neox": "gpt_neox", "opt": "opt",
    "llama": "llama", "mistral": "llama", "qwen2": "llama",
}
# Families whose queries and keys are rotated by position: their W_QK is the bilinear form at relative offset 0.
ROTARY = frozenset({"roformer", "gpt_neox", "llama", "mistral", "qwen2"})


def weight_reader(config) -> str | None:
    """The weight reader of this family (a key of `analyses.circuits.READERS`), or None where none is written."""
    return WEIGHT_READERS.get(config.model_type)
