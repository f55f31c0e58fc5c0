"""Names, the frozen run configuration, and the project's error types.

Why one module: every entry point (CLI, dashboard, benchmark) builds a `MapConfig`
and every check on user input lives in `MapConfig.validate`, so bad input gets
the same clear message wherever it comes from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

Setup = Literal["standard", "shuffled", "triple"]
Protocol = Literal["clean", "paper"]
DType = Literal["auto", "float32", "float16", "bfloat16"]
Device = Literal["auto", "cpu", "cuda"]

SETUPS: tuple[str, ...] = get_args(Setup)
PROTOCOLS: tuple[str, ...] = get_args(Protocol)

# Targets read from the one forward pass of each setup, in display order.
SETUP_TARGETS: dict[str, tuple[str, ...]] = {
    "standard": ("prev", "prev_before", "prev_after"),
    "shuffled": ("left_match", "right_match", "sum"),
    "triple": ("earlier", "later"),
}
COPIES: dict[str, int] = {"standard": 2, "shuffled": 2, "triple": 3}
# The reference study's segment lengths: 3 x 200 + 1 would not fit BERT's 512 positions.
PAPER_SEGMENT: dict[str, int] = {"standard": 200, "shuffled": 200, "triple": 150}
PAPER_TRIALS = 50
MAX_TRIALS = 100_000
OFFSETS = tuple(range(-5, 6))  # attention profile around the previous instance


class InductionError(Exception):
    """Base class: every error meant for a user's eyes."""


class ConfigError(InductionError, ValueError):
    """A parameter is out of range or unknown."""


class ModelLoadError(InductionError):
    """A model cannot be loaded or is not a supported encoder."""


def min_segment(setup: str) -> int:
    """Shortest segment for which every target of the setup is well defined."""
    return 3 if setup == "shuffled" else 1


def sequence_length(setup: str, protocol: str, segment: int) -> int:
    """Tokens fed to the model: prefix + copies (+ trailing [SEP] for clean)."""
    return 1 + COPIES[setup] * segment + (1 if protocol == "clean" else 0)


def max_segment(setup: str, protocol: str, max_positions: int) -> int:
    """Longest segment whose sequence fits `max_positions`."""
    return (max_positions - 1 - (1 if protocol == "clean" else 0)) // COPIES[setup]


@dataclass(frozen=True)
class MapConfig:
    """Everything that changes an induction map's numbers (but the model's weights)."""

    model: str = "toy"
    setup: Setup = "standard"
    protocol: Protocol = "clean"
    trials: int = PAPER_TRIALS
    seed: int = 0
    segment: int | None = None  # None: the protocol's default (paper: 200/150; clean: the model's)
    dtype: DType = "auto"
    device: Device = "auto"

    def validate(self) -> "MapConfig":
        """Check everything that can be checked without loading the model."""
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model must be a non-empty name, Hugging Face id or folder")
        if self.setup not in SETUPS:
            raise ConfigError(f"unknown setup {self.setup!r}; choose one of {', '.join(SETUPS)}")
        if self.protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        _check_int("trials", self.trials, 1, MAX_TRIALS)
        _check_int("seed", self.seed, 0, 2**63 - 1)
        if self.segment is not None:
            _check_int("segment", self.segment, min_segment(self.setup), 100_000)
        if self.dtype not in get_args(DType):
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose one of {', '.join(get_args(DType))}")
        if self.device not in get_args(Device):
            raise ConfigError(f"unknown device {self.device!r}; choose one of {', '.join(get_args(Device))}")
        return self

    def with_segment(self, default_clean: int | None, max_positions: int) -> "MapConfig":
        """Fill in the default segment and check it fits the model's positions.

        paper: the study's 200/150; clean: the model's own default (the toy's), else
        the study's lengths shortened to fit the model.
        """
        most = max_segment(self.setup, self.protocol, max_positions)
        segment = self.segment
        if segment is None and self.protocol == "paper":
            segment = PAPER_SEGMENT[self.setup]
        elif segment is None:
            segment = min(default_clean or PAPER_SEGMENT[self.setup], most)
        if segment > most:
            raise ConfigError(
                f"segment {segment} is too long for {self.model!r}: {self.setup} with the {self.protocol} protocol "
                f"needs {sequence_length(self.setup, self.protocol, segment)} positions but the model has "
                f"{max_positions}; the longest segment that fits is {most}"
            )
        return dataclasses.replace(self, segment=segment)

    def targets(self) -> tuple[str, ...]:
        return SETUP_TARGETS[self.setup]


def check_target(setup: str, target: str) -> str:
    if target not in SETUP_TARGETS.get(setup, ()):
        raise ConfigError(f"unknown target {target!r} for setup {setup!r}; choose one of {', '.join(SETUP_TARGETS.get(setup, ()))}")
    return target


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")


def parse_head(text: str) -> tuple[int, int]:
    """'L9H9' -> (9, 9). Layers and heads are 0-indexed everywhere."""
    import re

    match = re.fullmatch(r"\s*L(\d+)H(\d+)\s*", text, flags=re.IGNORECASE)
    if not match:
        raise ConfigError(f"cannot read head {text!r}; write it as L<layer>H<head>, for example L9H9")
    return int(match.group(1)), int(match.group(2))


def head_name(layer: int, head: int) -> str:
    return f"L{layer}H{head}"
