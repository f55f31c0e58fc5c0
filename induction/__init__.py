"""Induction heads in BERT-family models: RRT trials, attention capture, scores, cache, plots.

Entry points: `compute_map(MapConfig(...))` returns an `InductionMap`; the CLI is
`python -m induction`. Importing this package does not import torch.
"""

from .config import ConfigError, InductionError, MapConfig, ModelLoadError, SETUP_TARGETS, SETUPS, PROTOCOLS

__all__ = ["MapConfig", "InductionError", "ConfigError", "ModelLoadError", "SETUP_TARGETS", "SETUPS", "PROTOCOLS",
           "compute_map"]


def compute_map(*args, **kwargs):
    """See `induction.engine.compute_map` (imported lazily: it needs torch)."""
    from .engine import compute_map as _compute_map

    return _compute_map(*args, **kwargs)
