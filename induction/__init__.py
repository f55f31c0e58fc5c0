"""Induction heads in BERT-family models: RRT trials, attention capture, scores, cache, plots.

Entry points: `compute_map(MapConfig(...))` returns an `InductionMap`; the CLI is
`python -m induction`. Importing this package does not import torch.
"""

from .config import PROTOCOLS, SETUP_TARGETS, SETUPS, ConfigError, InductionError, MapConfig, ModelLoadError

__all__ = [
    "PROTOCOLS",
    "SETUPS",
    "SETUP_TARGETS",
    "ConfigError",
    "InductionError",
    "MapConfig",
    "ModelLoadError",
    "compute_map",
]


def compute_map(*args, **kwargs):
    """See `induction.engine.compute_map` (imported lazily: it needs torch)."""
    from .engine import compute_map as _compute_map

    return _compute_map(*args, **kwargs)
