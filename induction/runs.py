"""A run, resolved once: the frozen record every computation below the entry points takes.

Why: a `MapConfig` as a user writes it says "auto" for device and dtype and may leave
the segment to the model. Resolving it means reading the model's config (no weights),
checking the input and choosing the device; doing that once at the entry point and
passing the result down unchanged means nothing below re-reads a config or re-decides
a device, and every cache key is built from the same concrete fields.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from induction.cache import make_key
from induction.compatibility import check
from induction.config import ConfigError, MapConfig, head_name
from induction.models.kinds import check_setup
from induction.models.loading import ModelInfo, describe, resolve_device
from induction.models.memory import is_memory, model_name

if TYPE_CHECKING:  # the analyses' configs: runs sits below the analyses and never imports them
    from induction.analyses.icl import ICLConfig
    from induction.analyses.text_map import TextConfig


@dataclass(frozen=True)
class Run:
    """A validated MapConfig with its segment, device and dtype concrete, and the model's description."""

    config: MapConfig
    info: ModelInfo

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def device(self) -> str:
        return self.config.device

    @property
    def dtype(self) -> str:
        return self.config.dtype

    def with_trials(self, trials: int) -> Run:
        return dataclasses.replace(self, config=dataclasses.replace(self.config, trials=trials))

    def one_mask(self, what: str) -> None:
        """Ablation and effects score one masked token a trial."""
        if self.config.masks != 1 or self.config.unit != "token":
            raise ConfigError(f"{what} masks one token a trial; leave [[masks=1 unit=token]] "
                              "(several masks and words: maps only)")

    def check_head(self, layer: int, head: int) -> tuple[int, int]:
        if not (0 <= layer < self.info.layers and 0 <= head < self.info.heads):
            raise ConfigError(f"{self.model!r} has layers 0..{self.info.layers - 1} and heads "
                              f"0..{self.info.heads - 1}; there is no {head_name(layer, head)}")
        return layer, head


def as_config(config: MapConfig | str) -> MapConfig:
    """A model name stands for its default map (`compute_map("toy")`); anything else but a MapConfig is refused
    with what to pass."""
    if isinstance(config, str):
        return MapConfig(model=config)
    if not isinstance(config, MapConfig):
        raise ConfigError(f"expected a MapConfig or a model name, got {type(config).__name__}: pass, for example, "
                          "MapConfig(model='toy', trials=20) or 'toy'")
    return config


def resolve_run(config: MapConfig | Run | str, command: str = "map") -> Run:
    """Validate, describe the model, check the command fits its kind (`compatibility`), fill in the segment and
    choose the device and dtype (idempotent)."""
    if isinstance(config, Run):
        check(command, config.info.kind, config.config.setup, config.config.unit)
        return config
    config = as_config(config)
    if config.model is not None and not isinstance(config.model, str):  # a model object: its handle
        config = dataclasses.replace(config, model=model_name(config.model))
    if not isinstance(config.model, str) or not config.model.strip():
        config.validate()  # says what a model must be
    info = describe(config.model)
    config = dataclasses.replace(config, model=info.name) if is_memory(config.model) else config  # pinned
    config = config.with_setup(info.kind)  # the kind's own setup where none was named
    config.validate()
    check_setup(config.model, info.kind, config.setup)
    masks = "masks" if config.masks > 1 and command == "map" else command
    check("words" if config.unit == "word" and masks == "map" else masks, info.kind, config.setup, config.unit)
    config = config.with_segment(info.default_segment, info.max_positions, info.kind, info.bos)
    device, dtype = resolve_device(config.device, config.dtype, half_on_cuda=config.protocol != "paper")
    return Run(config=dataclasses.replace(config, device=device, dtype=dtype), info=info)


# One key builder per result kind. Every key names the weights (source and fingerprint) and
# every field that changes the numbers; the field names are those of the cache written so far.
def _run_parts(run: Run) -> dict:
    c = run.config
    extra = {"capture": "fallback"} if run.info.capture_path == "fallback" else {}  # interface keys as before
    if c.masks > 1:  # one mask: the keys as before
        extra.update(masks=c.masks, mask_span=c.mask_span)
    if c.unit == "word":
        extra.update(unit=c.unit, mask_piece=c.mask_piece)
    return dict(source=run.info.source, fingerprint=run.info.fingerprint, setup=c.setup, protocol=c.protocol,
                segment=c.segment, trials=c.trials, seed=c.seed, dtype=c.dtype, device=c.device, **extra)


def map_key(run: Run) -> str:
    return make_key("map", **_run_parts(run))


def ablation_key(run: Run, heads: tuple[tuple[int, int], ...], mode: str) -> str:
    return make_key("ablation", heads=sorted(heads), mode=mode, **_run_parts(run))


def clean_loss_key(run: Run) -> str:
    return make_key("clean-loss", **_run_parts(run))


def effects_key(run: Run, mode: str, pairs_with: tuple[int, int] | None) -> str:
    return make_key("effects", mode=mode, pairs_with=None if pairs_with is None else head_name(*pairs_with),
                    **_run_parts(run))


def text_key(config: TextConfig, info: ModelInfo, text_hash: str, device: str, dtype: str) -> str:
    """A natural-text map: the text by its hash, every setting that changes which occurrences are scored."""
    return make_key("text", source=info.source, fingerprint=info.fingerprint, text=text_hash,
                    min_distance=config.min_distance, max_occurrences=config.max_occurrences, seed=config.seed,
                    device=device, dtype=dtype, capture=info.capture_path)


def icl_key(config: ICLConfig, info: ModelInfo, chash: str) -> str:
    """An ICL score: the corpus by the hash of its documents, the variant resolved (never None)."""
    return make_key("icl", fingerprint=info.fingerprint, source=info.source, corpus=config.corpus,
                    corpus_hash=chash, variant=config.variant, short=config.short, long=config.long,
                    trials=config.trials, seed=config.seed, replace=config.replace, curve=list(config.curve),
                    device=config.device, dtype=config.dtype,
                    **({"curve_draws": "own-generator"} if config.curve else {}))  # curves before it shared the trials'


def roles_key(run: Run) -> str:
    """The head-roles pass over a repeat run's trials and the weight-based scores beside it."""
    return make_key("roles", version=2, **_run_parts(run))  # 2: an encoder's duplicate on shuffled copies


def circuits_key(run: Run) -> str:
    """The weight-based role scores (copying, composition): the weights and the dtype they were read in, no trials."""
    return make_key("circuits", version=2, source=run.info.source, fingerprint=run.info.fingerprint,  # 2: TL's folds
                    dtype=run.config.dtype)
