"""Attention capture (and head ablation) through transformers' AttentionInterface.

Why an attention function and not `output_attentions`: transformers 5.x returns no
weights from SDPA, and eager attention materialises B x H x S x S per layer. Our
function, registered as the attention implementation "induction", runs the fast
SDPA kernel for the layer's output and additionally computes only the softmax rows
of the few query positions we read (the [MASK]s): B x H x S per layer.

What a call captures lives in a ContextVar, set for the duration of one call and
reset in `finally`: the dashboard shares one model between sessions (threads), so
nothing is ever stored on the model, and a failed call leaves no ablation behind.
Layers are numbered by call order within a forward pass, which works for every
encoder whose layers run in sequence (BERT, RoBERTa, DistilBERT, ELECTRA, ALBERT).
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from induction.config import AblationMode, ModelLoadError

IMPLEMENTATION = "induction"


class StopForward(Exception):
    """Raised after the last layer we read: the rest of the network is skipped."""


@dataclass
class _Capture:
    query_index: torch.Tensor | None  # [B] query position per sequence; None: no row capture
    stop_after: int | None  # raise StopForward after this layer
    full_layer: int | None = None  # keep the full [B, H, S, S] pattern of this layer
    ablate: dict[int, tuple[int, ...]] = field(default_factory=dict)  # layer -> heads
    mode: AblationMode = "zero"
    layer: int = 0  # the layer the next attention call belongs to (a suffix run starts above 0)
    rows: list[torch.Tensor] = field(default_factory=list)  # per layer [B, H, S]
    pattern: torch.Tensor | None = None
    means: dict[int, torch.Tensor] | None = None  # mean mode: layer -> [H, S, D] replacements given up front
    row_layer: int | None = None  # per-row ablation: in this layer, row b loses head row_heads[b] (-1: none)
    row_heads: torch.Tensor | None = None  # [B]
    sums: dict[int, torch.Tensor] | None = None  # when a dict: layer -> sum over rows of head outputs [H, S, D]


_ACTIVE: contextvars.ContextVar[_Capture | None] = contextvars.ContextVar("induction_capture", default=None)


def _additive_mask(attention_mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    if attention_mask is None or attention_mask.dtype != torch.bool:
        return None if attention_mask is None else attention_mask.to(dtype)
    return torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device).masked_fill(
        ~attention_mask, torch.finfo(dtype).min
    )


def _causal(module, query, attention_mask, kwargs) -> bool:
    """Whether this call is causal with no mask given, as transformers' SDPA function decides it: the mask
    function may skip building a causal mask and leave it to the kernel's `is_causal`."""
    flag = kwargs.get("is_causal")
    flag = getattr(module, "is_causal", True) if flag is None else flag
    return bool(flag) and attention_mask is None and query.shape[2] > 1


def _causal_mask(query, key) -> torch.Tensor:
    """Additive causal mask [1, 1, Q, K] (queries aligned to the last keys)."""
    q, k = query.shape[2], key.shape[2]
    allowed = torch.ones(q, k, dtype=torch.bool, device=query.device).tril(diagonal=k - q)
    return _additive_mask(allowed[None, None], query.dtype)


def _softmax_rows(query, key, mask, scaling, rows: torch.Tensor | None) -> torch.Tensor:
    """Softmax attention of the selected query rows (all rows when `rows` is None), in float32."""
    key = _repeat_kv(key, query.shape[1])  # [B, H, S, D]
    batch = torch.arange(query.shape[0], device=query.device)[:, None]  # [B, 1]
    picks = None if rows is None else rows if rows.dim() == 2 else rows[:, None]  # [B, Q]: one or more queries
    q = query if picks is None else query[batch, :, picks].permute(0, 2, 1, 3)  # [B, H, Q, D]
    scores = torch.matmul(q.float(), key.float().transpose(-1, -2)) * scaling  # [B, H, Q, S]
    if mask is not None:
        m = mask.float()  # [B or 1, 1 or H, S or 1, S]
        if picks is not None and m.shape[-2] > 1:
            m = m.expand(query.shape[0], -1, -1, -1)[batch, :, picks].permute(0, 2, 1, 3)
        scores = scores + m
    return torch.softmax(scores, dim=-1)


