"""Names, limits, the frozen run configuration, and the project's error types.

Why one module: every entry point (CLI, dashboard, benchmark) builds a `MapConfig`,
and every enum the user can choose (setup, protocol, target, ablation mode, ICL
variant, device, dtype) is spelled once here as a `Literal` whose `get_args` feeds
the CLI's choices, the URL parser and the widgets. Bad input gets the same clear
message wherever it comes from.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Literal, get_args

Setup = Literal["standard", "shuffled", "triple", "repeat"]
ModelKind = Literal["encoder", "causal"]
CapturePath = Literal["interface", "fallback"]  # the AttentionInterface, or eager output_attentions
Protocol = Literal["clean", "paper"]
DType = Literal["auto", "float32", "float16", "bfloat16"]
Device = Literal["auto", "cpu", "cuda"]
AblationMode = Literal["zero", "mean"]
ICLVariant = Literal["masked", "all-tokens", "next-token"]  # next-token: a decoder's (Olsson et al.)
MaskSpan = Literal["scattered", "contiguous"]
Unit = Literal["token", "word"]
MaskPiece = Literal["all", "first", "last"]

SETUPS: tuple[str, ...] = get_args(Setup)
PROTOCOLS: tuple[str, ...] = get_args(Protocol)
DTYPES: tuple[str, ...] = get_args(DType)
DEVICES: tuple[str, ...] = get_args(Device)
ABLATION_MODES: tuple[str, ...] = get_args(AblationMode)
ICL_VARIANTS: tuple[str, ...] = get_args(ICLVariant)
CAUSAL_ICL_VARIANTS = ("next-token",)  # a decoder's only variant (it has no [MASK])
ENCODER_ICL_VARIANTS = tuple(v for v in ICL_VARIANTS if v not in CAUSAL_ICL_VARIANTS)
MASK_SPANS: tuple[str, ...] = get_args(MaskSpan)
UNITS: tuple[str, ...] = get_args(Unit)
MASK_PIECES: tuple[str, ...] = get_args(MaskPiece)
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
CAPTURE_PATHS: tuple[str, ...] = get_args(CapturePath)
WORD_TARGETS = ("prev_piece", "prev_word", "word_before", "word_after")
MAX_MASKS = 8

# Targets read from the one forward pass of each setup, in display order.
SETUP_TARGETS: dict[str, tuple[str, ...]] = {
    "standard": ("prev", "prev_before", "prev_after"),
    "shuffled": ("left_match", "right_match", "sum"),
    "triple": ("earlier", "later"),
    # no mask: every token of the second copy is a query (the Induction Mosaic's score is `induction`)
    "repeat": ("induction", "duplicate", "previous_token"),
}
COPIES: dict[str, int] = {"standard": 2, "shuffled": 2, "triple": 3, "repeat": 2}
CAUSAL_SETUPS = ("repeat",)  # a causal model has no [MASK] and sees only earlier tokens
REPEAT_SEGMENT = 50  # the repeat setup's default segment (it is not the study's: no paper length)
# The reference study's segment lengths: 3 x 200 + 1 would not fit BERT's 512 positions.
PAPER_SEGMENT: dict[str, int] = {"standard": 200, "shuffled": 200, "triple": 150}
PAPER_TRIALS = 50
OFFSETS = tuple(range(-5, 6))  # attention profile around the previous instance
SIGNAL_RATIO = 3.0  # a head under 3x the uniform baseline is no induction head (the toy's fresh weights stay under)

# Limits, defined once: the CLI, the URL parser and deployed mode read these.
MAX_TRIALS = 100_000
MAX_SEED = 2**31 - 1  # what a widget and a URL can hold; numpy seeds take any of these
MAX_SEGMENT = 2048
MAX_LAYERS_OR_HEADS = 1000  # what a URL may name before the model is known
# A Hugging Face id ("name" or "org/name", optionally "@revision"); anything else is a known name or a folder.
MODEL_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?(@[\w.-]+)?")
_HEAD = re.compile(r"\s*L(\d{1,4})H(\d{1,4})\s*", flags=re.IGNORECASE)


_OPTIONS = re.compile(r"\[\[([^\]]+)\]\]")  # [[setup=repeat]] or [[short=6 long=64]] in a message


def _python_options(match: re.Match) -> str:
    """[[setup=repeat trials=5]] -> setup='repeat', trials=5: what a Python caller passes."""
    pairs = [item.split("=", 1) for item in match.group(1).split()]
    return ", ".join(f"{k}={v}" if v == "..." or re.fullmatch(r"-?\d+(\.\d+)?", v) else f"{k}={v!r}" for k, v in pairs)


def _cli_options(match: re.Match) -> str:
    """[[setup=repeat trials=5]] -> --setup repeat --trials 5: what a command-line user types."""
    return " ".join(f"--{k.replace('_', '-')} {v}" for k, v in (item.split("=", 1) for item in match.group(1).split()))


class InductionError(Exception):
    """Base class: every error meant for a user's eyes.

    Why two renderings: one message serves a Python caller and a command-line user, each in their own terms.
    A message marks its advice as [[name=value ...]]: `str(error)` says name='value' (the keyword a Python
    caller passes), `error.cli` says --name value (the flag), and the CLI prints `cli`.
    """

    def __init__(self, message: str = "", *args) -> None:
        self.template = str(message)
        super().__init__(_OPTIONS.sub(_python_options, self.template), *args)
        self.cli = _OPTIONS.sub(_cli_options, self.template)

    def __reduce__(self):  # across a process boundary (the dashboard's workers) with both renderings
        return type(self), (self.template, *self.args[1:])


class ConfigError(InductionError, ValueError):
    """A parameter is out of range or unknown."""


class ModelLoadError(InductionError):
    """A model cannot be loaded or is not a supported encoder."""


def check_choice(name: str, value: object, options: tuple[str, ...]) -> str:
    """`value` if it is one of `options`, else a ConfigError that lists them."""
    if value not in options:
        raise ConfigError(f"unknown {name} {value!r}; choose one of {', '.join(options)}")
    return value  # type: ignore[return-value]


def min_segment(setup: str) -> int:
    """Shortest segment for which every target of the setup is well defined."""
    return 3 if setup == "shuffled" else 1


def special_positions(protocol: str, kind: str = "encoder", bos: bool = True) -> int:
    """Positions around the copies: an encoder's [CLS] (or the paper's [SEP]) and the clean protocol's closing
    [SEP]; a causal model's BOS where it has one, and nothing after."""
    if kind == "causal":
        return 1 if bos else 0
    return 1 + (1 if protocol == "clean" else 0)


