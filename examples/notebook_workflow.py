"""The notebook workflow, end to end on the bundled `toy` model (offline, about 10 s on a laptop CPU):
map -> top heads -> one head's attention -> ablate it -> every head's causal effect.

    python examples/notebook_workflow.py            # prints what it finds
    python examples/notebook_workflow.py --model M  # any encoder that loads (a hub id, a folder)

`tests/test_examples.py` runs it and checks what it returns.
"""

from __future__ import annotations

import argparse

import induction


def workflow(model: str = "toy", trials: int = 30, seed: int = 0) -> dict:
    """Run the five steps and return what a notebook would look at."""
    # 1. the induction map: attention of the [MASK] to the earlier instance of the masked token
    config = induction.MapConfig(model=model, setup="standard", trials=trials, seed=seed)
    result = induction.compute_map(config, use_cache=False)

    # 2. the top heads, each with its score, standard error and ratio to the uniform baseline
    top = result.top_heads("prev", 3)
    best = top[0]

    # 3. drill into the best head: its attention row from the [MASK] on the first trial
    detail = induction.head_detail(result.config, best.layer, best.head, trial=0)
    attended = int(detail.row.argmax())

    # 4. ablate it: the map and the masked-token loss on the same trials without it
    ablation = induction.ablate(result.config, [best.name], use_cache=False)

    # 5. is each head used? Every head's effect on the loss, one head ablated at a time
    effects = induction.effects(result.config, use_cache=False)
    return {"map": result, "top": top, "detail": detail, "attended": attended, "ablation": ablation,
            "effects": effects}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="toy")
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    out = workflow(args.model, args.trials)
    result, detail = out["map"], out["detail"]
    print(f"{result.config.model}: baseline {result.baseline:.3f}; top prev heads:")
    for h in out["top"]:
        print(f"  {h.name}  {h.score:.3f} ± {h.sem:.3f}  ({h.ratio:.0f}x the baseline)")
    best = out["top"][0]
    print(f"{best.name} on trial 0: the [MASK] at {detail.mask_index} attends most to position {out['attended']} "
          f"(the earlier instance is at {detail.target_index['prev']})")
    ab = out["ablation"]
    print(f"ablating {best.name}: masked-token loss {ab.loss_clean:.3f} -> {ab.loss_ablated:.3f} nats")
    effect = out["effects"].effect
    layer, head = divmod(int(effect.argmax()), effect.shape[1])
    print(f"largest single-head effect: L{layer}H{head} {effect.max():+.3f} nats")


if __name__ == "__main__":
    main()
