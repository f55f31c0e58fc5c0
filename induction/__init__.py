"""Induction heads in BERT-family models (and decoders): repeated-random-token trials, attention capture,
per-head scores, ablation, causal effects, head roles, natural text, ICL, and a checksummed result cache.

The flat facade a notebook needs; every name is documented where it is defined::

    import induction
    result = induction.compute_map(induction.MapConfig(model="toy", setup="standard", trials=50))
    result.top_heads("prev", 3)                       # [HeadScore(layer=1, head=0, name='L1H0', ...), ...]
    induction.head_detail(result.config, 1, 0)         # one head's attention on one trial
    induction.ablate(result.config, ["L1H0"])          # the map and the loss with that head removed
    induction.effects(result.config)                   # every head's causal effect on the loss
    induction.MapConfig(model=induction.from_model(my_model, my_tokenizer))  # a model held in memory

Importing the package imports neither torch nor transformers: the names below load on first use.
The subpackages: `models` (registry, kinds, loading), `capture` (reading attention), `trials` (the inputs),
`analyses` (the studies), `study` (the reference study), `figures`, `cli`, `toys` (the project's own models).
Layers and heads are 0-indexed everywhere (L9H9 = layer 9, head 9). The command line is `induction ...`
(or `python -m induction ...`). The package logs to `logging.getLogger("induction")` and never configures
logging itself.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from induction.config import (
    PROTOCOLS,
    SETUP_TARGETS,
    SETUPS,
    ConfigError,
    InductionError,
    MapConfig,
    ModelLoadError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

# name -> the module that defines it (imported on first use, so `import induction` stays light)
_LAZY: dict[str, str] = {
    # maps
    "compute_map": "induction.engine", "compute_map_until": "induction.engine", "cached_map": "induction.engine",
    "get_model": "induction.engine",
    "InductionMap": "induction.scoring", "HeadScore": "induction.scoring",
    # models
    "describe": "induction.models.loading", "model_status": "induction.models.loading",
    "from_model": "induction.models.memory",
    "KNOWN_MODELS": "induction.models.registry",
    # one head, ablation, effects
    "head_detail": "induction.analyses.head_detail", "HeadDetail": "induction.analyses.head_detail",
    "ablate": "induction.analyses.ablation", "AblationResult": "induction.analyses.ablation",
    "cumulative_ablation": "induction.analyses.ablation",
    "effects": "induction.analyses.effects", "EffectsResult": "induction.analyses.effects",
    "head_roles": "induction.analyses.roles", "HeadRoles": "induction.analyses.roles",
    "mechanism_series": "induction.analyses.mechanism", "MechanismSeries": "induction.analyses.mechanism",
    # your text, several masks, ICL
    "TextConfig": "induction.analyses.text_map", "text_map": "induction.analyses.text_map",
    "TextMap": "induction.analyses.text_map",
    "mask_curve": "induction.analyses.masks",
    "ICLConfig": "induction.analyses.icl", "icl_score": "induction.analyses.icl", "ICLResult": "induction.analyses.icl",
    # many models
    "collect_mosaic": "induction.analyses.mosaic", "mosaic_figure": "induction.analyses.mosaic",
    "dynamics": "induction.analyses.dynamics",
    "run_sweep": "induction.sweep", "tasks_for": "induction.sweep",
    "reproduce": "induction.study.reproduce", "Reproduction": "induction.study.reproduce",
    # figures
    "map_figure": "induction.figures.plots", "effect_figure": "induction.figures.plots",
    "roles_figure": "induction.figures.roles", "mechanism_figure": "induction.figures.roles",
    "phase_change_figure": "induction.figures.training",
    "write_figure": "induction.figures.export", "scores_csv": "induction.figures.export",
    "circuitsvis_attention": "induction.figures.circuitsvis",
    "loss_curve": "induction.analyses.dynamics", "icl_series": "induction.analyses.dynamics",
}
_ALIASES = {"collect_mosaic": "collect"}  # facade name -> the name in its module

__all__ = [
    "KNOWN_MODELS",
    "PROTOCOLS",
    "SETUPS",
    "SETUP_TARGETS",
    "AblationResult",
    "ConfigError",
    "EffectsResult",
    "HeadDetail",
    "HeadRoles",
    "HeadScore",
    "ICLConfig",
    "ICLResult",
    "InductionError",
    "InductionMap",
    "MapConfig",
    "MechanismSeries",
    "ModelLoadError",
    "Reproduction",
    "TextConfig",
    "TextMap",
    "ablate",
    "cached_map",
    "circuitsvis_attention",
    "collect_mosaic",
    "compute_map",
    "compute_map_until",
    "cumulative_ablation",
    "describe",
    "dynamics",
    "effect_figure",
    "effects",
    "from_model",
    "get_model",
    "head_detail",
    "head_roles",
    "icl_score",
    "icl_series",
    "loss_curve",
    "map_figure",
    "mask_curve",
    "mechanism_figure",
    "mechanism_series",
    "model_status",
    "mosaic_figure",
    "phase_change_figure",
    "reproduce",
    "roles_figure",
    "run_sweep",
    "scores_csv",
    "tasks_for",
    "text_map",
    "write_figure",
]


def __getattr__(name: str):
    """Load a facade name from its module on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'induction' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), _ALIASES.get(name, name))
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from induction.analyses.ablation import AblationResult, ablate, cumulative_ablation
    from induction.analyses.dynamics import dynamics, icl_series, loss_curve
    from induction.analyses.effects import EffectsResult, effects
    from induction.analyses.head_detail import HeadDetail, head_detail
    from induction.analyses.icl import ICLConfig, ICLResult, icl_score
    from induction.analyses.masks import mask_curve
    from induction.analyses.mechanism import MechanismSeries, mechanism_series
    from induction.analyses.mosaic import collect as collect_mosaic
    from induction.analyses.mosaic import mosaic_figure
    from induction.analyses.roles import HeadRoles, head_roles
    from induction.analyses.text_map import TextConfig, TextMap, text_map
    from induction.engine import cached_map, compute_map, compute_map_until, get_model
    from induction.figures.circuitsvis import circuitsvis_attention
    from induction.figures.export import scores_csv, write_figure
    from induction.figures.plots import effect_figure, map_figure
    from induction.figures.roles import mechanism_figure, roles_figure
    from induction.figures.training import phase_change_figure
    from induction.models.loading import describe, model_status
    from induction.models.memory import from_model
    from induction.models.registry import KNOWN_MODELS
    from induction.scoring import HeadScore, InductionMap
    from induction.study.reproduce import Reproduction, reproduce
    from induction.sweep import run_sweep, tasks_for
