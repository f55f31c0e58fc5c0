"""The reference study's reported numbers, as data with their source, and how a measurement is judged.

Why data: `reproduce` prints what the study reported beside what was measured, row by row, and
the page shows the same table; both read these rows. Heads are 0-indexed (L9H9 = layer 9, head 9).
Pure Python: no model code here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["match", "differs", "not run"]
SCORE_TOLERANCE = 0.1  # |measured - reported| for a head's score to count as the same
NO_HEAD_THRESHOLD = 0.3  # "no induction head": no head scores this much
ICL_TOLERANCE = 0.05
TOP_K = 5  # a reported head must be among the measured top 5 of its target

# the reference study, cited on the dashboard's main page and About page
STUDY_AUTHOR = "C. Chen"
STUDY_TITLE = "Exploring Induction Heads in BERT"
STUDY_VENUE = "Harvard Insight + Interaction Lab"
STUDY_CODE = "https://github.com/chenxcynthia/transformer-interpretability"
STUDY_CODE_FOLDER = "Induction Heads"
STUDY_CITATION = (f"{STUDY_AUTHOR}, *{STUDY_TITLE}* ({STUDY_VENUE}); code: [{STUDY_CODE.removeprefix('https://github.com/')}]"
                  f"({STUDY_CODE}), folder `{STUDY_CODE_FOLDER}`")
FIGURES = "the study's induction-map figures (standard setup, paper protocol, 50 trials)"
WRITE_UP = "the study's write-up"
CODE = "the study's code output"


@dataclass(frozen=True)
class Reported:
    experiment: str  # "standard", "sizes", "icl"
    model: str  # a size name: tiny, small, medium, base, large
    target: str  # a map target, or the ICL variant
    head: str | None  # "L10H9"; None for "no head" and for ICL
    score: float | None
    rank: int  # 1 for the study's best head of this model and target
    source: str


REPORTED: tuple[Reported, ...] = (
    Reported("standard", "base", "prev", "L10H9", 0.68, 1, FIGURES),
    Reported("standard", "base", "prev", "L9H0", 0.67, 2, FIGURES),
    Reported("standard", "base", "prev", "L9H6", 0.61, 3, FIGURES),
    Reported("standard", "base", "prev", "L10H1", 0.52, 4, FIGURES),
    Reported("standard", "base", "prev", "L11H8", 0.50, 5, FIGURES),
    Reported("standard", "base", "prev_before", "L9H9", 0.65, 1, FIGURES),
    Reported("standard", "base", "prev_after", "L8H2", 0.63, 1, FIGURES),
    Reported("sizes", "tiny", "prev", None, None, 1, FIGURES),
    Reported("sizes", "small", "prev", "L3H1", 0.83, 1, FIGURES),
    Reported("sizes", "medium", "prev", "L7H7", 0.96, 1, FIGURES),
    Reported("sizes", "large", "prev", "L21H6", 0.66, 1, FIGURES),
    Reported("icl", "base", "all-tokens", None, 0.2555, 1, CODE),
    Reported("icl", "base", "all-tokens", None, 0.23, 1, WRITE_UP),
)
# Every experiment the reproduction runs: (setup, targets) of the maps; sizes and ICL use these too.
MAP_EXPERIMENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("standard", ("prev", "prev_before", "prev_after")),
    ("shuffled", ("left_match", "right_match", "sum")),
    ("triple", ("earlier", "later")),
)
SIZES_ORDER = ("tiny", "small", "medium", "base", "large")


def row(reported: Reported, status: Status, reason: str, measured_head: str | None = None,
        measured_score: float | None = None) -> dict:
    """One row of the reproduction table (and of its JSON)."""
    return {"experiment": reported.experiment, "model": reported.model, "target": reported.target,
            "reported_head": reported.head, "reported_score": reported.score, "source": reported.source,
            "measured_head": measured_head, "measured_score": measured_score, "status": status, "reason": reason}


def judge_head(reported: Reported, ranking: list[tuple[str, float]], scores: dict[str, float]) -> dict:
    """A reported head against a measured map: `ranking` is (head, score) best first, `scores` every head's."""
    if reported.head is None:  # the study: no induction head in this model
        best, best_score = ranking[0]
        ok = best_score < NO_HEAD_THRESHOLD
        return row(reported, "match" if ok else "differs",
                   f"best head {best} {best_score:.2f} {'<' if ok else '>='} {NO_HEAD_THRESHOLD}", best, best_score)
    at_rank = ranking[reported.rank - 1][0] if reported.rank <= len(ranking) else None
    measured = scores.get(reported.head)
    if measured is None:
        return row(reported, "differs", f"the model has no head {reported.head}", at_rank, None)
    top = [h for h, _ in ranking[:TOP_K]]
    close = abs(measured - reported.score) <= SCORE_TOLERANCE
    where = "same rank" if at_rank == reported.head else f"in the top {TOP_K}" if reported.head in top else \
        f"not in the top {TOP_K}"
    ok = close and reported.head in top
    return row(reported, "match" if ok else "differs",
               f"{where}; score {measured:.2f} vs {reported.score:.2f} "
               f"({'within' if close else 'outside'} ±{SCORE_TOLERANCE})", at_rank, measured)


