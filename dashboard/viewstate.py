"""The dashboard's whole view state, to and from URL query parameters.

Why here and pure: a shared link must reproduce a view exactly, and hostile or
stale links must fall back to defaults with a notice, never a traceback. Keeping
the parsing free of Streamlit makes every rule a plain unit test.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from induction.config import (
    ABLATION_MODES,
    MASK_PIECES,
    MASK_SPANS,
    MAX_LAYERS_OR_HEADS,
    MAX_MASKS,
    MAX_SEED,
    MAX_SEGMENT,
    MAX_TRIALS,
    MODEL_ID,
    PROTOCOLS,
    SETUPS,
    UNITS,
    ConfigError,
    head_name,
    parse_head,
    targets_for,
)
from induction.models.registry import checkpoint_folder

MAX_TEXT = 200
MAX_LINK_TEXT = 300  # a longer pasted text stays out of the URL: a shared link then carries the settings only

# Settings only some pages read (url path -> pages): a link from any other page leaves them out, so a shared
# map does not carry last hour's ablation. Every other parameter is shared by all pages. The Map and Head pages
# read K masks (the Several masks caption calls its map "the Induction map with K masks").
_MASK_PAGES = ("map", "head", "masks")
PAGE_ONLY: dict[str, tuple[str, ...]] = {
    "ablate": ("ablation",), "mode": ("ablation", "effects"), "pair": ("effects",), "text": ("text",),
    "doc": ("text",), "masks": _MASK_PAGES, "span": _MASK_PAGES, "trial": ("map", "head"),
    "model2": ("compare",), "setup2": ("compare",), "seed2": ("compare",),
}


@dataclass(frozen=True)
class ViewState:
    """Everything a shared link reproduces. The dashboard derives its session fields from this class."""

    model: str = "toy"
    setup: str = "standard"
    protocol: str = "clean"
    target: str = "prev"
    trials: int = 50
    seed: int = 0
    segment: int | None = None  # None: the protocol's/model's default
    layer: int | None = None  # the selected head, if any
    head: int | None = None
    rescale: bool = False
    ablate: tuple[tuple[int, int], ...] = ()  # heads to ablate (Ablation page)
    mode: str = "zero"  # ablation mode: zero or mean
    pair: tuple[int, int] | None = None  # Effects page: a head ablated first (the backup question)
    text: str = ""  # Your text page: a pasted text, only when it is at most MAX_LINK_TEXT characters
    doc: str = ""  # Your text page: a python-docs document instead of pasted text
    trial: int = 0  # the drill-down's sample trial
    masks: int = 1  # Several masks page: masked tokens per trial
    span: str = "scattered"  # Several masks page: scattered or contiguous
    unit: str = "token"  # map pages: token, or word (segments of whole words)
    piece: str = "all"  # word unit: which pieces of the chosen word are masked
    model2: str = ""  # Compare page: B's model ("" = A's)
    setup2: str = ""  # Compare page: B's setup ("" = A's)
    seed2: int | None = None  # Compare page: B's seed (None = A's)

    def local_model(self) -> bool:
        """A folder on this machine: never written into a link (it would name a local path)."""
        return os.path.isdir(self.model) or not MODEL_ID.fullmatch(self.model)

    def to_query(self, page: str | None = None) -> dict[str, str]:
        """The link's parameters; on `page` (a url path), without the settings only other pages read."""
        q = self._query()
        if page is not None:
            q = {k: v for k, v in q.items() if page in PAGE_ONLY.get(k, (page,))}
        return q

    def _query(self) -> dict[str, str]:
        q = {"setup": self.setup, "protocol": self.protocol, "target": self.target,
             "trials": str(self.trials), "seed": str(self.seed)}
        if not self.local_model():
            q = {"model": self.model, **q}
        if self.segment is not None:
            q["segment"] = str(self.segment)
        if self.layer is not None and self.head is not None:
            q["layer"], q["head"] = str(self.layer), str(self.head)
        if self.rescale:
            q["rescale"] = "1"
        if self.ablate:
            q["ablate"] = ",".join(head_name(l, h) for l, h in self.ablate)
        if self.mode != "zero":
            q["mode"] = self.mode
        if self.pair is not None:
            q["pair"] = head_name(*self.pair)
        if self.trial:
            q["trial"] = str(self.trial)
        if self.masks != 1:
            q["masks"], q["span"] = str(self.masks), self.span
        if self.unit != "token":
            q["unit"], q["piece"] = self.unit, self.piece
        if self.doc:
            q["doc"] = self.doc
        elif self.text and len(self.text) <= MAX_LINK_TEXT:
            q["text"] = self.text
        if self.model2 and MODEL_ID.fullmatch(self.model2) and not os.path.isdir(self.model2):
            q["model2"] = self.model2  # a local folder stays out of a link, as for A
        if self.setup2:
            q["setup2"] = self.setup2
        if self.seed2 is not None:
            q["seed2"] = str(self.seed2)
        return q

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def head_selected(self) -> bool:
        return self.layer is not None and self.head is not None


