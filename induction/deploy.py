"""Deployed (public demo) mode: one environment variable turns on the limits.

`INDUCTION_DEPLOYED=1` restricts models to an allow-list (no free ids, no local
paths), caps trials and segment length, limits each visitor's new computations per minute and the
number of computations waiting server-wide, and hides error details. Off by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from induction.config import MAX_SEGMENT, MAX_TRIALS, ModelLoadError
from induction.models.registry import KNOWN_MODELS

DEPLOYED_MAX_TRIALS = 200
DEPLOYED_MAX_SEGMENT = 250
DEPLOYED_COMPUTE_PER_MINUTE = 6  # new heavy computations a visitor may start in a minute (cached views are free)
DEPLOYED_MAX_QUEUE = 16  # computations waiting server-wide before new ones are turned away


@dataclass(frozen=True)
class Limits:
    deployed: bool
    allowed_models: tuple[str, ...] | None  # None: any model id or folder
    max_trials: int
    max_segment: int
    compute_per_minute: int | None = None  # None: no rate limit
    max_queue: int | None = None  # None: no cap on waiting computations


def limits() -> Limits:
    if os.environ.get("INDUCTION_DEPLOYED", "0").strip().lower() not in ("1", "true", "yes"):
        return Limits(False, None, MAX_TRIALS, MAX_SEGMENT)

    allowed = os.environ.get("INDUCTION_ALLOWED_MODELS")
    models = tuple(m for m in allowed.replace(",", " ").split()) if allowed else tuple(KNOWN_MODELS)
    return Limits(True, models, int(os.environ.get("INDUCTION_MAX_TRIALS", DEPLOYED_MAX_TRIALS)),
                  int(os.environ.get("INDUCTION_MAX_SEGMENT", DEPLOYED_MAX_SEGMENT)),
                  int(os.environ.get("INDUCTION_COMPUTE_PER_MINUTE", DEPLOYED_COMPUTE_PER_MINUTE)),
                  int(os.environ.get("INDUCTION_MAX_QUEUE", DEPLOYED_MAX_QUEUE)))


def check_model(name: str) -> None:
    """In deployed mode, refuse anything but the allow-list (no free ids, no paths) before touching disk or hub."""
    allowed = limits().allowed_models
    if allowed is not None and name not in allowed and not _checkpoint_of(name, allowed):
        raise ModelLoadError(f"this server offers only these models: {', '.join(allowed)}")


def _checkpoint_of(name: str, allowed: tuple[str, ...]) -> bool:
    """`trained-gpt@step_500` on a server that offers trained-gpt: a checkpoint of an offered series (no path)."""
    from induction.models.registry import checkpoint_folder

    return name.partition("@")[0] in allowed and checkpoint_folder(name) is not None
