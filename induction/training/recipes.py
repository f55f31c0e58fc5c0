"""The training recipes: one frozen config each, everything that decides a run (and so its checkpoints, bit for bit).

What the data rewards: sequences of random characters (or, for a share of them, python-docs text) in which spans
are copied to later, random positions. A copy's tokens are predictable only from its
earlier instance, so the loss falls fastest with an induction circuit: a previous-token head, then a head that
matches what precedes the current token. Span lengths, counts and places vary and positions are rotary (relative),
so neither an absolute-position nor a fixed-offset shortcut solves it; characters are drawn with replacement and
an encoder's masks fall outside the copies too, so counting tokens cannot solve it either.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: Literal["causal", "encoder"]
    architecture: str  # the transformers class trained: LlamaForCausalLM or RoFormerForMaskedLM
    layers: int = 2
    hidden: int = 64
    heads: int = 2
    inner: int = 128  # MLP width
    positions: int = 64  # tokens per training sequence = the model's positions (specials included)
    batch: int = 64
    lr: float = 3e-3
    warmup: int = 100  # linear warm-up steps, then cosine to lr * min_lr_ratio
    min_lr_ratio: float = 0.1
    natural_share: float = 0.25  # share of sequences whose background is python-docs text (else random characters)
    held_out_every: int = 5  # python-docs topics with sha256(name) % this == 0 are not trained on (ICL reads them)
    spans: tuple[int, int] = (3, 5)  # copied spans per sequence, inclusive
    span_length: tuple[int, int] = (4, 12)  # inclusive
    adjacent_rate: float = 0.25  # chance a copy starts right after its source
    mask_rate_repeat: float = 0.3  # encoder: masking rate inside a span or its copy
    mask_rate_other: float = 0.1  # encoder: masking rate elsewhere
    seed: int = 0
    checkpoints: tuple[int, ...] = (0, 150, 300, 400, 450, 500, 550, 600, 800, 1000, 1500)
    log_every: int = 1  # the log has every step

    @property
    def final(self) -> int:
        return max(self.checkpoints)

    def last_step(self, until: int | None = None) -> int:
        """The step a run stops at: the final checkpoint's, or `until` if that comes first."""
        return self.final if until is None else min(until, self.final)


RECIPES: dict[str, Recipe] = {
    "trained-gpt": Recipe(name="trained-gpt", kind="causal", architecture="LlamaForCausalLM"),
    # natural text (nine rows in ten) makes the neighbour heads an encoder's circuit needs form first; with random
    # rows only, or half natural with fewer masks, no head formed; on the training topics alone (the held-out ones
    # left out) three quarters natural formed none in 3,000 steps (docs/training.md)
    "trained-bert": Recipe(name="trained-bert", kind="encoder", architecture="RoFormerForMaskedLM",
                           natural_share=0.9,
                           checkpoints=(0, 300, 600, 700, 800, 900, 1000, 1100, 1200, 1500, 2000, 3000)),
}

# The depth series (issues 36 and 41): trained-bert's recipe at 2, 4 and 6 layers, four heads each, width 64,
# as an encoder and as a decoder. Both kinds of one depth read the same batches (nine rows in ten natural text of the
# training topics, the same copies), on the same schedule, and differ only in objective and attention mask: that is
# what lets the page ask whether the objective moves the heads. Named layers x heads, as the study names BERT's sizes
# (Tiny 2x2 .. Large 24x16).
DEPTHS: tuple[int, ...] = (2, 4, 6)  # 8 layers would cost as much again as 4 and 6 together (docs/training.md)
DEPTH_HEADS = 4
DEPTH_CHECKPOINTS = (0, 250, 500, 750, 1000, 1500, 2000, 3000)


def depth_name(kind: str, layers: int) -> str:
    """`trained-bert-4x4` / `trained-gpt-4x4`: a depth series' name (layers x heads)."""
    return f"trained-{'bert' if kind == 'encoder' else 'gpt'}-{layers}x{DEPTH_HEADS}"


for _kind, _architecture in (("encoder", "RoFormerForMaskedLM"), ("causal", "LlamaForCausalLM")):
    for _layers in DEPTHS:
        _name = depth_name(_kind, _layers)
        RECIPES[_name] = replace(RECIPES["trained-bert"], name=_name, kind=_kind, architecture=_architecture,
                                 layers=_layers, heads=DEPTH_HEADS, checkpoints=DEPTH_CHECKPOINTS)
