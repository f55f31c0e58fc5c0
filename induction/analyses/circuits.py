"""The weights side of a head's role: its OV circuit's copying score and the K-, Q- and V-composition between heads.

Why from weights: behaviour on RRT trials says where a head attends; whether what it moves raises the logit of the
token it attends to (Olsson et al. 2022, "copying") and which earlier head's output its query, key or value reads
(Elhage et al. 2021, "composition") are properties of the weight matrices, the mechanistic half of the definition.

Conventions: row vectors (x @ W), float64 numpy. Per head: Q, K, V [d, dh] and O [dh, d]; W_OV = V O and
W_QK = Q K^T, both [d, d]. Biases are left out: a bias moves every token alike.

LayerNorm is folded, not ignored: LN(x) = (x - mean(x)) * gamma / sigma(x) + beta, and the fold keeps the centring
and gamma (x -> (x - mean) * gamma, the map `fold` applies) and drops 1/sigma, a positive number per position that
scales every eigenvalue and every matrix of a score alike (both scores are ratios). Where a LayerNorm sits
depends on the family: BERT-style (post-LN) normalises the residual stream itself after every sublayer, so a head's
output passes through every later LayerNorm on its way to the logits and to a later head; GPT-2-style (pre-LN)
normalises only what each block reads (ln_1) and the final stream (ln_f). `Circuits` records both as lists of
gammas, and every path below is the product of their folds.

Families: BERT-style weights (attention.self.query/key/value nn.Linear, weight [out, in], with attention.output.dense;
BERT, RoBERTa and their kin) and GPT-2-style (attn.c_attn / c_proj Conv1D, weight [in, out], queries, keys and
values side by side in c_attn). Any other family is refused with one line; its behavioural roles still work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from induction.config import ModelLoadError

COPY_REACH_MIN = 1e-4  # an OV circuit whose eigenvalues reach less than this of the most its factors allow scores 0
SUPPORTED = "BERT-style (query/key/value with attention.output.dense) or GPT-2-style (c_attn/c_proj)"


@dataclass(frozen=True)
class Circuits:
    """One model's per-head attention weights and the LayerNorms on the residual paths between them."""

    family: str  # "bert" or "gpt2"
    q: np.ndarray  # [L, H, d, dh]
    k: np.ndarray  # [L, H, d, dh]
    v: np.ndarray  # [L, H, d, dh]
    o: np.ndarray  # [L, H, dh, d]
    v_bias: np.ndarray  # [L, H, dh] (the behavioural copy score computes the head's real output)
    embed_ln: tuple[np.ndarray, ...]  # gammas between the token embedding and the stream (BERT: the embedding LN)
    read_ln: tuple[tuple[np.ndarray, ...], ...]  # per layer: what its attention's input passes (GPT-2: ln_1)
    write_ln: tuple[tuple[np.ndarray, ...], ...]  # per layer: what the stream passes after it (BERT: both LNs)
    final_ln: tuple[np.ndarray, ...]  # before the unembedding (GPT-2: ln_f)
    embed: np.ndarray | None = None  # [V, d] token embeddings
    unembed: np.ndarray | None = None  # [d, V] the linear read-out of the logits
    unembed_note: str | None = None  # why embed/unembed are missing

    @property
    def layers(self) -> int:
        return int(self.q.shape[0])

    @property
    def heads(self) -> int:
        return int(self.q.shape[1])

    def embed_path(self, layer: int) -> list[np.ndarray]:
        """Gammas from the token embedding to what `layer`'s attention reads."""
        return [*self.embed_ln, *(g for k in range(layer) for g in self.write_ln[k]), *self.read_ln[layer]]

    def between(self, source: int, target: int) -> list[np.ndarray]:
        """Gammas from what a head of layer `source` writes to what layer `target` (> source) reads."""
        return [*(g for k in range(source, target) for g in self.write_ln[k]), *self.read_ln[target]]

    def logit_path(self, layer: int) -> list[np.ndarray]:
        """Gammas from what a head of `layer` writes to the unembedding's input."""
        return [*(g for k in range(layer, self.layers) for g in self.write_ln[k]), *self.final_ln]


def fold(rows: np.ndarray, gammas: list[np.ndarray]) -> np.ndarray:
    """Row vectors [..., d] through the folded LayerNorms, in order: x -> (x - mean(x)) * gamma each."""
    for g in gammas:
        rows = (rows - rows.mean(axis=-1, keepdims=True)) * g
    return rows


