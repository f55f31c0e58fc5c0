"""Which shared state each page reads, and what it runs when the view's setup does not apply to the model: one
table, decided by the compatibility matrix the CLI uses (`induction.compatibility`, docs/compatibility.md).

Why: the sidebar holds one setup and target for every page, but pages run different commands (Several masks masks
tokens, Effects reads a masked-token loss, the Mosaic and Training dynamics score models of another kind than
the sidebar's). Each page declares its command here; `fit` gives the setup, target and unit it runs for a kind
of model, the kind's default where the view's does not apply (said once, in words, never a CLI flag), or that
the page does not apply to that kind at all. Free of Streamlit: every page x kind is a plain unit test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from induction.compatibility import TAKES_SETUP, reason
from induction.config import SETUP_TARGETS, targets_for

# url path -> the compatibility matrix's command the page runs (None: it runs none, or every setup it shows)
PAGE_COMMANDS: dict[str, str | None] = {
    "map": "map", "head": "map", "sizes": "map", "setups": None, "mosaic": "mosaic", "compare": "map",
    "masks": "masks", "ablation": "ablate", "effects": "effects", "roles": None, "text": "text",
    "dynamics": "sweep", "icl": "icl", "reproduce": None, "about": None,  # reproduce: the BERT sizes, any view
}
PAGE_NAMES = {"map": "The Induction map", "head": "The drill-down", "sizes": "Model sizes", "mosaic": "The Mosaic",
              "compare": "Compare", "masks": "Several masks", "ablation": "Ablation", "effects": "Effects",
              "text": "Your text", "dynamics": "Training dynamics", "icl": "In-context learning",
              "reproduce": "The reproduction"}
# the setups a kind falls back to, in order: the study's standard setup for an encoder, repeat for a decoder
DEFAULT_ORDER = {"encoder": ("standard", "triple", "shuffled", "repeat"), "causal": ("repeat",)}
KIND_WORDS = {"encoder": "an encoder", "causal": "a decoder"}


@dataclass(frozen=True)
class PageSetup:
    """What a page runs for one kind of model: its setup, target and unit; `note`: said once when they differ from
    the view's (or why the page does not apply); `runs`: False when the page has nothing for this kind."""

    setup: str
    target: str
    unit: str = "token"
    note: str | None = None
    runs: bool = True


def plain(why: str) -> str:
    """A refusal of the matrix in a page's words: its CLI advice ('use --setup repeat') cut off."""
    text = re.split(r"[:;] (?:use (?:--|another)|decoders run `)", why)[0]
    return re.sub(r"\s*\((?:maps work|several masks)[^)]*\)", "", text).strip()


def fit(page: str, kind: str, setup: str, target: str, unit: str = "token", model: str = "this model") -> PageSetup:
    """The setup, target and unit `page` runs on a `kind` model when the view holds (setup, target, unit)."""
    command = PAGE_COMMANDS.get(page)
    if command is None:
        return PageSetup(setup, target, unit)
    if command not in TAKES_SETUP:  # natural text, ICL, the reproduction: no setup; the page runs or it does not
        why = reason(command, kind)
        return PageSetup(setup, target, unit, None if why is None else f"{PAGE_NAMES[page]} applies to encoders only: "
                         f"{plain(why)}.", why is None)
    if reason(command, kind, setup, unit) is None:
        return PageSetup(setup, target, unit)
    if unit != "token" and reason(command, kind, setup, "token") is None:
        return PageSetup(setup, target if target in targets_for(setup) else SETUP_TARGETS[setup][0], "token",
                         f"{PAGE_NAMES[page]} runs on tokens, not words: {plain(reason(command, kind, setup, unit))}.")
    why = plain(reason(command, kind, setup, unit) or "")
    for candidate in DEFAULT_ORDER[kind]:
        if reason(command, kind, candidate, "token") is None:
            chosen = target if target in SETUP_TARGETS[candidate] else SETUP_TARGETS[candidate][0]
            return PageSetup(candidate, chosen, "token", f"{PAGE_NAMES[page]} shows {model} ({KIND_WORDS[kind]}) in "
                             f"the {candidate} setup, target {chosen}: {why}.")
    return PageSetup(setup, target, unit, f"{PAGE_NAMES[page]} applies to encoders only: {model} is "
                     f"{KIND_WORDS[kind]}, and {why}.", False)