def judge_icl(reported: Reported, measured: float, comparable: bool, corpus: str) -> dict:
    if not comparable:
        return row(reported, "not run", f"measured on {corpus}, not comparable (the study used Simple English "
                                        f"Wikipedia)", None, measured)
    close = abs(measured - reported.score) <= ICL_TOLERANCE
    return row(reported, "match" if close else "differs",
               f"{measured:.4f} vs {reported.score} ({'within' if close else 'outside'} ±{ICL_TOLERANCE})",
               None, measured)


def format_table(rows: list[dict]) -> str:
    """The reproduction table as text: one line per reported number."""
    lines = [f"{'experiment':10s} {'model':7s} {'target':12s} {'reported':16s} {'measured':16s} status   reason"]
    for r in rows:
        rep = f"{r['reported_head'] or '-'} {'' if r['reported_score'] is None else r['reported_score']}"
        mea = f"{r['measured_head'] or '-'} " + ("" if r["measured_score"] is None else f"{r['measured_score']:.3f}")
        lines.append(f"{r['experiment']:10s} {r['model']:7s} {r['target']:12s} {rep:16s} {mea:16s} "
                     f"{r['status']:8s} {r['reason']}")
    return "\n".join(lines)


def first_occurrence_targets(original_ids, mask_index) -> tuple[int, int]:
    """The study's shuffled-setup targets, found by search: the position after the first occurrence of the
    masked token's left neighbour, and the position before the first occurrence of its right neighbour."""
    ids = list(original_ids)
    left, right = int(original_ids[mask_index - 1]), int(original_ids[mask_index + 1])
    return ids.index(left) + 1, ids.index(right) - 1


def shuffled_search_disagreement(trials: int = 20_000, seed: int = 0) -> dict[str, float]:
    """Shares of paper-protocol shuffled trials where the study's first-occurrence search finds another target
    than this project's construction (ids drawn with replacement repeat within a segment now and then):
    per target, and for either."""
    import numpy as np

    from induction.config import PAPER_SEGMENT
    from induction.trials.rrt import VocabSpec, build_trials

    vocab = VocabSpec(cls_id=101, sep_id=102, mask_id=103, vocab_size=30522, clean_ids=np.arange(1000, 30522))
    batch = build_trials("shuffled", "paper", segment=PAPER_SEGMENT["shuffled"], trials=trials, seed=seed,
                         vocab=vocab)
    differ = np.zeros((trials, 2), dtype=bool)
    for t in range(trials):
        found = first_occurrence_targets(batch.original_ids[t], int(batch.mask_index[t]))
        built = (int(batch.target_index["left_match"][t]), int(batch.target_index["right_match"][t]))
        differ[t] = np.not_equal(found, built)
    return {"left_match": float(differ[:, 0].mean()), "right_match": float(differ[:, 1].mean()),
            "either": float(differ.any(axis=1).mean())}
