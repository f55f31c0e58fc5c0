"""The `toy` induction organism's vocabulary, data and (attempted) training.

Why: the project needs a model whose answer is known and that works offline. This
module defines the toy's BERT-like vocabulary and tokenizer, the dense repeated-span
data, and a training loop. Training did not produce a clean induction head here
(2 CPU cores): with 256 words and segments 6-40, 6,000 steps (16 minutes) reached a
loss of 2.3 nats with the best head at 0.27 attention to the previous instance at
segment 8 and 0.11 at 16; with 96 words and segments 6-24, 5,000 steps reached 1.96
nats with 0.57 at segment 6 falling to 0.36 at 16. So the shipped weights are set
by hand (induction/toy_circuit.py); this loop stays for anyone who wants to try:

    python -m induction.toy --out /tmp/toy-trained --steps 6000 --seed 0

Vocabulary layout copies BERT's so the `paper` protocol's id range works:
0 [PAD], 1..99 [unused0..98], 100 [UNK], 101 [CLS], 102 [SEP], 103 [MASK], then
`N_WORDS` ordinary tokens t000, t001, ...
"""

from __future__ import annotations

import argparse
import math
import time
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


def repeated_batch(
    rng: np.random.Generator, batch: int, segment: int, *, copies: int, prefix: int, suffix: bool
) -> tuple[np.ndarray, np.ndarray]:
    """`prefix` + `copies` x segment (+ [SEP]); a third of one later copy masked.

    Returns (input_ids, labels), both [batch, seq]; labels are -100 where not masked.
    """
    words = np.stack([rng.choice(N_WORDS, size=segment, replace=False) for _ in range(batch)]) + FIRST_WORD
    body = np.tile(words, (1, copies))  # [B, copies * segment]
    parts = [np.full((batch, 1), prefix), body] + ([np.full((batch, 1), SEP)] if suffix else [])
    ids = np.concatenate(parts, axis=1)  # [B, S]
    labels = np.full_like(ids, -100)
    copy = rng.integers(1, copies, size=batch)  # which later copy to mask
    n_mask = max(1, segment // 3)
    for b in range(batch):
        pos = 1 + copy[b] * segment + rng.choice(segment, size=n_mask, replace=False)
        labels[b, pos] = ids[b, pos]
        ids[b, pos] = MASK
    return ids, labels


def random_batch(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    """One training batch with a random layout and segment length."""
    copies = int(rng.choice([2, 2, 3]))
    high = min(SEGMENT_RANGE[1], (MAX_POSITIONS - 2) // copies)
    segment = int(rng.integers(SEGMENT_RANGE[0], high + 1))
    prefix, suffix = (CLS, True) if rng.random() < 0.5 else (SEP, False)
    return repeated_batch(rng, batch, segment, copies=copies, prefix=prefix, suffix=suffix)


def build_model(seed: int):
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=VOCAB_SIZE, hidden_size=128, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=512, max_position_embeddings=MAX_POSITIONS, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0, pad_token_id=PAD,
    )
    return BertForMaskedLM(config)


def save_tokenizer(out: Path) -> None:
    from transformers import BertTokenizerFast

    vocab = {tok: i for i, tok in enumerate(vocab_tokens())}
    BertTokenizerFast(vocab=vocab, do_lower_case=True).save_pretrained(out)


def save(model, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.config.architectures = ["BertForMaskedLM"]
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(out)


def train(out: Path, *, steps: int, seed: int, batch: int = 64, lr: float = 1e-3,
          checkpoints: Path | None = None, every: int = 250) -> None:
    """Train; with `checkpoints`, also save the model at step 0, every `every` steps and at the end
    (as checkpoints/seed_S/step_NNNNNN folders: the Training dynamics page's offline known answer)."""
    rng = np.random.default_rng(seed)
    model = build_model(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 30)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))
    )
    start, running = time.time(), None
    for step in range(steps):
        if checkpoints is not None and step % every == 0:
            save(model, checkpoints / f"seed_{seed}" / f"step_{step:06d}")
        ids, labels = random_batch(rng, batch)
        out_ = model(input_ids=torch.from_numpy(ids), labels=torch.from_numpy(labels))
        opt.zero_grad()
        out_.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        running = out_.loss.item() if running is None else 0.98 * running + 0.02 * out_.loss.item()
        if step % 250 == 0 or step == steps - 1:
            print(f"step {step:5d}  loss {running:.3f}  chance {math.log(N_WORDS):.3f}  "
                  f"{time.time() - start:.0f}s", flush=True)
    save(model, out)
    if checkpoints is not None:
        save(model, checkpoints / f"seed_{seed}" / f"step_{steps:06d}")
    print(f"saved to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the toy induction model.")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--checkpoints", type=Path, default=None, help="also save checkpoints into this folder")
    parser.add_argument("--every", type=int, default=250, help="steps between checkpoints")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    train(args.out, steps=args.steps, seed=args.seed, checkpoints=args.checkpoints, every=args.every)


if __name__ == "__main__":
    main()
