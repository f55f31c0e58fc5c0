"""`induction train --verify`: a retrained series against the shipped one, within the stated tolerances.

Why the map as well as the weights: a weight difference says how far the numbers drifted, the map says whether
the drift matters to what the project reports; both must be small for a retrain to count as the shipped series.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from induction.training.series import CheckpointCheck, check_weights

MAP_TRIALS = 20


def map_difference(fresh: Path, shipped: Path, trials: int = MAP_TRIALS) -> float:
    """The largest difference of a head's mean score, on every target of the kind's own setup (MapConfig's default:
    standard for an encoder, repeat for a decoder), between two checkpoints scored on the same trials."""
    from induction.config import MapConfig
    from induction.engine import compute_map

    maps = [compute_map(MapConfig(model=str(folder), trials=trials), use_cache=False)
            for folder in (fresh, shipped)]
    return max(float(abs(maps[0].mean(t) - maps[1].mean(t)).max()) for t in maps[1].targets)


def verify_series(fresh: Path, shipped: Path, *, map_trials: int = MAP_TRIALS) -> list[CheckpointCheck]:
    """Every checkpoint of `fresh` against the shipped one: equal bits, or the largest weight difference and the
    largest map difference (measured only where the bits differ and the weights are comparable)."""
    checks = []
    for check in check_weights(fresh, shipped):
        if not check.bit_equal and check.weight_diff is not None and check.weight_diff != float("inf"):
            diff = map_difference(fresh / check.name, shipped / check.name, map_trials)
            check = dataclasses.replace(check, map_diff=diff)
        checks.append(check)
    return checks


def describe_check(check: CheckpointCheck) -> str:
    """One line for the CLI: the checkpoint, its differences and the verdict."""
    if check.weight_diff is None:
        return f"  {check.name}: not in the shipped series"
    if check.bit_equal:
        return f"  {check.name}: bit for bit the same"
    verdict = "within tolerance" if check.ok else "OUTSIDE tolerance"
    mapped = "" if check.map_diff is None else f", largest map difference {check.map_diff:.2g}"
    return f"  {check.name}: largest weight difference {check.weight_diff:.2g}{mapped}: {verdict} (not bit for bit)"
