"""The shipped checkpoint series: where they are, what they hold, and whether a retrained run matches them.

Why its own module: the registry names the final checkpoints, the Training dynamics page and the `sweep`
command take a series by name, and `induction train --verify` compares a fresh run with the shipped one; none of
these needs torch, so none should import the training loop.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from induction.models.registry import ASSETS
from induction.sweep import checkpoint_folders

SERIES: tuple[str, ...] = ("trained-gpt", "trained-bert")
WEIGHTS = "model.safetensors"


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


def compare_series(fresh: Path, shipped: Path) -> list[str]:
    """The step_N/model.safetensors files of `fresh` whose bytes differ from (or are missing in) `shipped`."""
    differ = []
    for checkpoint in checkpoint_folders(fresh):
        name = f"{checkpoint.relative_to(fresh).as_posix()}/{WEIGHTS}"
        if not (shipped / name).is_file() or _digest(fresh / name) != _digest(shipped / name):
            differ.append(name)
    return differ


def series_of(model: str) -> str | None:
    """The shipped series a checkpoint folder belongs to (its name), or None."""
    try:
        path = Path(model).expanduser().resolve()
    except (OSError, RuntimeError):
        return None
    return next((name for name in SERIES if path.parent == shipped_series(name).resolve()), None)
