"""`toy-gpt`: a causal known-answer model, its induction circuit written by hand into a real GPT2LMHeadModel.

Why: the causal side of the tool (the repeat setup, next-token losses, the mosaic) needs an offline
model whose answer is known, as `toy` is for encoders. Two layers, two heads each, feed-forward
blocks zero, weights untied. The residual stream (hidden 384) is split into orthogonal subspaces,
all orthogonal to the all-ones vector so GPT-2's pre-LayerNorms only rescale:
  POS (128: position i is b*e_i), WORD (64: token t is a*u_t, u_t a random unit vector), PREV (64), OUT (64).
Layer 0, head 0 (previous-token head): attends from i to i-1 and writes WORD(i-1) into PREV.
Layer 1, head 0 (induction head): attends from i to every earlier j whose PREV matches WORD(i) -- the
  position after an earlier instance of i's token -- and copies that token's WORD into OUT. Unmatched
  attention parks on the BOS (position 0, no word code), so the first copy copies nothing.
Heads L0H1 and L1H1 are off (no query, key or value): uniform attention that writes nothing.
Unembedding: reads OUT and scores each word by its dot product with it, so in the second copy of a
repeated segment the next token is predicted with high confidence.

    python -m induction.toys.toy_gpt --out induction/toys/assets/toy-gpt
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

N_WORDS = 256
PAD, UNK, BOS = 0, 1, 2
FIRST_WORD = 3
VOCAB_SIZE = FIRST_WORD + N_WORDS
MAX_POSITIONS = 128
HIDDEN, HEADS, HEAD_DIM, CODE = 384, 2, 192, 64
WORD_NORM = 10.0  # a; PREV is written with the same norm
POS_NORM = float(np.sqrt(HIDDEN - WORD_NORM**2))  # b: a^2 + b^2 = hidden, so the first LayerNorm is exact
OUT_NORM = 10.0  # d: what a clean match writes into OUT
POS_LOGIT = 30.0  # layer 0: logit of the previous position
MATCH_LOGIT = 8.0  # layer 1: logit of a matching token code; others get noise of std MATCH_LOGIT/8
SINK_LOGIT = 5.0  # layer 1: logit of the BOS, where unmatched attention parks
NEXT_LOGIT = 20.0  # unembedding: the logit of the copied token at a clean match


def _basis(seed: int) -> dict[str, np.ndarray]:
    """Orthonormal column blocks of R^HIDDEN, all orthogonal to the all-ones vector."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(np.concatenate([np.ones((HIDDEN, 1)), rng.standard_normal((HIDDEN, HIDDEN - 1))], axis=1))
    blocks, start = {}, 1
    for name, n in {"POS": MAX_POSITIONS, "WORD": CODE, "PREV": CODE, "OUT": CODE}.items():
        blocks[name] = q[:, start:start + n]  # [HIDDEN, n]
        start += n
    return blocks


def _heads(*rows: np.ndarray) -> np.ndarray:
    """Per-head [n, HIDDEN] maps (zero-padded to HEAD_DIM rows) stacked into one [HIDDEN, HIDDEN] map."""
    out = np.zeros((HIDDEN, HIDDEN))
    for h, mat in enumerate(rows):
        out[h * HEAD_DIM:h * HEAD_DIM + mat.shape[0]] = mat
    return out


def config(**overrides):
    from transformers import GPT2Config

    return GPT2Config(vocab_size=VOCAB_SIZE, n_positions=MAX_POSITIONS, n_embd=HIDDEN, n_layer=2, n_head=HEADS,
                      n_inner=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-12,
                      bos_token_id=BOS, eos_token_id=BOS, pad_token_id=PAD, tie_word_embeddings=False, **overrides)


def build(seed: int = 0):
    from transformers import GPT2LMHeadModel

    model = GPT2LMHeadModel(config()).eval()
    B = _basis(seed)
    u = np.random.default_rng(seed + 1).standard_normal((VOCAB_SIZE, CODE))
    u /= np.linalg.norm(u, axis=1, keepdims=True)  # [V, 64] token codes
    u[:FIRST_WORD] = 0.0  # no word code: attending to PAD, UNK or BOS copies nothing
    scale = HEAD_DIM**-0.5
    s1 = np.sqrt(HIDDEN / (HIDDEN + WORD_NORM**2))  # LayerNorm rescale once layer 0 has written PREV
    P = B["POS"]
    shift_prev = np.eye(MAX_POSITIONS, k=1)  # query i lands on coordinate i-1
    # layer 0: head 0 attends to the previous position and moves its word code into PREV
    q0 = _heads(POS_LOGIT / scale / POS_NORM * shift_prev @ P.T)
    k0 = _heads(P.T / POS_NORM)
    v0 = _heads(B["WORD"].T)
    o0 = np.zeros((HIDDEN, HIDDEN))
    o0[:, :CODE] = B["PREV"]
    # layer 1: head 0 matches the query's word against each key's PREV, parks on the BOS, copies WORD into OUT
    sink = np.zeros((1, HIDDEN))
    q1 = _heads(np.concatenate([MATCH_LOGIT / scale / (s1 * WORD_NORM) * B["WORD"].T, sink]))
    k1 = _heads(np.concatenate([B["PREV"].T / (s1 * WORD_NORM), P[:, :1].T / np.sqrt(HIDDEN)]))
    q1_bias = np.zeros(HIDDEN)
    q1_bias[CODE] = SINK_LOGIT / scale  # a constant query coordinate meets the BOS's position code
    v1 = _heads(B["WORD"].T / (s1 * WORD_NORM))
    o1 = np.zeros((HIDDEN, HIDDEN))
    o1[:, :CODE] = OUT_NORM * B["OUT"]
    final = np.sqrt(HIDDEN / (HIDDEN + WORD_NORM**2 + OUT_NORM**2))  # the last LayerNorm's rescale at a match

    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731 - a one-line converter reads better than a def here
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.transformer.wte.weight.copy_(t(WORD_NORM * u @ B["WORD"].T))
        model.transformer.wpe.weight.copy_(t(POS_NORM * P.T))
        for block, (q, k, v, o) in zip(model.transformer.h, [(q0, k0, v0, o0), (q1, k1, v1, o1)], strict=True):
            block.attn.c_attn.weight.copy_(t(np.concatenate([q, k, v]).T))  # Conv1D: [in, out]
            block.attn.c_proj.weight.copy_(t(o.T))
        model.transformer.h[1].attn.c_attn.bias[:HIDDEN].copy_(t(q1_bias))
        for ln in [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]:
            ln.weight.fill_(1.0)
        model.lm_head.weight.copy_(t(NEXT_LOGIT / (final * OUT_NORM) * u @ B["OUT"].T))
    model.config.architectures = ["GPT2LMHeadModel"]
    return model


def save_tokenizer(out: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(["<pad>", "<unk>", "<bos>", *(f"t{i:03d}" for i in range(N_WORDS))])}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<bos>", eos_token="<bos>", unk_token="<unk>",
                            pad_token="<pad>").save_pretrained(out)


def main() -> None:
    from induction.toys.toy_bert import circuit_main

    circuit_main(build, save_tokenizer, "toy-gpt", "toy-gpt")


if __name__ == "__main__":
    main()