def sequence_length(setup: str, protocol: str, segment: int, kind: str = "encoder", bos: bool = True) -> int:
    """Tokens fed to the model: the special positions + the copies."""
    return special_positions(protocol, kind, bos) + COPIES[setup] * segment


def max_segment(setup: str, protocol: str, max_positions: int, kind: str = "encoder", bos: bool = True) -> int:
    """Longest segment whose sequence fits `max_positions`."""
    return (max_positions - special_positions(protocol, kind, bos)) // COPIES[setup]


@dataclass(frozen=True)
class MapConfig:
    """Everything that changes an induction map's numbers (but the model's weights)."""

    model: str = "toy"  # or a loaded Hugging Face model (or a handle from induction.from_model(model, tokenizer))
    setup: Setup | None = None  # None: the model's kind's own (standard for an encoder, repeat for a decoder)
    protocol: Protocol = "clean"
    trials: int = PAPER_TRIALS
    seed: int = 0
    segment: int | None = None  # None: the protocol's default (paper: 200/150; clean: the model's)
    dtype: DType = "auto"
    device: Device = "auto"
    masks: int = 1  # masked tokens per trial, each a query (several masks: the study's joint-attention question)
    mask_span: MaskSpan = "scattered"  # K neighbouring tokens, or K with no two adjacent
    unit: Unit = "token"  # word: segments of whole words, the segment counted in word pieces
    mask_piece: MaskPiece = "all"  # word unit: mask every piece of the chosen word, or its first or last

    def validate(self) -> MapConfig:
        """Check everything that can be checked without loading the model."""
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError("model must be a non-empty name, Hugging Face id or folder, or a loaded Hugging Face "
                              "model")
        if self.setup is None:
            raise ConfigError("the setup is decided from the model's kind when the run is resolved "
                              "(runs.resolve_run); name one to validate before")
        check_choice("setup", self.setup, SETUPS)
        check_choice("protocol", self.protocol, PROTOCOLS)
        check_int("trials", self.trials, 1, MAX_TRIALS)
        check_int("seed", self.seed, 0, MAX_SEED)
        if self.segment is not None:
            check_int("segment", self.segment, min_segment(self.setup), MAX_SEGMENT)
        check_choice("dtype", self.dtype, DTYPES)
        check_choice("device", self.device, DEVICES)
        check_int("masks", self.masks, 1, MAX_MASKS)
        check_choice("mask span", self.mask_span, MASK_SPANS)
        check_choice("unit", self.unit, UNITS)
        check_choice("mask piece", self.mask_piece, MASK_PIECES)
        if self.setup == "repeat" and (self.protocol != "clean" or self.masks != 1 or self.unit != "token"):
            raise ConfigError("the repeat setup masks nothing (every token of the second copy is a query) and draws "
                              "distinct ids: use it with [[protocol=clean masks=1 unit=token]]")
        if self.unit == "word" and (self.setup != "standard" or self.masks != 1):
            raise ConfigError("the word unit has the standard setup's targets and masks one word a trial "
                              "([[mask_piece=...]] chooses its pieces): use [[setup=standard masks=1]]")
        return self

    def with_setup(self, kind: str) -> MapConfig:
        """Fill in the kind's own setup (standard for an encoder, repeat for a decoder) where none was named: a
        default that belongs to the weights, read from what the model is, never from its name."""
        return self if self.setup is not None else dataclasses.replace(self, setup=default_setup(kind))

    def with_segment(self, default_clean: int | None, max_positions: int, kind: str = "encoder",
                     bos: bool = True) -> MapConfig:
        """Fill in the default segment and check it fits the model's positions.

        paper: the study's 200/150; clean: the weights' own default (the hand-set toys' 16, recognised by their
        fingerprint), else the study's lengths (repeat: REPEAT_SEGMENT) shortened to fit the model's positions.
        """
        most = max_segment(self.setup, self.protocol, max_positions, kind, bos)
        segment = self.segment
        if segment is None and self.protocol == "paper":
            segment = PAPER_SEGMENT[self.setup]
        elif segment is None:
            segment = min(default_clean or PAPER_SEGMENT.get(self.setup, REPEAT_SEGMENT), most)
        if segment > most:
            raise ConfigError(
                f"segment {segment} is too long for {self.model!r}: {self.setup} with the {self.protocol} protocol "
                f"needs {sequence_length(self.setup, self.protocol, segment, kind, bos)} positions but the model has "
                f"{max_positions}; the longest segment that fits is {most}"
            )
        return dataclasses.replace(self, segment=segment)

    def targets(self) -> tuple[str, ...]:
        """The names of the targets a map of this config scores (its setup's, or the word unit's)."""
        if self.setup is None and self.unit != "word":
            raise ConfigError("the setup, and so the targets, are decided from the model's kind when the run is "
                              "resolved: read them from runs.resolve_run(config).config.targets(), or name a setup")
        return targets_for(self.setup, self.unit)

    def paper_segment_cut(self) -> bool:
        """A paper-protocol run whose segment is shorter than the study's (the dashboard cuts it to fit a small
        model's positions, and says so)."""
        return (self.protocol == "paper" and self.segment is not None
                and self.segment < PAPER_SEGMENT.get(self.setup, self.segment))


