"""Every result as one tidy table (offline, about 15 s on a laptop CPU): maps of the bundled encoder and decoder,
every head's causal effect, an ablation, the head roles, the ICL gain of a model trained here, and a checkpoint
series, each `to_frame()`, stacked with pandas into one long table and read with ordinary pandas.

    python examples/tidy_frames.py                 # prints the tables
    python examples/tidy_frames.py --csv all.csv   # and writes the stacked table

`tests/test_frames.py` runs it and checks what it returns.
"""

from __future__ import annotations

import argparse

import pandas as pd

import induction


def frames(trials: int = 10) -> dict[str, pd.DataFrame]:
    """One frame per result type, and `all`: every frame stacked (one set of columns: induction.frames)."""
    maps = [induction.compute_map(induction.MapConfig(model=m, trials=trials)) for m in ("toy", "toy-gpt")]
    out = {
        "map": pd.concat([m.to_frame() for m in maps]),  # each model in its kind's setup: standard, repeat
        "effects": induction.effects(maps[0].config).to_frame(),
        "ablation": induction.ablate(maps[0].config, "L1H0").to_frame(),
        "roles": induction.head_roles("toy-gpt", trials=trials).to_frame(),
        "icl": induction.icl_score(induction.ICLConfig(model="trained-gpt", trials=trials, short=6,
                                                       long=60)).to_frame(),
        "dynamics": induction.dynamics("trained-gpt", induction.MapConfig(trials=trials),
                                       compute_missing=True).to_frame(),
    }
    out["all"] = pd.concat(out.values(), ignore_index=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--csv", help="write the stacked table here")
    args = parser.parse_args()
    tables = frames(args.trials)
    every = tables["all"]
    print("rows by measure:", every.groupby("measure").size().to_dict())
    # the best attention head of each model at each target, from the one stacked table
    attention = every[(every.measure == "attention") & every.step.isna()]
    best = attention.loc[attention.groupby(["model", "target"]).score.idxmax()]
    print(best[["model", "setup", "target", "layer", "head", "score", "ratio"]].to_string(index=False))
    # the phase change: the best head's score at every checkpoint of trained-gpt
    series = tables["dynamics"].groupby("step").score.max()
    print("trained-gpt, best head by step:", series.round(3).to_dict())
    gain = tables["icl"].set_index("measure").score["icl_gain"]
    print(f"trained-gpt ICL gain (positive when context helps): {gain:+.3f} nats")
    if args.csv:
        every.to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")


if __name__ == "__main__":
    main()
