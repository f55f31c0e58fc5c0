"""The induction circuit's mechanism through training: per checkpoint of a series, the induction head's prefix-matching
score beside its OV copying score and the K-composition from the previous-token heads into it.

Why: Olsson et al. (2022) argue from co-occurrence: at the phase change the induction score jumps together with the
mechanism that implements it (a previous-token head whose output an induction head's key reads, and an OV circuit that
copies). The behavioural score alone (Training dynamics) shows that a head forms; this shows what forms with it.

Which heads: the series' final checkpoint names them, so every checkpoint is read on the same heads. The induction
head is the final checkpoint's head with the highest prefix-matching score; the previous-token heads are its heads
in earlier layers that pass the previous_token role there (or, where none passes, the earlier head with the highest
previous-token score). Each checkpoint's K-composition is read against the random baseline of its shapes (the same
at every checkpoint of a series: the shapes do not change).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from induction.analyses.dynamics import appearance_step, expand_series
from induction.checkpoints import checkpoint_step
from induction.config import PAPER_TRIALS, InductionError, head_name
from induction.engine import Progress


@dataclass(repr=False)
class MechanismSeries:
    """Per checkpoint (`rows`, sorted by step): the induction head's prefix-matching score and its sem, its OV copying
    score and direct-logit copy, and the K-composition from each previous-token head into it (with the maximum),
    beside the random composition baseline."""

    series: str
    induction_head: tuple[int, int]
    previous_token_heads: list[tuple[int, int]]
    rows: list[dict]
    random_mean: float | None
    random_sd: float | None
    strong_above: float | None
    trials: int
    seed: int
    rotary: str | None = None  # rotary families: what W_QK is ("relative offset 0")
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def appears(self) -> int | None:
        """The first step at which the induction head's prefix-matching score reaches half its highest."""
        return appearance_step([(r["step"], r["prefix_matching"]) for r in self.rows])

    def to_json(self) -> dict:
        """The JSON `induction roles --series S --json F` writes (keys in docs/method.md's glossary)."""
        return {"series": self.series, "induction_head": head_name(*self.induction_head),
                "previous_token_heads": [head_name(*h) for h in self.previous_token_heads],
                "random_mean": self.random_mean, "random_sd": self.random_sd, "strong_above": self.strong_above,
                "appears": self.appears, "trials": self.trials, "seed": self.seed, "rotary": self.rotary,
                "notes": self.notes,
                "checkpoints": self.rows}

    def to_frame(self):
        """The tidy long format (`induction.frames`): per checkpoint the induction head's prefix-matching score
        (measure role), its copying (measure copying) and each K-composition (measure composition, target K from
        the previous-token head)."""
        from induction.frames import frame, mechanism_rows

        return frame(mechanism_rows(self))

    def __repr__(self) -> str:
        return (f"MechanismSeries({self.series!r}, {len(self.rows)} checkpoints, induction head "
                f"{head_name(*self.induction_head)}, previous-token heads "
                f"{', '.join(head_name(*h) for h in self.previous_token_heads) or 'none'})")


def _heads(final) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    """The induction head and the previous-token heads, as the final checkpoint's roles name them."""
    pm = np.nan_to_num(final.prefix_matching, nan=-np.inf)
    induction = tuple(int(i) for i in np.unravel_index(int(np.argmax(pm)), pm.shape))
    earlier = [(l, h) for l in range(induction[0]) for h in range(final.heads)]
    if not earlier:
        return induction, []
    passed = final.passed()["previous_token"]
    named = [(l, h) for l, h in earlier if passed[l, h]]
    if named:
        return induction, named
    prev = np.nan_to_num(final.scores["previous_token"], nan=-np.inf)
    return induction, [max(earlier, key=lambda lh: prev[lh])]


def mechanism_series(series: str, *, trials: int = PAPER_TRIALS, seed: int = 0, progress: Progress | None = None
                     ) -> MechanismSeries:
    """Every checkpoint of `series` (a shipped series by name, trained-gpt, or a folder of step_N checkpoints): its
    head roles (`head_roles`, cached per checkpoint), read on the heads the final checkpoint names."""
    from induction.analyses.roles import head_roles

    models = expand_series(series)
    stepped = sorted((checkpoint_step(m), m) for m in models if checkpoint_step(m) is not None)
    if not stepped:
        raise InductionError(f"{series!r} is not a checkpoint series: name trained-gpt or trained-bert, or a folder of "
                             "step_N checkpoint folders")
    results = []
    for done, (step, model) in enumerate(stepped):
        results.append((step, model, head_roles(model, trials=trials, seed=seed)))
        if progress:
            progress(done + 1, len(stepped))
    final = results[-1][2]
    induction, previous = _heads(final)
    rows = []
    for step, model, r in results:
        k = r.composition["K"] if r.composition is not None else None
        per = [{"from": head_name(*p), "K": None if k is None else round(float(k[(*p, *induction)]), 6)}
               for p in previous]
        known = [e["K"] for e in per if e["K"] is not None]
        rows.append({"model": model, "step": step,
                     "prefix_matching": round(float(r.prefix_matching[induction]), 6),
                     "prefix_matching_sem": round(float(r.sems["prefix_matching"][induction]), 6),
                     "copying": None if r.copying is None else round(float(r.copying[induction]), 6),
                     "copy_logit": None if r.copy_logit is None else round(float(r.copy_logit[induction]), 6),
                     "k_composition": per, "k_composition_max": max(known) if known else None})
    base = final.composition_baseline or {}
    return MechanismSeries(series=series, induction_head=induction, previous_token_heads=previous, rows=rows,
                           random_mean=base.get("mean"), random_sd=base.get("sd"), strong_above=base.get("threshold"),
                           trials=final.trials, seed=seed, rotary=final.rotary, notes=dict(final.notes))
