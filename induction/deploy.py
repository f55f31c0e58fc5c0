"""Deployed (public demo) mode: one environment variable turns on the limits.

`INDUCTION_DEPLOYED=1` restricts models to an allow-list (no free ids, no local
paths), caps trials and segment length, limits each visitor's new computations per minute and the
number of computations waiting server-wide, and hides error details. Off by default.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

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
    models = tuple(m for m in allowed.replace(",", " ").split()) if allowed else models_that_fit()
    return Limits(True, models, int(os.environ.get("INDUCTION_MAX_TRIALS", DEPLOYED_MAX_TRIALS)),
                  int(os.environ.get("INDUCTION_MAX_SEGMENT", DEPLOYED_MAX_SEGMENT)),
                  int(os.environ.get("INDUCTION_COMPUTE_PER_MINUTE", DEPLOYED_COMPUTE_PER_MINUTE)),
                  int(os.environ.get("INDUCTION_MAX_QUEUE", DEPLOYED_MAX_QUEUE)))


def models_that_fit(budget: int | None = None) -> tuple[str, ...]:
    """The known models whose parameters and activation estimate fit the model budget (INDUCTION_MODEL_MEMORY_MB,
    shared by the server's workers): deployed mode's default list. A model whose config is not on this machine
    (a Hub model not downloaded) stays listed: the shared budget still refuses it at load if it does not fit."""
    from induction.model_memory import budget_bytes

    return _fitting(budget_bytes() if budget is None else budget)


@functools.lru_cache(maxsize=8)
def _fitting(budget: int) -> tuple[str, ...]:
    from induction.model_memory import config_from_json, model_bytes

    fit = []
    for name, spec in KNOWN_MODELS.items():
        config = None
        for path in _local_configs(name):
            try:
                read = config_from_json(path)
            except (OSError, ValueError, TypeError):
                continue
            if read.hidden_size:
                config = read
                break
        if config is None:  # not on this machine: the registry's shape, 64 dimensions a head (BERT's, GPT-2's)
            from types import SimpleNamespace

            hidden = 64 * spec.heads
            config = SimpleNamespace(hidden_size=hidden, num_hidden_layers=spec.layers, num_attention_heads=spec.heads,
                                     intermediate_size=4 * hidden, vocab_size=30522, max_position_embeddings=512)
        if model_bytes(config) <= budget:
            fit.append(name)
    return tuple(fit)


def _local_configs(name: str) -> list[str]:
    """The config.json files of a known model on this machine (bundled, a package's, or in the Hub cache)."""
    from induction.models.registry import ASSETS

    source = KNOWN_MODELS[name].source
    if source.startswith("bundled:"):
        path = ASSETS / source.split(":", 1)[1] / "config.json"
        return [str(path)] if path.exists() else []
    if source.startswith("package:"):
        import importlib.util

        spec = importlib.util.find_spec(source.split(":", 1)[1])
        if spec is None or not spec.submodule_search_locations:
            return []
        return [str(p) for p in sorted(Path(next(iter(spec.submodule_search_locations))).rglob("config.json"),
                                       key=lambda p: len(p.parts))]
    try:
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = source.partition("@")
        hit = try_to_load_from_cache(repo, "config.json", revision=revision or None)
    except Exception:  # no hub client, a malformed id: size unknown
        return []
    return [hit] if isinstance(hit, str) else []


def check_model(name: str) -> None:
    """In deployed mode, refuse anything but the allow-list (no free ids, no paths) before touching disk or hub."""
    allowed = limits().allowed_models
    if allowed is not None and name not in allowed and not _checkpoint_of(name, allowed):
        raise ModelLoadError(f"this server offers only these models: {', '.join(allowed)}")


def _checkpoint_of(name: str, allowed: tuple[str, ...]) -> bool:
    """`trained-gpt@step_500` on a server that offers trained-gpt: a checkpoint of an offered series (no path)."""
    from induction.models.registry import checkpoint_folder

    return name.partition("@")[0] in allowed and checkpoint_folder(name) is not None
