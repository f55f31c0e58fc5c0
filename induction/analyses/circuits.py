"""The weights side of a head's role: its OV circuit's copying score and the K-, Q- and V-composition between heads,
in TransformerLens's conventions, on every family with a weight reader.

Why from weights: behaviour on RRT trials says where a head attends; whether what it moves raises the logit of the
token it attends to (Olsson et al. 2022, "copying") and which earlier head's output its query, key or value reads
(Elhage et al. 2021, "composition") are properties of the weight matrices, the mechanistic half of the definition.
Why TransformerLens's conventions: researchers compare with `HookedTransformer.all_composition_scores` on a model
loaded with fold_ln, center_writing_weights and center_unembed; the same model should give the same number here.

Conventions: row vectors (x @ W), float64 numpy. Per head: W_Q, W_K, W_V [d, dh] and W_O [dh, d]; W_OV = W_V W_O and
W_QK = W_Q W_K^T, both [d, d]. Biases are read (the direct-logit copy uses the value bias) but no score uses them.

Folding (TransformerLens's fold_ln): a norm N(x) = (x - mean(x)) * gamma / sigma(x) + beta (LayerNorm; RMSNorm: no
centring, sigma the root mean square) is folded into the weights that read its output: W -> F W with
F = (I - 11^T/d) diag(gamma) (RMSNorm: diag(gamma)); 1/sigma, a positive number per position, and beta, the same
for every token, are dropped. The writing weights (W_O, W_E) are centred over d_model when the family's norms
centre (center_writing_weights), and the unembedding is centred over the vocabulary (center_unembed). Pre-LN
families (GPT-2, Pythia, Llama...) are exactly TransformerLens's. Post-LN families (BERT and its kin), which
TransformerLens does not fold, follow the same rule: the norm that last normalised the stream before a layer is
folded into that layer's W_Q, W_K, W_V, and the norms strictly between a writer and its reader (a post-LN block
normalises the whole stream after its attention and after its MLP) are on the writer's path (its W_O as the
reader receives it).

Rotary families (RoFormer, Llama, Pythia...): queries and keys are rotated by position, so a head's bilinear form
depends on the relative offset; W_QK here is the form at relative offset 0 (the unrotated W_Q W_K^T), and results
say so (`Circuits.rotary`). A RoFormer that rotates its values too (rotary_value) has a position-dependent OV
circuit: refused, in one line.

Families: one reader per module layout (`READERS`), chosen by the family table (`models.families.WEIGHT_READERS`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, get_args

import numpy as np

from induction.config import ModelLoadError
from induction.models.families import ROTARY, WEIGHT_READERS, weight_reader

NormKind = Literal["layernorm", "rmsnorm"]
NORM_KINDS: tuple[str, ...] = get_args(NormKind)
COPY_REACH_MIN = 1e-4  # an OV circuit whose eigenvalues reach less than this of the most its factors allow scores 0
ROTARY_OFFSET = "relative offset 0"  # what W_QK of a rotary family is
BASELINE_DRAWS = 16  # random draws of the composition baseline
BASELINE_SEED = 0
BASELINE_SDS = 3.0  # a pair is "clearly above" the random baseline beyond its mean + this many standard deviations


@dataclass(frozen=True)
class Circuits:
    """One model's per-head attention weights as its modules compute them (key/value heads repeated for grouped-query
    attention), the gammas of the norms on the residual paths, the embedding and the unembedding."""

    family: str  # the reader (a key of READERS)
    norm: NormKind
    q: np.ndarray  # [L, H, d, dh]
    k: np.ndarray  # [L, H, d, dh]
    v: np.ndarray  # [L, H, d, dh]
    o: np.ndarray  # [L, H, dh, d]
    q_bias: np.ndarray  # [L, H, dh]
    k_bias: np.ndarray  # [L, H, dh]
    v_bias: np.ndarray  # [L, H, dh]
    o_bias: np.ndarray  # [L, d]
    read_ln: tuple[tuple[np.ndarray, ...], ...]  # per layer: the norm inside its attention's input (pre-LN: ln_1)
    stream_ln: tuple[tuple[np.ndarray, ...], ...]  # per layer: norms of the whole stream after its attention writes
    embed_ln: tuple[np.ndarray, ...] = ()  # norms of the stream after the embedding is written (BERT's embedding LN)
    final_ln: tuple[np.ndarray, ...] = ()  # the norm inside the unembedding's input (pre-LN: ln_f)
    embed: np.ndarray | None = None  # [V, d] each token's embedding as written to the stream
    unembed: np.ndarray | None = None  # [d, V] the linear read-out of the logits from the stream
    unembed_note: str | None = None  # why embed/unembed are missing
    rotary: str | None = None  # ROTARY_OFFSET for the family table's rotary families (models.families.ROTARY)

    @property
    def layers(self) -> int:
        return int(self.q.shape[0])

    @property
    def heads(self) -> int:
        return int(self.q.shape[1])

    @property
    def centred(self) -> bool:
        """Whether the norms centre (LayerNorm) as well as scale (RMSNorm does not)."""
        return self.norm == "layernorm"

    def reads(self, layer: int) -> tuple[np.ndarray, ...]:
        """The norm folded into `layer`'s W_Q, W_K, W_V: its own input norm (pre-LN), else the stream norm right
        before it (post-LN), else none (a stream no norm has touched since it was written)."""
        if self.read_ln[layer]:
            return self.read_ln[layer]
        before = self.stream_ln[layer - 1] if layer > 0 else self.embed_ln
        return tuple(before[-1:])

    def between(self, source: int, target: int) -> list[np.ndarray]:
        """Gammas of the stream norms from what a head of `source` writes to `target`'s folded read (> source)."""
        path = [g for k in range(source, target) for g in self.stream_ln[k]]
        return path[:-1] if not self.read_ln[target] and self.stream_ln[target - 1] else path

    def embed_between(self, layer: int) -> list[np.ndarray]:
        """Gammas of the stream norms from the token embedding to `layer`'s folded read."""
        path = [*self.embed_ln, *(g for k in range(layer) for g in self.stream_ln[k])]
        return path[:-1] if not self.read_ln[layer] and self.reads(layer) else path

    def unembed_reads(self) -> tuple[np.ndarray, ...]:
        """The norm folded into the unembedding: the final norm (pre-LN), else the last stream norm (post-LN)."""
        return self.final_ln or tuple(self.stream_ln[-1][-1:])

    def logit_between(self, layer: int) -> list[np.ndarray]:
        """Gammas of the stream norms from what a head of `layer` writes to the folded unembedding."""
        path = [g for k in range(layer, self.layers) for g in self.stream_ln[k]]
        return path[:-1] if not self.final_ln and self.stream_ln[-1] else path

    @property
    def centre_writes(self) -> bool:
        """center_writing_weights applies: the norms centre and every reader reads through one (else centring a
        writer would change what an un-normalised reader sees: ALBERT's first layer reads the projected
        embedding directly)."""
        return self.centred and all(self.reads(l) for l in range(self.layers)) and bool(self.unembed_reads())