def _int(params, name, low, high, notices, default):
    raw = params.get(name)
    if raw is None:
        return default
    text = str(raw)[:MAX_TEXT]
    if not re.fullmatch(r"-?\d{1,18}", text.strip()):  # -1 is a whole number, out of range (said so below)
        notices.append(f"ignored {name}={text!r}: write a whole number from {low} to {high}")
        return default
    value = int(text.strip())
    if not low <= value <= high:
        notices.append(f"ignored {name}={value}: must be between {low} and {high}")
        return default
    return value


def _choice(params, name, options, notices, default):
    raw = params.get(name)
    if raw is None:
        return default
    if raw not in options:
        notices.append(f"ignored {name}={str(raw)[:40]!r}: choose one of {', '.join(options)}")
        return default
    return raw


def _model(params, notices, allowed: tuple[str, ...] | None, default: str, name: str = "model") -> str:
    raw = params.get(name)
    if raw is None:
        return default
    text = str(raw)
    if allowed is not None and text not in allowed and not (text.partition("@")[0] in allowed
                                                            and checkpoint_folder(text) is not None):
        notices.append(f"ignored {name}={text[:40]!r}: this server offers {', '.join(allowed)}")
        return default
    if len(text) > MAX_TEXT or ".." in text or text.startswith(("/", "~", "\\")) or not MODEL_ID.fullmatch(text):
        notices.append(f"ignored {name}={text[:40]!r}: not a model name or Hugging Face id")
        return default
    return text


def _heads(raw: str | None, notices) -> tuple[tuple[int, int], ...]:
    if not raw:
        return ()
    out = []
    for part in str(raw)[:MAX_TEXT].split(","):
        try:
            layer, head = parse_head(part)
        except ConfigError:
            notices.append(f"ignored ablate entry {part[:20]!r}: write heads as L9H9")
            continue
        if layer >= MAX_LAYERS_OR_HEADS or head >= MAX_LAYERS_OR_HEADS:
            notices.append(f"ignored ablate entry {part[:20]!r}: no model has that many layers or heads")
            continue
        out.append((layer, head))
    return tuple(dict.fromkeys(out))


def _link_text(raw: str | None, notices) -> str:
    if raw is None:
        return ""
    if len(str(raw)) > MAX_LINK_TEXT:
        notices.append(f"ignored text: a link carries at most {MAX_LINK_TEXT} characters of text")
        return ""
    return str(raw)


def _doc(raw: str | None, notices) -> str:
    if raw is None:
        return ""
    if not re.fullmatch(r"[\w.-]{1,60}", str(raw)):
        notices.append(f"ignored doc={str(raw)[:40]!r}: not a document name")
        return ""
    return str(raw)


def _pair(raw: str | None, notices) -> tuple[int, int] | None:
    heads = _heads(raw, notices)
    if len(heads) > 1:
        notices.append("ignored pair: name one head, for example pair=L1H0")
        return None
    return heads[0] if heads else None


def from_query(params: Mapping[str, str], *, allowed_models: tuple[str, ...] | None = None,
               max_trials: int = MAX_TRIALS, max_segment: int = MAX_SEGMENT,
               default: ViewState = ViewState()) -> tuple[ViewState, list[str]]:
    """Parse query parameters; anything unknown or malformed falls back with a notice."""
    notices: list[str] = []
    known = set(ViewState.field_names())
    for name in params:
        if name not in known:
            notices.append(f"ignored unknown parameter {str(name)[:40]!r}")
    setup = _choice(params, "setup", SETUPS, notices, default.setup)
    unit = _choice(params, "unit", UNITS, notices, default.unit)
    targets = targets_for(setup, unit)
    target = _choice(params, "target", targets, notices, default.target if default.target in targets else targets[0])
    layer = _int(params, "layer", 0, MAX_LAYERS_OR_HEADS, notices, None)
    head = _int(params, "head", 0, MAX_LAYERS_OR_HEADS, notices, None)
    if (layer is None) != (head is None):
        notices.append("ignored the selected head: both layer and head are needed")
        layer = head = None
    state = ViewState(
        model=_model(params, notices, allowed_models, default.model), setup=setup,
        protocol=_choice(params, "protocol", PROTOCOLS, notices, default.protocol), target=target,
        trials=_int(params, "trials", 1, max_trials, notices, default.trials),
        seed=_int(params, "seed", 0, MAX_SEED, notices, default.seed),
        segment=_int(params, "segment", 1, max_segment, notices, default.segment),
        layer=layer, head=head, rescale=params.get("rescale") in ("1", "true"),
        ablate=_heads(params.get("ablate"), notices),
        mode=_choice(params, "mode", ABLATION_MODES, notices, default.mode),
        pair=_pair(params.get("pair"), notices),
        text=_link_text(params.get("text"), notices), doc=_doc(params.get("doc"), notices),
        trial=_int(params, "trial", 0, max_trials - 1, notices, 0),
        masks=_int(params, "masks", 1, MAX_MASKS, notices, 1), unit=unit,
        piece=_choice(params, "piece", MASK_PIECES, notices, default.piece),
        span=_choice(params, "span", MASK_SPANS, notices, "scattered"),
        model2=_model(params, notices, allowed_models, "", "model2"),
        setup2=_choice(params, "setup2", SETUPS, notices, ""),
        seed2=_int(params, "seed2", 0, MAX_SEED, notices, None),
    )
    return state, notices
