"""Which command runs on which kind of model, setup, unit and capture path: the one place that says so.

Why: each capability was built for the models it was designed for; where two meet (a decoder and a [MASK],
several masks and the effects engine, the word unit and the shuffled setup) the answer must be a run with a
checked answer or a one-line refusal before anything is computed, naming what would work. The commands call
`check` first; `tests/test_compatibility.py` walks every cell and writes docs/compatibility.md.
"""

from __future__ import annotations

from itertools import product
from typing import Literal, get_args

from induction.config import CAPTURE_PATHS, CAUSAL_SETUPS, MODEL_KINDS, SETUPS, UNITS, ConfigError

Command = Literal["map", "ablate", "effects", "text", "icl", "masks", "words", "mosaic", "sweep", "reproduce"]
COMMANDS: tuple[str, ...] = get_args(Command)
# commands that take a setup and a unit; the others read natural text (text, icl) or run the study's own list
TAKES_SETUP = ("map", "ablate", "effects", "masks", "words", "mosaic", "sweep")
TAKES_UNIT = ("map", "ablate", "effects")


def reason(command: str, kind: str, setup: str | None = None, unit: str = "token") -> str | None:
    """Why `command` cannot run here, in a Python caller's terms (setup='repeat'); None when it runs."""
    why = _reason(command, kind, setup, unit)
    return None if why is None else str(ConfigError(why))


def _reason(command: str, kind: str, setup: str | None = None, unit: str = "token") -> str | None:
    """Why `command` cannot run on a `kind` model with this setup and unit, in one line naming what would work;
    None when it runs. The capture path never refuses a command: both paths read the same rows and ablate."""
    if command not in COMMANDS:
        return f"unknown command {command!r}: choose one of {', '.join(COMMANDS)}"
    if command == "reproduce":
        return ("the reproduction runs the reference study's BERT experiments (masked setups, paper protocol): "
                "decoders run the map with [[setup=repeat]]") if kind == "causal" else None
    if command in ("text", "icl"):
        return None  # a decoder reads natural text unmasked, and has its own ICL score (next-token)
    if kind == "causal" and setup not in CAUSAL_SETUPS:
        return (f"a causal model has no [MASK] and sees only earlier tokens, so the {setup} setup cannot be scored "
                f"on it: use [[setup={CAUSAL_SETUPS[0]}]]")
    if command == "words" or unit == "word":
        if kind == "causal":
            return "the word unit masks a word of the second copy: a causal model has no [MASK]; use [[unit=token]]"
        if setup != "standard":
            return "the word unit has the standard setup's targets: use [[setup=standard]]"
        if command in ("ablate", "effects"):
            return f"{command} masks one token a trial: use [[unit=token]] (several masks and words: maps only)"
        return None
    if command == "masks":
        if setup == "repeat":
            return "the repeat setup masks nothing (every token of the second copy is a query): use another setup"
        return None
    if command == "effects" and kind == "encoder" and setup == "repeat":
        return ("the repeat setup masks nothing, so an encoder has no masked-token loss to read: use "
                "[[setup=standard]] for an encoder's effects (maps work on repeat)")
    return None


def check(command: str, kind: str, setup: str | None = None, unit: str = "token") -> None:
    """Raise the one-line ConfigError `reason` gives, before any compute."""
    why = _reason(command, kind, setup, unit)
    if why:
        raise ConfigError(why)  # the CLI prints its advice as flags


def cells() -> list[tuple[str, str, str | None, str, str]]:
    """Every (command, kind, setup, unit, capture path) the matrix covers, enumerated from the Literals."""
    out = []
    for command, kind, path in product(COMMANDS, MODEL_KINDS, CAPTURE_PATHS):
        setups = SETUPS if command in TAKES_SETUP else (None,)
        units = UNITS if command in TAKES_UNIT else ("word",) if command == "words" else ("token",)
        out += [(command, kind, setup, unit, path) for setup, unit in product(setups, units)]
    return out