def fold_before(cols: np.ndarray, gammas: list[np.ndarray]) -> np.ndarray:
    """The folded LayerNorms applied before a matrix [d, n]: returns F_1 ... F_k @ cols (F = centre, then gamma)."""
    for g in reversed(gammas):
        cols = g[:, None] * cols
        cols = cols - cols.mean(axis=0, keepdims=True)
    return cols


# ---- reading the weights, per family -------------------------------------------------------------------------------

def _np(t) -> np.ndarray:
    return t.detach().float().cpu().numpy().astype(np.float64)


def _split_heads(w: np.ndarray, heads: int) -> np.ndarray:
    """[d, H*dh] columns (head h at h*dh..) -> [H, d, dh]."""
    d, width = w.shape
    return w.reshape(d, heads, width // heads).transpose(1, 0, 2)


def _bert_layers(encoder):
    layers = getattr(getattr(encoder, "encoder", None), "layer", None)
    if layers is None or not len(layers):
        return None
    for layer in layers:
        att = getattr(layer, "attention", None)
        self_att, out = getattr(att, "self", None), getattr(att, "output", None)
        if not all(hasattr(self_att, n) for n in ("query", "key", "value")) or not hasattr(out, "dense") \
                or not hasattr(out, "LayerNorm") or not hasattr(getattr(layer, "output", None), "LayerNorm"):
            return None
    return layers


def _gpt2_layers(encoder):
    blocks = getattr(encoder, "h", None)
    if blocks is None or not len(blocks) or not hasattr(encoder, "ln_f") or not hasattr(encoder, "wte"):
        return None
    for block in blocks:
        attn = getattr(block, "attn", None)
        if type(getattr(attn, "c_attn", None)).__name__ != "Conv1D" or not hasattr(attn, "c_proj") \
                or not hasattr(block, "ln_1"):
            return None
    return blocks


def read_circuits(loaded) -> Circuits:
    """A loaded model's per-head weights (and its unembedding where it has one); a ModelLoadError naming the
    families that work otherwise."""
    encoder, heads = loaded.encoder, loaded.heads
    if getattr(encoder.config, "num_key_value_heads", heads) not in (None, heads):
        raise ModelLoadError(f"{loaded.name!r} shares key/value heads; copying and composition read {SUPPORTED} "
                             "weights (its behavioural roles work)")
    if _bert_layers(encoder) is not None:
        return _read_bert(loaded, _bert_layers(encoder), heads)
    if _gpt2_layers(encoder) is not None:
        return _read_gpt2(loaded, _gpt2_layers(encoder), heads)
    raise ModelLoadError(f"{loaded.name!r} ({encoder.config.model_type}) has neither {SUPPORTED} attention weights, "
                         "so its copying and composition scores are not computed (its behavioural roles are)")


def _read_bert(loaded, layers, heads: int) -> Circuits:
    """nn.Linear computes x @ W^T: per head, rows h*dh.. of query/key/value and columns h*dh.. of output.dense."""
    q, k, v, o, vb = [], [], [], [], []
    for layer in layers:
        s = layer.attention.self
        q.append(_split_heads(_np(s.query.weight).T, heads))
        k.append(_split_heads(_np(s.key.weight).T, heads))
        v.append(_split_heads(_np(s.value.weight).T, heads))
        vb.append(_np(s.value.bias).reshape(heads, -1) if s.value.bias is not None else None)
        o.append(_split_heads(_np(layer.attention.output.dense.weight), heads).transpose(0, 2, 1))  # [H, dh, d]
    vb = [b if b is not None else np.zeros(q[0].shape[::2]) for b in vb]
    emb = loaded.encoder.embeddings
    write = tuple((_np(l.attention.output.LayerNorm.weight), _np(l.output.LayerNorm.weight)) for l in layers)
    circuits = Circuits("bert", np.stack(q), np.stack(k), np.stack(v), np.stack(o), np.stack(vb),
                        embed_ln=(_np(emb.LayerNorm.weight),), read_ln=tuple(() for _ in layers),
                        write_ln=write, final_ln=())
    return _with_unembedding(circuits, loaded, _np(emb.word_embeddings.weight))


def _read_gpt2(loaded, blocks, heads: int) -> Circuits:
    """Conv1D computes x @ W + b: c_attn's columns are [queries | keys | values], head h at h*dh.. in each;
    c_proj's rows h*dh.. are head h's output."""
    q, k, v, o, vb = [], [], [], [], []
    for block in blocks:
        w, b = _np(block.attn.c_attn.weight), _np(block.attn.c_attn.bias)  # [d, 3d], [3d]
        d = w.shape[0]
        q.append(_split_heads(w[:, :d], heads))
        k.append(_split_heads(w[:, d:2 * d], heads))
        v.append(_split_heads(w[:, 2 * d:], heads))
        vb.append(b[2 * d:].reshape(heads, -1))
        o.append(_np(block.attn.c_proj.weight).reshape(heads, d // heads, d))  # [H, dh, d]
    circuits = Circuits("gpt2", np.stack(q), np.stack(k), np.stack(v), np.stack(o), np.stack(vb), embed_ln=(),
                        read_ln=tuple((_np(b.ln_1.weight),) for b in blocks), write_ln=tuple(() for _ in blocks),
                        final_ln=(_np(loaded.encoder.ln_f.weight),))
    return _with_unembedding(circuits, loaded, _np(loaded.encoder.wte.weight))


def _with_unembedding(circuits: Circuits, loaded, embed: np.ndarray) -> Circuits:
    from dataclasses import replace

    try:
        unembed = read_unembedding(loaded)
    except ModelLoadError as exc:
        return replace(circuits, unembed_note=str(exc))
    if embed.shape[1] != circuits.q.shape[2]:
        return replace(circuits, unembed_note=f"{loaded.name!r} projects its embeddings to the hidden size, which "
                                              "the token-space OV circuit does not follow")
    return replace(circuits, embed=embed, unembed=unembed)


def _slope(act, at: np.ndarray) -> np.ndarray:
    """The derivative of an elementwise activation at `at`: the MLM transform linearised at a zero input."""
    import torch

    x = torch.tensor(at, dtype=torch.float64, requires_grad=True)
    act(x).sum().backward()
    return x.grad.numpy()


def read_unembedding(loaded) -> np.ndarray:
    """[d, V]: the model's own read-out of the logits, linear. A decoder: its LM head (ln_f is on the path, folded
    there). An encoder: its MLM head, dense -> activation -> LayerNorm -> decoder, the activation replaced by its
    slope at the dense bias (the head linearised at a zero input) and the LayerNorm folded."""
    import torch.nn.functional as F

    mlm = loaded.mlm
    if mlm is None:
        raise ModelLoadError(f"{loaded.name!r} has no trained LM head, so no unembedding to read copying through")
    if loaded.kind == "causal":
        head = getattr(mlm, "lm_head", None)
        if head is None or getattr(head, "weight", None) is None:
            raise ModelLoadError(f"{loaded.name!r}: no lm_head to read copying through")
        return _np(head.weight).T
    predictions = getattr(getattr(mlm, "cls", None), "predictions", None)
    if predictions is not None and hasattr(predictions, "transform"):  # BERT
        t = predictions.transform
        dense, act, norm, decoder = t.dense, t.transform_act_fn, t.LayerNorm, predictions.decoder
    elif all(hasattr(getattr(mlm, "lm_head", None), n) for n in ("dense", "layer_norm", "decoder")):  # RoBERTa
        head = mlm.lm_head
        dense, act, norm, decoder = head.dense, F.gelu, head.layer_norm, head.decoder
    else:
        raise ModelLoadError(f"{loaded.name!r}: its MLM head is neither BERT's (cls.predictions) nor RoBERTa's "
                             "(lm_head.dense/layer_norm/decoder), so copying is not read through it")
    bias = _np(dense.bias) if dense.bias is not None else np.zeros(dense.out_features)
    first = _np(dense.weight).T * _slope(act, bias)[None, :]  # [d, d]: x -> act'(b) * (x @ W^T)
    return first @ fold_before(_np(decoder.weight).T, [_np(norm.weight)])  # [d, V]


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
    """(score, reach), each [L, H]. The token-space OV circuit of head h in layer l is the [V, V] matrix
    M = E R_l V_h O_h W_l U (R_l, W_l: the folded paths from the embedding and to the logits); its score is
    sum(eigenvalues) / sum(|eigenvalues|), in [-1, 1] (1: every token raises its own logit). M is never formed:
    its nonzero eigenvalues are those of the cyclic product O_h (W_l U E R_l) V_h, [dh, dh], built from the
    [d, d] product U E computed once. `reach` = ||eigenvalues||_2 / (||E R_l||_2 ||V_h O_h||_F ||W_l U||_2), at most 1;
    a head below COPY_REACH_MIN barely reaches the logits and scores 0 (not a ratio of rounding errors)."""
    if c.embed is None or c.unembed is None:
        raise ModelLoadError(c.unembed_note or "no unembedding")
    ue = c.unembed @ c.embed  # [d, d]
    gram_e, gram_u = c.embed.T @ c.embed, c.unembed @ c.unembed.T  # [d, d] each
    score, reach = np.zeros((c.layers, c.heads)), np.zeros((c.layers, c.heads))
    for l in range(c.layers):
        read, write = c.embed_path(l), c.logit_path(l)
        kernel = fold_before(fold(ue, read), write)  # W_l U E R_l: [d, d]
        e_norm = _top_singular(fold(fold(gram_e, read).T, read))  # ||E R_l||_2 from (R^T E^T E R)^T
        u_norm = _top_singular(fold_before(fold_before(gram_u, write).T, write))  # ||W_l U||_2 from W U U^T W^T
        for h in range(c.heads):
            eig = np.linalg.eigvals(c.o[l, h] @ kernel @ c.v[l, h])  # [dh]
            ov = np.sqrt(max(np.trace((c.v[l, h].T @ c.v[l, h]) @ (c.o[l, h] @ c.o[l, h].T)), 0.0))  # ||V O||_F
            scale = e_norm * ov * u_norm
            reach[l, h] = float(np.linalg.norm(eig) / scale) if scale > 0 else 0.0
            total = float(np.abs(eig).sum())
            score[l, h] = float(eig.sum().real / total) if reach[l, h] >= COPY_REACH_MIN and total > 0 else 0.0
    return score, reach


# ---- composition ---------------------------------------------------------------------------------------------------

def _ratio(num2: np.ndarray, den2: np.ndarray) -> np.ndarray:
    """sqrt(num2 / den2), 0 where the denominator is 0 (a head with no weights composes with nothing)."""
    out = np.zeros_like(num2)
    ok = den2 > 0
    out[ok] = np.sqrt(np.clip(num2[ok], 0, None) / den2[ok])
    return out


def _trace(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """tr(a @ b) over the last two axes, without the product."""
    return (a * np.swapaxes(b, -1, -2)).sum(axis=(-1, -2))


def composition_scores(c: Circuits) -> dict[str, np.ndarray]:
    """{"K", "Q", "V"} -> [L, H, L, H]: entry [l1, h1, l2, h2] is how much head (l2, h2) reads head (l1, h1)'s
    output through its key, query or value (Elhage et al. 2021): ||W_OV^1 W_QK^2 (as applied)||_F /
    (||W_OV^1||_F ||W_QK^2||_F) with W_OV^1 = V_1 O_1 B (B: the folded path from layer l1 to layer l2), and
    Q: W_OV^1 W_QK^2, K: W_OV^1 W_QK^2^T, V: W_OV^1 W_OV^2. NaN where l1 >= l2. The [d, d] matrices are never
    formed: with A = V_1, X = (O_1 B) M_2 and C the other factor of head 2, ||A X C^T||_F^2 = tr(X^T A^T A X C^T C)."""
    L, H = c.layers, c.heads
    out = {kind: np.full((L, H, L, H), np.nan) for kind in ("K", "Q", "V")}
    gram = {name: np.swapaxes(m, -1, -2) @ m for name, m in (("q", c.q), ("k", c.k), ("v", c.v))}  # [L, H, dh, dh]
    gram_o2 = c.o @ np.swapaxes(c.o, -1, -2)  # O O^T, [L, H, dh, dh]
    qk2 = _trace(gram["q"], gram["k"])  # ||Q K^T||_F^2 = tr(Q^T Q K^T K)
    ov2 = _trace(gram["v"], gram_o2)  # ||V O||_F^2 = tr(V^T V O O^T)
    reads = {"Q": (c.q, gram["k"]), "K": (c.k, gram["q"]), "V": (c.v, gram_o2)}  # M_2 and C^T C of each kind
    stacked = {kind: np.swapaxes(m, 1, 2).reshape(L, -1, H * m.shape[-1])  # [L, d, H*dh]: one GEMM a layer pair
               for kind, (m, _) in reads.items()}
    for l1 in range(L):
        for l2 in range(l1 + 1, L):
            o1 = fold(c.o[l1], c.between(l1, l2))  # [H, dh, d]: O_1 B
            ov1 = _trace(gram["v"][l1], o1 @ np.swapaxes(o1, -1, -2))  # ||V_1 O_1 B||_F^2
            dh = o1.shape[1]
            for kind, (_, other) in reads.items():
                x = (o1.reshape(H * dh, -1) @ stacked[kind][l2]).reshape(H, dh, H, dh).transpose(0, 2, 1, 3)  # X
                ax = gram["v"][l1][:, None] @ x  # [H1, H2, dh, dh]: A^T A X
                num = _trace(np.swapaxes(x, -1, -2) @ ax, other[l2][None])  # tr(X^T A^T A X C^T C)
                den = ov1[:, None] * (ov2[l2] if kind == "V" else qk2[l2])[None, :]
                out[kind][l1, :, l2, :] = _ratio(num, den)
    return out
