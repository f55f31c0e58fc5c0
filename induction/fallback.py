"""The second capture path: encoders whose attention modules never call the registered attention function.

Why: DeBERTa, MPNet, RoFormer, ConvBERT, XLM, RemBERT, MegatronBERT and others compute their own scores
and softmax (transformers flags their classes `_supports_attention_backend = False`), so the
"induction" function captures nothing for them. For these the model runs with eager attention and
`output_attentions=True`, and the [MASK] rows are read from the weights it returns; the full
L x H x S x S tensor that materialises is counted in the batch budget (`engine.batch_size`). Head
ablation is a forward pre-hook on each layer's attention output projection, registered once at load:
the hook reads the per-call capture state (a ContextVar) and does nothing outside a call, so a model
shared between sessions is never left ablated.

Families whose attention is not a softmax over the input's positions are refused before loading,
each with its reason.
"""

from __future__ import annotations

# torch and the capture state are imported inside the functions that run models: describing a
# model (family, heads, refusal) stays free of torch.

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
    except Exception:
        return 0
    positions = getattr(getattr(model, "embeddings", None), "position_embeddings", None)
    padding = getattr(positions, "padding_idx", None)
    return 0 if padding is None else int(padding) + 1


def load_overrides(config) -> dict:
    """Config changes a family needs at load time to be captured as it computes."""
    return dict(BIGBIRD_FULL) if config.model_type == "big_bird" else {}


def capture_path(config, kind: str = "encoder") -> str:
    """'interface' where the family's attention calls the registered function, else 'fallback'."""
    from .kinds import lm_class

    cls = lm_class(config, kind)
    return "interface" if cls is not None and getattr(cls, "_supports_attention_backend", False) else "fallback"


def refusal(config) -> str | None:
    """Why this family cannot be captured, or None."""
    return REFUSED.get(config.model_type)


def attention_heads(config) -> int:
    """Heads that attend: ConvBERT gives only num_attention_heads // head_ratio of them to attention."""
    heads = int(config.num_attention_heads)
    return heads // int(config.head_ratio) if config.model_type == "convbert" else heads


OUTPUT_NAMES = {"dense", "o", "out_lin", "out_proj"}


def output_projections(encoder, heads: int) -> list | None:
    """Each layer's attention output projection, in layer order, or None where they cannot be told apart.

    A candidate is a linear map (nn.Linear, or a quantised one with the same fields) inside an attention
    module, named as output projections are (dense, o, out_lin, out_proj), whose input is the concatenated
    heads (heads x head size) and whose output is the hidden size.
    """
    config = encoder.config
    hidden, layers = int(config.hidden_size), int(config.num_hidden_layers)
    width = heads * (hidden // int(config.num_attention_heads))
    found = []
    for name, module in encoder.named_modules():
        last = name.rsplit(".", 1)[-1]
        if ("attention" in name or "attn" in name) and last in OUTPUT_NAMES and \
                getattr(module, "in_features", None) == width and getattr(module, "out_features", None) == hidden:
            found.append(module)
    return found if len(found) == layers else None


def install_ablation(encoder, heads: int) -> str | None:
    """Register the ablation pre-hooks once; returns why ablation is unavailable, or None."""
    if getattr(encoder, "_induction_hooks", None) is not None:
        return encoder._induction_hooks or None
    projections = output_projections(encoder, heads)
    if projections is None:
        reason = (f"{encoder.config.model_type}: its attention output projections cannot be told apart from the "
                  "other layers, so heads cannot be ablated (maps work)")
        encoder._induction_hooks = reason
        return reason
    for layer, module in enumerate(projections):
        module.register_forward_pre_hook(_hook(layer, heads))
    encoder._induction_hooks = ""
    return None


def _hook(layer: int, heads: int):
    from .capture import active, edit_heads

    def pre_hook(module, args):
        state = active()
        if state is None:
            return None
        x = args[0]  # [B, S, heads * D]
        b, s, width = x.shape
        per_head = x.view(b, s, heads, width // heads).transpose(1, 2)  # [B, H, S, D]
        edited = edit_heads(state, layer, per_head)
        if edited is per_head:
            return None
        return (edited.transpose(1, 2).reshape(b, s, width), *args[1:])

    return pre_hook


def run_rows(encoder, input_ids, query_index):
    """[MASK] rows of every layer from the model's own attention weights: [B, L, H, S] float32."""
    import torch

    from .capture import rows_from_attentions

    with torch.inference_mode():
        out = encoder(input_ids=input_ids, output_attentions=True)
    return rows_from_attentions(out.attentions, query_index)


def run_pattern(encoder, input_ids, layer: int):
    """The full attention pattern of one layer: [B, H, S, S] float32."""
    import torch

    with torch.inference_mode():
        out = encoder(input_ids=input_ids, output_attentions=True)
    return out.attentions[layer].float()
