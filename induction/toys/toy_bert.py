"""`toy`: the encoder known-answer model, a two-layer induction circuit set by hand in a real BertForMaskedLM.

Why: the project needs an encoder whose answer is known and that works offline. Training one on these
CPUs did not give a clean induction head in the earlier rounds (a 2-layer BERT reached 2.3 nats with its
best head at 0.27 attention to the previous instance), so the weights are set by hand; the models that
*learn* induction here are in `induction.toys.training`.

Vocabulary layout copies BERT's so the `paper` protocol's id range works:
0 [PAD], 1..99 [unused0..98], 100 [UNK], 101 [CLS], 102 [SEP], 103 [MASK], then
`N_WORDS` ordinary tokens t000, t001, ...

The residual stream (hidden 400) is split into orthogonal subspaces, all orthogonal to
the all-ones vector so BERT's LayerNorms only rescale:
  POS (128: position i is b*e_i), WORD (64: token t is a*u_t, u_t a random unit vector),
  PREV (64), NEXT (64), OUT (64).
Layer 0: head 0 attends from i to i-1 (previous-token head) and writes WORD(i-1) into PREV;
         head 1 attends from i to i+1 (next-token head) and writes WORD(i+1) into NEXT.
Layer 1: head 0 (left-context induction) attends from i to every j != i whose PREV matches
         PREV(i), i.e. the position after an earlier (or later) instance of i's left
         neighbour, and copies that token's WORD into OUT; head 1 does the same with NEXT
         (right-context induction). Unmatched attention parks on position 0 ([CLS]/[SEP],
         which carry no word code), as real BERT heads park on [SEP]: no match, no copy.
MLM head: reads OUT and scores every word by its dot product with OUT, so a clean match
predicts the masked token with high confidence and no match gives a near-uniform guess.
Feed-forward blocks are zero. Measured maps (50 trials, segment 16): standard `prev` 0.89 for
L1H0 and 0.88 for L1H1;
shuffled `left_match` for L1H0 and `right_match` for L1H1; triple splits between
`earlier` and `later`.

    python -m induction.toys.toy_bert --out induction/toys/assets/toy
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

N_WORDS = 256
N_UNUSED = 99
PAD, UNK, CLS, SEP, MASK = 0, 100, 101, 102, 103
FIRST_WORD = 104
VOCAB_SIZE = FIRST_WORD + N_WORDS
MAX_POSITIONS = 128
SEGMENT_RANGE = (6, 40)  # segment lengths seen in training; the toy's default map segment is 16
DEFAULT_SEGMENT = 16


def vocab_tokens() -> list[str]:
    """The toy tokenizer's vocabulary, one token per id."""
    unused = [f"[unused{i}]" for i in range(N_UNUSED)]
    words = [f"t{i:03d}" for i in range(N_WORDS)]
    return ["[PAD]", *unused, "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]


def save_tokenizer(out: Path) -> None:
    from transformers import BertTokenizerFast

    vocab = {tok: i for i, tok in enumerate(vocab_tokens())}
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(out)



HIDDEN, HEADS, HEAD_DIM = 400, 2, 200
WORD_DIMS = 64
WORD_NORM = 10.0  # a
POS_NORM = float(np.sqrt(HIDDEN - WORD_NORM**2))  # b: a^2 + b^2 = hidden, so the embedding LayerNorm is exact
POS_LOGIT = 30.0  # layer 0: attention logit of the neighbouring position (exact: positions are orthonormal)
MATCH_LOGIT = 8.0  # layer 1: logit of a matching token code; non-matches get noise of std MATCH_LOGIT/8
SELF_PENALTY = 60.0  # induction heads never attend to their own position
SINK_LOGIT = 5.0  # induction heads park unmatched attention on position 0, whose value is zero
ANCHOR = 100.0  # fixed component in the MLM transform: keeps the prediction's confidence proportional to OUT
OUT_GAIN = 1.6  # LayerNorm gain of the MLM transform: sets the temperature of a clean match


def _basis(seed: int) -> dict[str, np.ndarray]:
    """Orthonormal column blocks of R^HIDDEN, all orthogonal to the all-ones vector."""
    rng = np.random.default_rng(seed)
    raw = np.concatenate([np.ones((HIDDEN, 1)), rng.standard_normal((HIDDEN, HIDDEN - 1))], axis=1)
    q, _ = np.linalg.qr(raw)  # q[:, 0] is +-ones/sqrt(HIDDEN)
    sizes = {"POS": MAX_POSITIONS, "WORD": WORD_DIMS, "PREV": WORD_DIMS, "NEXT": WORD_DIMS, "OUT": WORD_DIMS,
             "ANCHOR": 1}
    blocks, start = {}, 1
    for name, n in sizes.items():
        blocks[name] = q[:, start:start + n]  # [HIDDEN, n]
        start += n
    return blocks


def build(seed: int = 0):
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(vocab_size=VOCAB_SIZE, hidden_size=HIDDEN, num_hidden_layers=2, num_attention_heads=HEADS,
                        intermediate_size=4, max_position_embeddings=MAX_POSITIONS, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, pad_token_id=PAD, layer_norm_eps=1e-12)
    model = BertForMaskedLM(config).eval()
    B = _basis(seed)
    rng = np.random.default_rng(seed + 1)
    u = rng.standard_normal((VOCAB_SIZE, WORD_DIMS))
    u /= np.linalg.norm(u, axis=1, keepdims=True)  # [V, 64] token codes
    scale = 1 / np.sqrt(HEAD_DIM)
    s1 = np.sqrt(HIDDEN / (HIDDEN + 2 * WORD_NORM**2))  # LayerNorm rescale after layer 0 writes PREV and NEXT
    P = B["POS"]  # [HIDDEN, 128]
    shift_prev = np.eye(MAX_POSITIONS, k=1)  # row k reads position k+1: query i lands on coordinate i-1
    shift_next = np.eye(MAX_POSITIONS, k=-1)  # row k reads position k-1: query i lands on coordinate i+1

    def qkv(q_rows, k_rows, v_rows):
        """Stack per-head [HEAD_DIM, HIDDEN] blocks into full [HIDDEN, HIDDEN] weights."""
        return [np.concatenate(rows, axis=0) for rows in (q_rows, k_rows, v_rows)]

    def head_block(mat: np.ndarray) -> np.ndarray:
        out = np.zeros((HEAD_DIM, HIDDEN))
        out[:mat.shape[0]] = mat
        return out

    # layer 0: previous-token and next-token heads
    q0 = [head_block(POS_LOGIT / scale / POS_NORM * shift_prev @ P.T),
          head_block(POS_LOGIT / scale / POS_NORM * shift_next @ P.T)]
    k0 = [head_block(P.T / POS_NORM)] * 2
    v0 = [head_block(B["WORD"].T)] * 2
    o0 = np.zeros((HIDDEN, HIDDEN))
    o0[:, :WORD_DIMS] = B["PREV"]
    o0[:, HEAD_DIM:HEAD_DIM + WORD_DIMS] = B["NEXT"]

    # layer 1: induction heads matching PREV (head 0) and NEXT (head 1), never attending to themselves
    def induction(sub: str):
        q = np.concatenate([MATCH_LOGIT / scale / (s1 * WORD_NORM) * B[sub].T,
                            -SELF_PENALTY / scale / (s1 * POS_NORM) * P.T])
        k = np.concatenate([B[sub].T / (s1 * WORD_NORM), P.T / (s1 * POS_NORM), P[:, :1].T / sink_norm])
        q_bias = np.zeros(HEAD_DIM)
        q_bias[k.shape[0] - 1] = SINK_LOGIT / scale  # a constant query coordinate meets position 0's key
        return head_block(q), head_block(k), head_block(B["WORD"].T), q_bias

    # position 0 ([CLS] or [SEP], no word code) reaches layer 1 as 20*e_0 rescaled by the NEXT its neighbour wrote
    sink_norm = np.sqrt(HIDDEN) * np.sqrt(HIDDEN / (HIDDEN + WORD_NORM**2))
    (q1a, k1a, v1a, qb_a), (q1b, k1b, v1b, qb_b) = induction("PREV"), induction("NEXT")
    o1 = np.zeros((HIDDEN, HIDDEN))
    o1[:, :WORD_DIMS] = B["OUT"]
    o1[:, HEAD_DIM:HEAD_DIM + WORD_DIMS] = B["OUT"]

    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731 - a one-line converter reads better than a def here
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        emb = model.bert.embeddings
        words = WORD_NORM * u @ B["WORD"].T
        words[[PAD, CLS, SEP]] = 0.0  # no word code: attending to them copies nothing
        emb.word_embeddings.weight.copy_(t(words))
        emb.position_embeddings.weight.copy_(t(POS_NORM * P.T))
        for layer, (qs, ks, vs, o) in enumerate([(q0, k0, v0, o0), ([q1a, q1b], [k1a, k1b], [v1a, v1b], o1)]):
            block = model.bert.encoder.layer[layer]
            wq, wk, wv = qkv(qs, ks, vs)
            block.attention.self.query.weight.copy_(t(wq))
            block.attention.self.key.weight.copy_(t(wk))
            block.attention.self.value.weight.copy_(t(wv))
            block.attention.output.dense.weight.copy_(t(o))
        model.bert.encoder.layer[1].attention.self.query.bias.copy_(t(np.concatenate([qb_a, qb_b])))
        for ln in [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]:
            ln.weight.fill_(1.0)
        # MLM head: map OUT onto WORD, plus a large fixed anchor and a positive shift for the GELU
        transform = model.cls.predictions.transform
        transform.dense.weight.copy_(t(B["WORD"] @ B["OUT"].T))
        transform.dense.bias.copy_(t(40.0 + ANCHOR * B["ANCHOR"][:, 0]))
        transform.LayerNorm.weight.fill_(OUT_GAIN)
        bias = np.full(VOCAB_SIZE, -20.0)
        bias[FIRST_WORD:] = 0.0  # only ordinary words are ever predicted
        model.cls.predictions.bias.copy_(t(bias))
    model.config.architectures = ["BertForMaskedLM"]
    return model


def circuit_main(build_model, write_tokenizer, folder: str, what: str) -> None:
    """The command line of a hand-set model's script: build it with --seed, save it and its tokenizer to --out
    (default: the bundled folder in induction/toys/assets)."""
    parser = argparse.ArgumentParser(description=f"Write {what}'s hand-set induction circuit.")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "assets" / folder)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    build_model(args.seed).save_pretrained(args.out)
    write_tokenizer(args.out)
    print(f"saved to {args.out}")


def main() -> None:
    circuit_main(build, save_tokenizer, "toy", "the toy")


if __name__ == "__main__":
    main()
