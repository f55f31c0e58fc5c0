"""Bring your own model, as a notebook would: load the bundled `toy` into memory, map it, fine-tune it for a few
steps (no save to disk), map it again, and watch the cache tell the two models apart (offline, a few seconds).

    python examples/fine_tune_in_memory.py             # prints what it finds
    python examples/fine_tune_in_memory.py --steps 20  # train longer: the induction head fades further

A model in memory is named with `induction.from_model(model, tokenizer)` (an encoder needs its tokenizer: its
config names no [MASK] id); every cache key then holds a fingerprint of its weights, so the edited model never
reads the map of the original, and the unchanged one is a cache hit. `tests/test_package.py` runs it.
"""

from __future__ import annotations

import argparse

import induction


def fine_tune(model, tokenizer, steps: int, seed: int = 0, lr: float = 1e-3) -> list[float]:
    """A few masked-LM steps on sequences of random tokens (nothing repeats in them, so nothing rewards the
    induction head): the losses, one a step. Trains `model` in place, as a notebook would."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    ordinary = [i for i in range(model.config.vocab_size) if i not in set(tokenizer.all_special_ids)]
    pool = torch.tensor(ordinary)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        ids = pool[torch.randint(len(pool), (16, 24), generator=generator)]
        labels = ids.clone()
        masked = torch.rand(ids.shape, generator=generator) < 0.15
        labels[~masked] = -100
        inputs = ids.masked_fill(masked, tokenizer.mask_token_id)
        loss = model(input_ids=inputs, labels=labels).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


def workflow(steps: int = 8, trials: int = 20, seed: int = 0) -> dict:
    """Map the toy in memory, fine-tune it, map it again: what a notebook would look at."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    folder = induction.describe("toy").source  # the bundled toy's folder; any model you hold works the same way
    model, tokenizer = AutoModelForMaskedLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    config = induction.MapConfig(model=induction.from_model(model, tokenizer), setup="standard", trials=trials,
                                 segment=16, seed=seed)

    before = induction.compute_map(config)   # computed (or read, if this exact model was mapped before)
    again = induction.compute_map(config)    # the same weights: a cache hit
    losses = fine_tune(model, tokenizer, steps, seed=seed)
    after = induction.compute_map(config)    # new weights, new fingerprint: computed, never the old map
    head = before.top_heads("prev", 1)[0]
    return {"before": before, "again": again, "after": after, "losses": losses, "head": head.name,
            "score_before": float(before.mean("prev")[head.layer, head.head]),
            "score_after": float(after.mean("prev")[head.layer, head.head])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    out = workflow(args.steps, args.trials)
    before, again, after = out["before"], out["again"], out["after"]
    print(f"before fine-tuning: {before.fingerprint} (cached: {before.cached}); mapped again: cached {again.cached}")
    print(f"after {args.steps} steps (loss {out['losses'][0]:.2f} -> {out['losses'][-1]:.2f}): {after.fingerprint} "
          f"(cached: {after.cached})")
    print(f"{out['head']} prev score: {out['score_before']:.3f} -> {out['score_after']:.3f}")


if __name__ == "__main__":
    main()
