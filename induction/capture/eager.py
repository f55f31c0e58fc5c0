"""The second capture path: encoders whose attention modules never call the registered attention function.

Why: DeBERTa, MPNet, RoFormer, ConvBERT, XLM, RemBERT, MegatronBERT and others compute their own scores
and softmax (transformers flags their classes `_supports_attention_backend = False`), so the
"induction" function captures nothing for them. For these the model runs with eager attention and
`output_attentions=True`, and the [MASK] rows are read from the weights it returns; the full
L x H x S x S tensor that materialises is counted in the batch budget (`engine.batch_size`). Head
ablation is a forward pre-hook on each layer's attention output projection, registered once at load:
the hook reads the per-call capture state (a ContextVar) and does nothing outside a call, so a model
shared between sessions is never left ablated.
"""

from __future__ import annotations

# torch and the capture state are imported inside the functions that run models.

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
    from induction.capture.interface import active, edit_heads

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

    from induction.capture.interface import rows_from_attentions

    with torch.inference_mode():
        out = encoder(input_ids=input_ids, output_attentions=True)
    return rows_from_attentions(out.attentions, query_index)


def run_pattern(encoder, input_ids, layer: int):
    """The full attention pattern of one layer: [B, H, S, S] float32."""
    import torch

    with torch.inference_mode():
        out = encoder(input_ids=input_ids, output_attentions=True)
    return out.attentions[layer].float()