def default_setup(kind: str) -> str:
    """A model kind's own setup: what a map of it shows when no setup is named."""
    return CAUSAL_SETUPS[0] if kind == "causal" else SETUPS[0]


def targets_for(setup: str, unit: str = "token") -> tuple[str, ...]:
    """The targets a map of this setup and unit has: the one place that decides it."""
    return WORD_TARGETS if unit == "word" else SETUP_TARGETS[setup]


def check_target(setup: str, target: str) -> str:
    """`target` if the setup scores it, else a ConfigError naming the setup's targets."""
    options = SETUP_TARGETS.get(setup, ())
    if target not in options:
        raise ConfigError(f"unknown target {target!r} for setup {setup!r}; choose one of {', '.join(options)}")
    return target


def check_int(name: str, value: object, low: int, high: int) -> int:
    """`value` if it is a whole number in [low, high], else a ConfigError that says the range."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def parse_head(text: str) -> tuple[int, int]:
    """'L9H9' -> (9, 9). Layers and heads are 0-indexed everywhere; the one place heads are parsed."""
    match = _HEAD.fullmatch(str(text)[:40])
    if not match:
        raise ConfigError(f"cannot read head {str(text)[:20]!r}; write it as L<layer>H<head>, for example L9H9")
    return int(match.group(1)), int(match.group(2))


def head_name(layer: int, head: int) -> str:
    """(9, 9) -> 'L9H9', 0-indexed: the one spelling of a head."""
    return f"L{layer}H{head}"
