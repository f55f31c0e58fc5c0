"""What a checkpoint's name says: its training step and seed (step_20k -> 20000, seed_3 -> 3).

Why its own module: sweeps, training dynamics and the tidy frames all record a checkpoint's step, and none of them
should import another for it.
"""

from __future__ import annotations

import re

_STEP = re.compile(r"step[_-]?0*(\d+)(k?)", re.IGNORECASE)


def checkpoint_step(model: str) -> int | None:
    """The training step a checkpoint's name says (step_20k -> 20000, step_000500 -> 500), or None."""
    found = _STEP.findall(model)
    if not found:
        return None
    number, k = found[-1]
    return int(number) * (1000 if k else 1)


def checkpoint_seed(model: str) -> int:
    """The training seed a checkpoint's name says (seed_3 -> 3), else 0."""
    found = re.findall(r"seed[_-]?(\d+)", model, flags=re.IGNORECASE)
    return int(found[-1]) if found else 0