def induction_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """query/key/value: [B, H, S, D]. Returns ([B, S, H, D], None) like transformers' functions."""
    scaling = query.shape[-1] ** -0.5 if scaling is None else scaling
    mask = _additive_mask(attention_mask, query.dtype)
    causal = _causal(module, query, attention_mask, kwargs)
    gqa = key.shape[1] != query.shape[1]  # grouped-query attention: the kernel shares key/value heads itself
    state = _ACTIVE.get()
    if state is None:
        out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout, scale=scaling,
                                             is_causal=causal, enable_gqa=gqa)
        return out.transpose(1, 2).contiguous(), None
    if causal:  # the rows need the mask the kernel would have applied
        mask, causal = _causal_mask(query, key), False
    layer = state.layer
    state.layer += 1
    if state.query_index is not None:
        state.rows.append(_softmax_rows(query, key, mask, scaling, state.query_index))  # [B, H, Q, S]
    if layer == state.full_layer:
        state.pattern = _softmax_rows(query, key, mask, scaling, None)  # [B, H, S, S]
    if state.stop_after is not None and layer >= state.stop_after:
        raise StopForward
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, dropout_p=dropout, scale=scaling,
                                         enable_gqa=gqa)
    out = edit_heads(state, layer, out)  # [B, H, S, D]
    return out.transpose(1, 2).contiguous(), None