def fold(rows: np.ndarray, gammas: list[np.ndarray], centre: bool = True) -> np.ndarray:
    """Row vectors [..., d] through the folded norms, in order: x -> (x - mean(x)) * gamma each (no centring for
    RMSNorm)."""
    for g in gammas:
        rows = ((rows - rows.mean(axis=-1, keepdims=True)) if centre else rows) * g
    return rows


def fold_before(cols: np.ndarray, gammas: list[np.ndarray], centre: bool = True) -> np.ndarray:
    """The folded norms applied before a matrix [..., d, n]: returns F_1 ... F_k @ cols (F = centre, then gamma)."""
    for g in reversed(gammas):
        cols = g[:, None] * cols
        if centre:
            cols = cols - cols.mean(axis=-2, keepdims=True)
    return cols


@dataclass(frozen=True)
class Folded:
    """The weights as TransformerLens holds them after fold_ln, center_writing_weights and center_unembed."""

    W_Q: np.ndarray  # [L, H, d, dh]
    W_K: np.ndarray  # [L, H, d, dh]
    W_V: np.ndarray  # [L, H, d, dh]
    W_O: np.ndarray  # [L, H, dh, d]
    W_E: np.ndarray | None  # [V, d]
    W_U: np.ndarray | None  # [d, V]


def folded(c: Circuits) -> Folded:
    """Fold each layer's read norm into its W_Q, W_K, W_V and the final norm into W_U; centre W_O and W_E over
    d_model (where the norms centre) and W_U over the vocabulary."""
    fold_in = [[fold_before(w[l], list(c.reads(l)), c.centred) for l in range(c.layers)] for w in (c.q, c.k, c.v)]
    o = c.o - c.o.mean(axis=-1, keepdims=True) if c.centre_writes else c.o  # [L, H, dh, d]
    embed = unembed = None
    if c.embed is not None and c.unembed is not None:
        embed = c.embed - c.embed.mean(axis=-1, keepdims=True) if c.centre_writes else c.embed  # [V, d]
        unembed = fold_before(c.unembed, list(c.unembed_reads()), c.centred)  # [d, V]
        unembed = unembed - unembed.mean(axis=-1, keepdims=True)
    return Folded(*(np.stack(w) for w in fold_in), o, embed, unembed)


