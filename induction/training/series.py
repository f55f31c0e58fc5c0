"""The shipped checkpoint series: where they are, what they hold, and whether a retrained run matches them.

Why its own module: the registry names the final checkpoints, the Training dynamics page and the `sweep`
command take a series by name, and `induction train --verify` compares a fresh run with the shipped one; none of
these needs torch, so none should import the training loop.

What is reproducible where: on one machine a run is bit for bit the same every time (one thread, deterministic
kernels, batches a pure function of the step). Across CPUs and BLAS builds PyTorch promises no such thing: the
vectorised kernels round differently (a retrain with `ATEN_CPU_CAPABILITY=default` differs from this machine's
by about 1e-6 after 150 steps). So a retrain matches the shipped series when every weight is within
WEIGHT_TOLERANCE of the shipped one and the checkpoint's map within MAP_TOLERANCE; "bit for bit" is said only
when the bytes are equal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from induction.models.registry import ASSETS, DEPTH_MODELS
from induction.sweep import checkpoint_folders

SERIES: tuple[str, ...] = ("trained-gpt", "trained-bert", *DEPTH_MODELS)
WEIGHTS = "model.safetensors"
WEIGHT_TOLERANCE = 1e-4  # largest absolute weight difference a retrain on another machine may show
MAP_TOLERANCE = 1e-4  # largest difference of a head's mean score between the retrained and shipped checkpoint


@dataclass(frozen=True)
class CheckpointCheck:
    """One retrained checkpoint against the shipped one: the largest absolute weight difference (None when the
    shipped series lacks it), whether the bytes are equal, and the largest map-score difference (None: not
    measured; 0 when the bytes are equal)."""

    name: str  # step_N (or seed_S/step_N)
    weight_diff: float | None
    bit_equal: bool
    map_diff: float | None = None

    @property
    def ok(self) -> bool:
        """Within tolerance: equal bits, or weights (and the map, where measured) within the tolerances."""
        if self.bit_equal:
            return True
        return (self.weight_diff is not None and self.weight_diff <= WEIGHT_TOLERANCE
                and (self.map_diff is None or self.map_diff <= MAP_TOLERANCE))


def shipped_series(name: str) -> Path:
    """The folder of a shipped series (its step_N checkpoints and training_log.json)."""
    if name not in SERIES:
        raise KeyError(f"no shipped series {name!r}: the series are {', '.join(SERIES)}")
    return ASSETS / name


def training_log(folder: Path) -> dict | None:
    """A series' training_log.json (recipe, per-step losses), or None where it has none."""
    path = folder / "training_log.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def weight_difference(a: Path, b: Path) -> float:
    """The largest absolute difference between two safetensors files' tensors (inf when their names or shapes
    differ)."""
    import numpy as np
    from safetensors.numpy import load_file

    x, y = load_file(a), load_file(b)
    if x.keys() != y.keys() or any(x[k].shape != y[k].shape for k in x):
        return float("inf")
    return max((float(np.abs(x[k].astype(np.float64) - y[k].astype(np.float64)).max()) for k in x if x[k].size),
               default=0.0)


def check_weights(fresh: Path, shipped: Path) -> list[CheckpointCheck]:
    """Every checkpoint of `fresh` against `shipped`'s of the same name: equal bits, or the largest weight
    difference (the maps are compared by the caller, which may load torch)."""
    checks = []
    for checkpoint in checkpoint_folders(fresh):
        rel = checkpoint.relative_to(fresh).as_posix()
        mine, theirs = fresh / rel / WEIGHTS, shipped / rel / WEIGHTS
        if not theirs.is_file():
            checks.append(CheckpointCheck(rel, None, False))
        elif _digest(mine) == _digest(theirs):
            checks.append(CheckpointCheck(rel, 0.0, True, 0.0))
        else:
            checks.append(CheckpointCheck(rel, weight_difference(mine, theirs), False))
    return checks


def compare_series(fresh: Path, shipped: Path) -> list[str]:
    """The step_N/model.safetensors files of `fresh` whose bytes differ from (or are missing in) `shipped`."""
    return [f"{c.name}/{WEIGHTS}" for c in check_weights(fresh, shipped) if not c.bit_equal]


def trained_here(folder: str | Path) -> bool:
    """Whether a model folder is a checkpoint of a series `induction train` wrote (a training_log.json beside it):
    such a model read the python-docs training topics, so its ICL reads the held-out ones."""
    try:
        return (Path(folder).expanduser().resolve().parent / "training_log.json").is_file()
    except (OSError, RuntimeError):
        return False


def series_of(model: str) -> str | None:
    """The shipped series a checkpoint folder belongs to (its name), or None."""
    try:
        path = Path(model).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    return next((name for name in SERIES if path.parent == shipped_series(name).resolve()), None)