def _repeat_kv(x: torch.Tensor, heads: int) -> torch.Tensor:
    """[B, KV, S, D] key or value heads shared by groups of query heads -> [B, H, S, D]."""
    return x if x.shape[1] == heads else x.repeat_interleave(heads // x.shape[1], dim=1)


def edit_heads(state: _Capture, layer: int, out: torch.Tensor) -> torch.Tensor:
    """One layer's per-head outputs [B, H, S, D] after this call's ablations (and summed, when asked).
    Shared by both capture paths: the attention function here and the fallback's output-projection hook."""
    out = _ablated(state, layer, out)
    if state.sums is not None:
        state.sums[layer] = state.sums.get(layer, 0) + out.float().sum(dim=0)
    return out


def active() -> _Capture | None:
    return _ACTIVE.get()


def _ablated(state: _Capture, layer: int, out: torch.Tensor) -> torch.Tensor:
    """`out` [B, H, S, D] with this layer's ablated heads replaced (a copy; the input is never changed)."""
    heads = state.ablate.get(layer)
    rowwise = state.row_layer == layer and state.row_heads is not None
    if not heads and not rowwise:
        return out
    out = out.clone()
    if heads:
        idx = list(heads)
        if state.mode == "zero":
            out[:, idx] = 0.0
        elif state.means is not None:
            out[:, idx] = state.means[layer][idx].to(out.dtype)
        else:
            out[:, idx] = out[:, idx].mean(dim=0, keepdim=True).expand_as(out[:, idx])
    if rowwise:
        rows = torch.nonzero(state.row_heads >= 0).squeeze(1)
        picked = state.row_heads[rows]
        out[rows, picked] = 0.0 if state.mode == "zero" else state.means[layer][picked].to(out.dtype)
    return out


def register() -> None:
    """Make "induction" a valid `attn_implementation` (idempotent)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, induction_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)


@contextlib.contextmanager
def capturing(state: _Capture):
    token = _ACTIVE.set(state)
    try:
        yield state
    finally:
        _ACTIVE.reset(token)


def run_capture(encoder, input_ids: torch.Tensor, query_index: torch.Tensor, *, n_layers: int) -> torch.Tensor:
    """Attention rows of `query_index` for every layer: [B, L, H, S] float32.

    Nothing after the last layer's attention scores runs (no attention output, no feed-forward).
    """
    state = _Capture(query_index=query_index, stop_after=n_layers - 1)
    with capturing(state), torch.inference_mode(), contextlib.suppress(StopForward):
        encoder(input_ids=input_ids)
    if len(state.rows) != n_layers:
        raise RuntimeError(f"captured {len(state.rows)} attention layers, expected {n_layers}")
    return _stacked(state.rows, query_index)  # [B, L, H, S], or [B, L, H, K, S] for K queries a sequence


def run_pattern(encoder, input_ids: torch.Tensor, layer: int) -> torch.Tensor:
    """The full attention pattern of one layer: [B, H, S, S] float32."""
    state = _Capture(query_index=None, stop_after=layer, full_layer=layer)
    with capturing(state), torch.inference_mode(), contextlib.suppress(StopForward):
        encoder(input_ids=input_ids)
    if state.pattern is None:
        raise RuntimeError(f"layer {layer} was never reached")
    return state.pattern


def run_ablated(model, *, ablate: dict[int, tuple[int, ...]], mode: AblationMode = "zero",
                query_index: torch.Tensor | None = None, means: dict[int, torch.Tensor] | None = None,
                row_layer: int | None = None, row_heads: torch.Tensor | None = None, attentions: bool = False,
                **inputs):
    """One full forward of `model` with heads ablated (in every row, and per row in `row_layer`);
    returns (outputs, rows [B, L, H, S] or None). `attentions`: read the rows from the model's own
    attention weights (the fallback path) instead of the attention function."""
    state = _Capture(query_index=None if attentions else query_index, stop_after=None, ablate=dict(ablate),
                     mode=mode, means=means, row_layer=row_layer, row_heads=row_heads)
    with capturing(state), torch.inference_mode():
        out = model(**inputs, output_attentions=True) if attentions else model(**inputs)
    if attentions and query_index is not None:
        return out, rows_from_attentions(out.attentions, query_index)
    rows = _stacked(state.rows, query_index) if state.rows else None
    return out, rows


def _stacked(rows: list[torch.Tensor], query_index: torch.Tensor) -> torch.Tensor:
    """Per-layer [B, H, Q, S] rows as [B, L, H, S] for one query a sequence ([B] index), else [B, L, H, Q, S]."""
    out = torch.stack(rows, dim=1)  # [B, L, H, Q, S]
    return out[:, :, :, 0] if query_index.dim() == 1 else out


def rows_from_attentions(attentions, query_index: torch.Tensor) -> torch.Tensor:
    """The query rows of a model's own attention weights (L x [B, H, S, S]): [B, L, H, S] float32
    ([B, L, H, K, S] for a [B, K] index)."""
    if not attentions or any(a is None or a.dim() != 4 for a in attentions):
        raise ModelLoadError("the model returned no attention weights over key positions, so its attention "
                             "cannot be read")
    batch = torch.arange(query_index.shape[0], device=query_index.device)[:, None]
    picks = query_index if query_index.dim() == 2 else query_index[:, None]
    rows = [a[batch, :, picks].permute(0, 2, 1, 3).float() for a in attentions]  # L x [B, H, Q, S]
    return _stacked(rows, query_index)


def run_suffix(layers, hidden: torch.Tensor, start: int, *, row_heads: torch.Tensor,
               ablate: dict[int, tuple[int, ...]], mode: AblationMode = "zero",
               means: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
    """Layers `start..` of an encoder from the hidden states entering layer `start` [B, S, D], with head
    `row_heads[b]` of layer `start` ablated in row b (and `ablate` in every row). Returns [B, S, D].

    Layers below `start` are not run: their output is `hidden`. No padding, so no attention mask.
    """
    state = _Capture(query_index=None, stop_after=None, ablate=dict(ablate), mode=mode, layer=start, means=means,
                     row_layer=start, row_heads=row_heads)
    with capturing(state), torch.inference_mode():
        for module in layers[start:]:
            hidden = module(hidden)
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    return hidden


def run_hidden(encoder, input_ids: torch.Tensor, *, ablate: dict[int, tuple[int, ...]], mode: AblationMode = "zero",
               means: dict[int, torch.Tensor] | None = None, collect_means: bool = False):
    """One forward of `encoder` with heads ablated: (hidden states entering each layer and the last,
    L+1 x [B, S, D]; per-layer sums over rows of every head's output [H, S, D] when `collect_means`)."""
    state = _Capture(query_index=None, stop_after=None, ablate=dict(ablate), mode=mode, means=means,
                     sums={} if collect_means else None)
    with capturing(state), torch.inference_mode():
        out = encoder(input_ids=input_ids, output_hidden_states=True)
    return out.hidden_states, state.sums