# ---- reading the weights, per family -------------------------------------------------------------------------------

def _np(t) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float64)


def _w(linear) -> np.ndarray:
    """A Linear's map as x @ W: [in, out] (nn.Linear stores [out, in]; Conv1D stores [in, out])."""
    w = _np(linear.weight)
    return w if type(linear).__name__ == "Conv1D" else w.T


def _bias(linear, width: int) -> np.ndarray:
    bias = getattr(linear, "bias", None)
    return np.zeros(width) if bias is None else _np(bias)


def _gamma(norm) -> np.ndarray:
    weight = getattr(norm, "weight", None)
    if weight is None:  # elementwise_affine=False: gamma 1
        return np.ones(norm.normalized_shape[-1])
    return _np(weight)


def _cols(w: np.ndarray, heads: int) -> np.ndarray:
    """[d, H*dh] columns (head h at h*dh..) -> [H, d, dh]."""
    d, width = w.shape
    return w.reshape(d, heads, width // heads).transpose(1, 0, 2)


def _rows(w: np.ndarray, heads: int) -> np.ndarray:
    """[H*dh, d] rows (head h at h*dh..) -> [H, dh, d]."""
    width, d = w.shape
    return w.reshape(heads, width // heads, d)


def _repeat(w: np.ndarray, heads: int) -> np.ndarray:
    """Grouped-query attention: [KV, ...] -> [H, ...], head h reading key/value head h // (H / KV) (what
    transformers' repeat_kv and TransformerLens's repeat_interleave do)."""
    return np.repeat(w, heads // w.shape[0], axis=0)


@dataclass
class _Layer:
    q: np.ndarray  # [H, d, dh]
    k: np.ndarray
    v: np.ndarray
    o: np.ndarray  # [H, dh, d]
    q_bias: np.ndarray  # [H, dh]
    k_bias: np.ndarray
    v_bias: np.ndarray
    o_bias: np.ndarray  # [d]
    read_ln: tuple = ()
    stream_ln: tuple = ()


def _projections(q, k, v, o, heads: int, kv_heads: int | None = None) -> dict:
    """Separate q/k/v/o Linears (or Conv1Ds) -> per-head matrices and biases, key/value heads repeated."""
    kv = kv_heads or heads
    wq, wk, wv, wo = _w(q), _w(k), _w(v), _w(o)
    return dict(q=_cols(wq, heads), k=_repeat(_cols(wk, kv), heads), v=_repeat(_cols(wv, kv), heads),
                o=_rows(wo, heads), q_bias=_bias(q, wq.shape[1]).reshape(heads, -1),
                k_bias=_repeat(_bias(k, wk.shape[1]).reshape(kv, -1), heads),
                v_bias=_repeat(_bias(v, wv.shape[1]).reshape(kv, -1), heads), o_bias=_bias(o, wo.shape[1]))


def _assemble(family: str, norm: str, layers: list[_Layer], *, embed: np.ndarray | None, embed_ln: tuple = (),
              final_ln: tuple = ()) -> Circuits:
    stack = {name: np.stack([getattr(layer, name) for layer in layers])
             for name in ("q", "k", "v", "o", "q_bias", "k_bias", "v_bias", "o_bias")}
    return Circuits(family=family, norm=norm, **stack, read_ln=tuple(layer.read_ln for layer in layers),
                    stream_ln=tuple(layer.stream_ln for layer in layers), embed_ln=embed_ln, final_ln=final_ln,
                    embed=embed)


def _token_embedding(embeddings, projection) -> tuple[np.ndarray, tuple]:
    """(embedding as written to the stream [V, d], stream norms after it): an embedding LayerNorm before a
    projection to the hidden size (ALBERT, ELECTRA, RoFormer with a smaller embedding) is folded into the
    embedding; without a projection it normalises the stream."""
    table, norm = _np(embeddings.word_embeddings.weight), _gamma(embeddings.LayerNorm)
    if projection is None:
        return table, (norm,)
    return fold(table, [norm]) @ _w(projection), ()


def _bert_like(family: str, loaded, base, layers, attention: Callable, *, projection=None) -> Circuits:
    """Post-LN encoders: per layer, attention then its LayerNorm of the stream, the MLP then its LayerNorm."""
    embed, embed_ln = _token_embedding(base.embeddings, projection)
    circuits = _assemble(family, "layernorm", [attention(layer) for layer in layers], embed=embed,
                         embed_ln=embed_ln)
    return _with_unembedding(circuits, loaded)


def _read_bert(loaded, family: str = "bert") -> Circuits:
    """BERT, RoBERTa, XLM-R, ELECTRA, RoFormer: attention.self.query/key/value, attention.output.dense and
    LayerNorm, output.LayerNorm."""
    base, heads = loaded.encoder, loaded.heads

    def attention(layer) -> _Layer:
        s, out = layer.attention.self, layer.attention.output
        return _Layer(**_projections(s.query, s.key, s.value, out.dense, heads),
                      stream_ln=(_gamma(out.LayerNorm), _gamma(layer.output.LayerNorm)))

    return _bert_like(family, loaded, base, base.encoder.layer, attention,
                      projection=getattr(base, "embeddings_project", None))


def _read_roformer(loaded) -> Circuits:
    if getattr(loaded.encoder.config, "rotary_value", False):
        raise ModelLoadError(f"{loaded.name!r} rotates its values by position (rotary_value=True), so its OV circuit "
                             "depends on position: copying and composition are not computed (its behavioural roles "
                             "are)")
    return _read_bert(loaded, "roformer")


def _read_albert(loaded) -> Circuits:
    """ALBERT: layers share weights by group (layer i uses group i * groups // layers); each layer is one
    AlbertLayer: attention.query/key/value/dense with attention.LayerNorm, then full_layer_layer_norm."""
    base, heads, config = loaded.encoder, loaded.heads, loaded.encoder.config
    if int(config.inner_group_num) != 1:
        raise ModelLoadError(f"{loaded.name!r} stacks {config.inner_group_num} ALBERT layers a group, which the "
                             "weight reader does not follow: copying and composition are not computed (its "
                             "behavioural roles are)")
    groups = base.encoder.albert_layer_groups
    shared = [groups[int(i / (config.num_hidden_layers / config.num_hidden_groups))].albert_layers[0]
              for i in range(config.num_hidden_layers)]

    def attention(layer) -> _Layer:
        a = layer.attention
        return _Layer(**_projections(a.query, a.key, a.value, a.dense, heads),
                      stream_ln=(_gamma(a.LayerNorm), _gamma(layer.full_layer_layer_norm)))

    return _bert_like("albert", loaded, base, shared, attention, projection=base.encoder.embedding_hidden_mapping_in)


def _read_distilbert(loaded) -> Circuits:
    """DistilBERT: transformer.layer[i].attention.q_lin/k_lin/v_lin/out_lin, sa_layer_norm, output_layer_norm."""
    base, heads = loaded.encoder, loaded.heads

    def attention(layer) -> _Layer:
        a = layer.attention
        return _Layer(**_projections(a.q_lin, a.k_lin, a.v_lin, a.out_lin, heads),
                      stream_ln=(_gamma(layer.sa_layer_norm), _gamma(layer.output_layer_norm)))

    return _bert_like("distilbert", loaded, base, base.transformer.layer, attention)


def _read_gpt2(loaded) -> Circuits:
    """GPT-2: Conv1D c_attn (x @ W + b, columns [queries | keys | values], head h at h*dh.. in each), c_proj; ln_1
    reads each block, ln_f the logits."""
    base, heads = loaded.encoder, loaded.heads
    layers = []
    for block in base.h:
        w, b = _w(block.attn.c_attn), _bias(block.attn.c_attn, 0)  # [d, 3d], [3d]
        d = w.shape[0]
        layers.append(_Layer(q=_cols(w[:, :d], heads), k=_cols(w[:, d:2 * d], heads), v=_cols(w[:, 2 * d:], heads),
                             o=_rows(_w(block.attn.c_proj), heads), q_bias=b[:d].reshape(heads, -1),
                             k_bias=b[d:2 * d].reshape(heads, -1), v_bias=b[2 * d:].reshape(heads, -1),
                             o_bias=_bias(block.attn.c_proj, d), read_ln=(_gamma(block.ln_1),)))
    circuits = _assemble("gpt2", "layernorm", layers, embed=_np(base.wte.weight), final_ln=(_gamma(base.ln_f),))
    return _with_unembedding(circuits, loaded)


def _read_gpt_neo(loaded) -> Circuits:
    """GPT-Neo: h[i].attn.attention.q_proj/k_proj/v_proj/out_proj; ln_1, ln_f (global and local layers alike)."""
    base, heads = loaded.encoder, loaded.heads
    layers = [_Layer(**_projections(a.q_proj, a.k_proj, a.v_proj, a.out_proj, heads), read_ln=(_gamma(b.ln_1),))
              for b in base.h for a in [b.attn.attention]]
    circuits = _assemble("gpt_neo", "layernorm", layers, embed=_np(base.wte.weight), final_ln=(_gamma(base.ln_f),))
    return _with_unembedding(circuits, loaded)


def _read_gpt_neox(loaded) -> Circuits:
    """GPT-NeoX / Pythia: one query_key_value Linear whose outputs are per head [q | k | v] (head h at h*3dh..),
    dense; input_layernorm, final_layer_norm; rotary on part of each head."""
    base, heads = loaded.encoder, loaded.heads
    layers = []
    for layer in base.layers:
        a = layer.attention
        w = _w(a.query_key_value)  # [d, 3d]
        d = w.shape[0]
        w = w.reshape(d, heads, 3, -1)  # [d, H, (q, k, v), dh]
        b = _bias(a.query_key_value, 3 * d).reshape(heads, 3, -1)  # [H, 3, dh]
        layers.append(_Layer(q=w[:, :, 0].transpose(1, 0, 2), k=w[:, :, 1].transpose(1, 0, 2),
                             v=w[:, :, 2].transpose(1, 0, 2), o=_rows(_w(a.dense), heads), q_bias=b[:, 0],
                             k_bias=b[:, 1], v_bias=b[:, 2], o_bias=_bias(a.dense, d),
                             read_ln=(_gamma(layer.input_layernorm),)))
    circuits = _assemble("gpt_neox", "layernorm", layers, embed=_np(base.embed_in.weight),
                         final_ln=(_gamma(base.final_layer_norm),))
    return _with_unembedding(circuits, loaded)


def _read_opt(loaded) -> Circuits:
    """OPT (pre-LN, do_layer_norm_before): decoder.layers[i].self_attn.q/k/v/out_proj, self_attn_layer_norm,
    decoder.final_layer_norm; the embeddings projected in and out where word_embed_proj_dim differs."""
    decoder, heads = loaded.encoder.decoder, loaded.heads
    if not getattr(loaded.encoder.config, "do_layer_norm_before", True):
        raise ModelLoadError(f"{loaded.name!r} is a post-LN OPT (do_layer_norm_before=False, like opt-350m), which "
                             "the OPT weight reader does not follow: copying and composition are not computed (its "
                             "behavioural roles are)")
    layers = [_Layer(**_projections(a.q_proj, a.k_proj, a.v_proj, a.out_proj, heads),
                     read_ln=(_gamma(layer.self_attn_layer_norm),))
              for layer in decoder.layers for a in [layer.self_attn]]
    embed = _np(decoder.embed_tokens.weight)
    if decoder.project_in is not None:
        embed = embed @ _w(decoder.project_in)
    final = () if decoder.final_layer_norm is None else (_gamma(decoder.final_layer_norm),)
    circuits = _assemble("opt", "layernorm", layers, embed=embed, final_ln=final)
    return _with_unembedding(circuits, loaded)


def _read_llama(loaded) -> Circuits:
    """Llama, Mistral, Qwen2: layers[i].self_attn.q/k/v/o_proj with num_key_value_heads key/value heads (repeated),
    input_layernorm and norm (RMSNorm); rotary."""
    base, heads, config = loaded.encoder, loaded.heads, loaded.encoder.config
    kv = int(getattr(config, "num_key_value_heads", None) or heads)
    layers = [_Layer(**_projections(a.q_proj, a.k_proj, a.v_proj, a.o_proj, heads, kv),
                     read_ln=(_gamma(layer.input_layernorm),))
              for layer in base.layers for a in [layer.self_attn]]
    circuits = _assemble("llama", "rmsnorm", layers, embed=_np(base.embed_tokens.weight),
                         final_ln=(_gamma(base.norm),))
    return _with_unembedding(circuits, loaded)


READERS: dict[str, Callable] = {
    "bert": _read_bert, "roberta": lambda loaded: _read_bert(loaded, "roberta"),
    "electra": lambda loaded: _read_bert(loaded, "electra"), "roformer": _read_roformer, "albert": _read_albert,
    "distilbert": _read_distilbert, "gpt2": _read_gpt2, "gpt_neo": _read_gpt_neo, "gpt_neox": _read_gpt_neox,
    "opt": _read_opt, "llama": _read_llama,
}

# The module whose first input is what each layer's attention reads (the direct-logit copy captures it).
ATTENTION_INPUTS: dict[str, Callable] = {
    "bert": lambda base: [layer.attention.self for layer in base.encoder.layer],
    "albert": lambda base: [base.encoder.albert_layer_groups[
        int(i / (base.config.num_hidden_layers / base.config.num_hidden_groups))].albert_layers[0].attention
        for i in range(base.config.num_hidden_layers)],
    "distilbert": lambda base: [layer.attention for layer in base.transformer.layer],
    "gpt2": lambda base: [block.attn for block in base.h],
    "gpt_neo": lambda base: [block.attn.attention for block in base.h],
    "gpt_neox": lambda base: [layer.attention for layer in base.layers],
    "opt": lambda base: [layer.self_attn for layer in base.decoder.layers],
    "llama": lambda base: [layer.self_attn for layer in base.layers],
}
for _name in ("roberta", "electra", "roformer"):
    ATTENTION_INPUTS[_name] = ATTENTION_INPUTS["bert"]


def read_circuits(loaded) -> Circuits:
    """A loaded model's per-head weights (and its unembedding where it has one), read by its family's reader; a
    ModelLoadError in one line where the family has none or its weights cannot be read."""
    config = loaded.encoder.config
    reader = weight_reader(config)
    if reader is None:
        raise ModelLoadError(f"no weight reader is written for {loaded.name!r} ({config.model_type}), so its copying "
                             "and composition scores are not computed (its behavioural roles are); the families "
                             f"with one: {', '.join(sorted(WEIGHT_READERS))}")
    circuits = READERS[reader](loaded)
    if circuits.heads != loaded.heads or circuits.layers != loaded.layers:
        raise ModelLoadError(f"{loaded.name!r}: the {reader} reader found {circuits.layers} layers x "
                             f"{circuits.heads} heads, not the {loaded.layers} x {loaded.heads} its config says")
    return replace(circuits, rotary=ROTARY_OFFSET if config.model_type in ROTARY else None)


def attention_inputs(loaded) -> list:
    """Per layer, the module whose first input is what that layer's attention reads."""
    return ATTENTION_INPUTS[weight_reader(loaded.encoder.config)](loaded.encoder)


# ---- the unembedding -----------------------------------------------------------------------------------------------

def _with_unembedding(circuits: Circuits, loaded) -> Circuits:
    try:
        unembed = read_unembedding(loaded)
    except ModelLoadError as exc:
        return replace(circuits, embed=None, unembed_note=str(exc))
    if circuits.embed is None or circuits.embed.shape[1] != circuits.q.shape[2] or unembed.shape[0] != \
            circuits.q.shape[2]:
        return replace(circuits, embed=None, unembed_note=f"{loaded.name!r}: its embedding and unembedding do not "
                                                          "meet the hidden size, so copying is not read")
    return replace(circuits, unembed=unembed)


def _slope(act, at: np.ndarray) -> np.ndarray:
    """The derivative of an elementwise activation at `at`: the MLM transform linearised at a zero input."""
    import torch

    x = torch.tensor(at, dtype=torch.float64, requires_grad=True)
    act(x).sum().backward()
    return x.grad.numpy()


def _mlm_parts(family: str, mlm):
    """(dense, activation, norm, decoder) of an encoder's MLM head: dense -> activation -> LayerNorm -> decoder."""
    import torch.nn.functional as F

    if family in ("bert", "roformer"):
        t = mlm.cls.predictions.transform
        return t.dense, t.transform_act_fn, t.LayerNorm, mlm.cls.predictions.decoder
    if family == "roberta":
        h = mlm.lm_head
        return h.dense, F.gelu, h.layer_norm, h.decoder
    if family == "electra":
        p = mlm.generator_predictions
        return p.dense, p.activation, p.LayerNorm, mlm.generator_lm_head
    if family == "albert":
        p = mlm.predictions
        return p.dense, p.activation, p.LayerNorm, p.decoder
    if family == "distilbert":
        return mlm.vocab_transform, mlm.activation, mlm.vocab_layer_norm, mlm.vocab_projector
    raise ModelLoadError(f"no MLM head reader for the {family} family")


def read_unembedding(loaded) -> np.ndarray:
    """[d, V]: the model's own read-out of the logits from the stream, linear. A decoder: its output embeddings
    (after OPT's project_out). An encoder: its MLM head, dense -> activation -> LayerNorm -> decoder, the activation
    replaced by its slope at the dense bias (the head linearised at a zero input) and the LayerNorm folded."""
    mlm = loaded.mlm
    if mlm is None:
        raise ModelLoadError(f"{loaded.name!r} has no trained LM head, so no unembedding to read copying through")
    if loaded.kind == "causal":
        head = mlm.get_output_embeddings()
        if head is None or getattr(head, "weight", None) is None:
            raise ModelLoadError(f"{loaded.name!r}: no output embeddings to read copying through")
        unembed = _w(head)  # [d', V]
        project = getattr(getattr(loaded.encoder, "decoder", None), "project_out", None)  # OPT
        return unembed if project is None else _w(project) @ unembed
    dense, act, norm, decoder = _mlm_parts(weight_reader(loaded.encoder.config), mlm)
    first = _w(dense) * _slope(act, _bias(dense, dense.out_features))[None, :]  # [d, e]: x -> act'(b) * (x @ W)
    return first @ fold_before(_w(decoder), [_gamma(norm)])  # [d, V]


# ---- copying: the token-space OV circuit's eigenvalues -------------------------------------------------------------

def _top_singular(gram: np.ndarray, steps: int = 200) -> float:
    """The largest singular value of a matrix from its Gram matrix (A^T A or A A^T), by power iteration (the reach
    threshold needs no more precision than that, and a full eigendecomposition of a [d, d] matrix per layer costs)."""
    x = np.random.default_rng(0).standard_normal(gram.shape[0])
    top = 0.0
    for _ in range(steps):
        y = gram @ x
        norm = float(np.linalg.norm(y))
        if norm == 0.0:
            return 0.0
        x, previous, top = y / norm, top, norm
        if abs(top - previous) <= 1e-9 * top:
            break
    return float(np.sqrt(top))


def copying_scores(c: Circuits) -> tuple[np.ndarray, np.ndarray]:
    """(score, reach), each [L, H]. The token-space OV circuit of head h in layer l is TransformerLens's
    W_E W_V W_O W_U (folded, centred) with the post-LN stream norms between (R_l from the embedding, P_l to the
    logits): the [V, V] matrix M = W_E R_l W_V W_O P_l W_U; its score is sum(eigenvalues) / sum(|eigenvalues|), in
    [-1, 1] (1: every token raises its own logit). M is never formed: its nonzero eigenvalues are those of the cyclic
    product W_O (P_l W_U W_E R_l) W_V, [dh, dh], built from the [d, d] product W_U W_E computed once.
    `reach` = ||eigenvalues||_2 / (||W_E R_l||_2 ||W_V W_O||_F ||P_l W_U||_2), at most 1; a head below
    COPY_REACH_MIN barely reaches the logits and scores 0 (not a ratio of rounding errors)."""
    if c.embed is None or c.unembed is None:
        raise ModelLoadError(c.unembed_note or "no unembedding")
    f, centre = folded(c), c.centred
    ue = f.W_U @ f.W_E  # [d, d]
    gram_e, gram_u = f.W_E.T @ f.W_E, f.W_U @ f.W_U.T  # [d, d] each
    score, reach = np.zeros((c.layers, c.heads)), np.zeros((c.layers, c.heads))
    for l in range(c.layers):
        read, write = c.embed_between(l), c.logit_between(l)
        kernel = fold_before(fold(ue, read, centre), write, centre)  # P_l W_U W_E R_l: [d, d]
        e_norm = _top_singular(fold(fold(gram_e, read, centre).T, read, centre))  # ||W_E R_l||_2
        u_norm = _top_singular(fold_before(fold_before(gram_u, write, centre).T, write, centre))  # ||P_l W_U||_2
        for h in range(c.heads):
            v, o = f.W_V[l, h], f.W_O[l, h]  # [d, dh], [dh, d]
            eig = np.linalg.eigvals(o @ kernel @ v)  # [dh]
            ov = np.sqrt(max(np.trace((v.T @ v) @ (o @ o.T)), 0.0))  # ||W_V W_O||_F
            scale = e_norm * ov * u_norm
            reach[l, h] = float(np.linalg.norm(eig) / scale) if scale > 0 else 0.0
            total = float(np.abs(eig).sum())
            score[l, h] = float(eig.sum().real / total) if reach[l, h] >= COPY_REACH_MIN and total > 0 else 0.0
    return score, reach


# ---- composition ---------------------------------------------------------------------------------------------------

def _ratio(num2: np.ndarray, den2: np.ndarray) -> np.ndarray:
    """sqrt(num2 / den2), 0 where the denominator is 0 (a head with no weights composes with nothing)."""
    num2, den2 = np.broadcast_arrays(np.asarray(num2, dtype=float), np.asarray(den2, dtype=float))
    out = np.zeros(num2.shape)
    ok = den2 > 0
    out[ok] = np.sqrt(np.clip(num2[ok], 0, None) / den2[ok])
    return out


def _trace(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tr(a @ b) over the last two axes, without the product."""
    return (a * np.swapaxes(b, -1, -2)).sum(axis=(-1, -2))


def composition_scores(c: Circuits) -> dict[str, np.ndarray]:
    """{"K", "Q", "V"} -> [L, H, L, H]: entry [l1, h1, l2, h2] is how much head (l2, h2) reads head (l1, h1)'s output
    through its key, query or value, TransformerLens's `all_composition_scores` on the folded weights:
    ||W_OV^1 R||_F / (||W_OV^1||_F ||R||_F) with W_OV^1 = W_V^1 W_O^1 B (B: the post-LN norms between the two
    layers; none for pre-LN) and R = W_QK^2 (Q), W_QK^2^T = W_K^2 W_Q^2^T (K) or W_OV^2 (V). NaN where l1 >= l2
    (TransformerLens writes 0 there). The [d, d] matrices are never formed: with A = W_V^1, X = (W_O^1 B) M_2 and C
    the other factor of head 2, ||A X C^T||_F^2 = tr(X^T A^T A X C^T C)."""
    f = folded(c)
    L, H = c.layers, c.heads
    out = {kind: np.full((L, H, L, H), np.nan) for kind in ("K", "Q", "V")}
    gram = {name: np.swapaxes(m, -1, -2) @ m for name, m in (("q", f.W_Q), ("k", f.W_K), ("v", f.W_V))}  # [L,H,dh,dh]
    gram_o2 = f.W_O @ np.swapaxes(f.W_O, -1, -2)  # W_O W_O^T, [L, H, dh, dh]
    qk2 = _trace(gram["q"], gram["k"])  # ||W_Q W_K^T||_F^2 = tr(W_Q^T W_Q W_K^T W_K)
    ov2 = _trace(gram["v"], gram_o2)  # ||W_V W_O||_F^2
    reads = {"Q": (f.W_Q, gram["k"]), "K": (f.W_K, gram["q"]), "V": (f.W_V, gram_o2)}  # M_2 and C^T C of each kind
    stacked = {kind: np.swapaxes(m, 1, 2).reshape(L, -1, H * m.shape[-1])  # [L, d, H*dh]: one GEMM a layer pair
               for kind, (m, _) in reads.items()}
    for l1 in range(L):
        for l2 in range(l1 + 1, L):
            o1 = fold(f.W_O[l1], c.between(l1, l2), c.centred)  # [H, dh, d]: W_O^1 B
            ov1 = _trace(gram["v"][l1], o1 @ np.swapaxes(o1, -1, -2))  # ||W_V^1 W_O^1 B||_F^2
            dh = o1.shape[1]
            for kind, (_, other) in reads.items():
                x = (o1.reshape(H * dh, -1) @ stacked[kind][l2]).reshape(H, dh, H, dh).transpose(0, 2, 1, 3)  # X
                ax = gram["v"][l1][:, None] @ x  # [H1, H2, dh, dh]: A^T A X
                num = _trace(np.swapaxes(x, -1, -2) @ ax, other[l2][None])  # tr(X^T A^T A X C^T C)
                den = ov1[:, None] * (ov2[l2] if kind == "V" else qk2[l2])[None, :]
                out[kind][l1, :, l2, :] = _ratio(num, den)
    return out


def random_composition(d: int, dh: int, *, draws: int = BASELINE_DRAWS, seed: int = BASELINE_SEED) -> np.ndarray:
    """[draws] the composition score of random Gaussian matrices of a model's shapes: ||V O Q K^T||_F /
    (||V O||_F ||Q K^T||_F) with V, Q, K [d, dh] and O [dh, d] drawn N(0, 1). Why one baseline for K, Q and V:
    each is the product of four factors of the same shapes ([d, dh] [dh, d] [d, dh] [dh, d]), so the three
    random scores have one distribution. At small d/dh random matrices already score well above 0 (about 0.12 at
    d = 64, dh = 32), which is what a pair's score means against."""
    rng = np.random.default_rng(seed)
    out = np.zeros(draws)
    for i in range(draws):
        v, q, k = (rng.standard_normal((d, dh)) for _ in range(3))  # [d, dh] each
        o = rng.standard_normal((dh, d))  # [dh, d]
        x = o @ q  # [dh, dh]
        num = np.trace(x.T @ (v.T @ v) @ x @ (k.T @ k))
        den = np.trace((v.T @ v) @ (o @ o.T)) * np.trace((q.T @ q) @ (k.T @ k))
        out[i] = np.sqrt(num / den)
    return out
