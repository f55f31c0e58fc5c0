"""Reproduce the study in one call: every experiment for each size that loads, judged against what the
study reported (`study.REPORTED`), one row per reported number.

A model that cannot load gives its rows `not run` with the reason and no invented numbers. A run that
started and failed marks the reproduction failed (the CLI then exits non-zero), after the others ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from induction.analyses.icl import ICLConfig, icl_score
from induction.config import InductionError, MapConfig, ModelLoadError
from induction.engine import Progress, compute_map
from induction.models.registry import KNOWN_MODELS
from induction.scoring import InductionMap
from induction.study.reported import MAP_EXPERIMENTS, REPORTED, SIZES_ORDER, Reported, judge_head, judge_icl, row

STUDY_CORPUS = "wikipedia-simple"


@dataclass
class Reproduction:
    """The reference study reproduced: one row per reported number (what was reported, what was measured here, and
    whether they match, differ or could not be run, with why), the measured maps and the runs that failed."""

    rows: list[dict]
    measured: dict = field(default_factory=dict)  # model -> setup -> target -> {"head", "score"}
    failed: list[str] = field(default_factory=list)  # runs that started and failed

    def to_json(self) -> dict:
        """The JSON `induction reproduce --json` writes."""
        return {"rows": self.rows, "measured": self.measured, "failed": self.failed}


def parse_models(text: str) -> dict[str, str]:
    """'tiny,base' or 'base=/path/to/folder': size name -> what to load (the registry's source by default)."""
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, source = part.partition("=")
        if name not in SIZES_ORDER:
            raise InductionError(f"unknown size {name!r} in the models; the study's sizes are {', '.join(SIZES_ORDER)}"
                                 " (write size=folder to stand in another model)")
        out[name] = source or name
    return out


def _top(result: InductionMap, target: str) -> tuple[list[tuple[str, float]], dict[str, float]]:
    mean = result.mean(target)
    ranking = [(h.name, h.score) for h in result.top_heads(target, mean.size)]
    return ranking, dict(ranking)


def _first_sentence(exc: Exception) -> str:
    return str(exc).split(". ")[0][:200]


def _refusal(source: str) -> str | None:
    """Why the study's experiments cannot run on this model at all (a decoder), before any compute."""
    from induction.compatibility import reason
    from induction.models.loading import describe

    try:
        return reason("reproduce", describe(source).kind)
    except InductionError:
        return None  # the first map says why, in its own row


def reproduce(models: dict[str, str], *, trials: int = 50, seed: int = 0, device: str = "auto",
              icl_corpus: str = STUDY_CORPUS, icl_trials: int = 50, progress: Progress | None = None,
              use_cache: bool = True) -> Reproduction:
    """Run every experiment of the study for `models` (size -> source) and judge each reported number."""
    out = Reproduction(rows=[])
    maps: dict[str, InductionMap] = {}  # size -> its standard map
    why_not: dict[str, str] = {}  # size -> why its experiments did not run
    for done, (size, source) in enumerate(models.items()):
        why = _refusal(source)
        if why:
            why_not[size] = why
        for setup, targets in MAP_EXPERIMENTS if not why else ():
            config = MapConfig(model=source, setup=setup, protocol="paper", trials=trials, seed=seed, device=device)
            try:
                result = compute_map(config, use_cache=use_cache)
            except ModelLoadError as exc:
                why_not[size] = _first_sentence(exc)
                break
            except InductionError as exc:  # the setup does not fit this model, say
                why_not.setdefault(size, f"{setup}: {_first_sentence(exc)}")
                continue
            except Exception as exc:
                out.failed.append(f"{size} {setup}: {type(exc).__name__}: {exc}")
                why_not.setdefault(size, f"{setup} failed: {type(exc).__name__}")
                continue
            if setup == "standard":
                maps[size] = result
            out.measured.setdefault(size, {})[setup] = {
                t: {"head": (best := result.top_heads(t, 1)[0]).name, "score": round(best.score, 4)} for t in targets}
        if progress:
            progress(done + 1, len(models) + 1)
    icl = _icl(models, trials=icl_trials, seed=seed, device=device, corpus=icl_corpus, use_cache=use_cache, out=out)
    for reported in REPORTED:
        out.rows.append(_judge(reported, models, maps, why_not, icl))
    if progress:
        progress(len(models) + 1, len(models) + 1)
    return out


def _icl(models, *, trials, seed, device, corpus, use_cache, out) -> tuple[float | None, str]:
    """(the all-tokens ICL score of the base model, or None, and why not / on what corpus)."""
    if "base" not in models:
        return None, "base is not in --models"
    config = ICLConfig(model=models["base"], corpus=corpus, variant="all-tokens", trials=trials, seed=seed,
                       device=device, replace=corpus != STUDY_CORPUS)
    try:
        return icl_score(config, use_cache=use_cache).mean, corpus
    except InductionError as exc:
        hint = "" if corpus != STUDY_CORPUS else "; --icl-corpus python-docs runs it offline (not comparable)"
        return None, f"{_first_sentence(exc)}{hint}"
    except Exception as exc:
        out.failed.append(f"icl: {type(exc).__name__}: {exc}")
        return None, f"failed: {type(exc).__name__}"


def _judge(reported: Reported, models: dict, maps: dict, why_not: dict, icl: tuple[float | None, str]) -> dict:
    if reported.model not in models:
        return row(reported, "not run", f"{reported.model} is not in --models")
    if reported.experiment == "icl":
        score, corpus = icl
        if score is None:
            return row(reported, "not run", corpus)
        return judge_icl(reported, score, comparable=corpus == STUDY_CORPUS, corpus=corpus)
    result = maps.get(reported.model)
    if result is None:
        return row(reported, "not run", why_not.get(reported.model, "the standard map did not run"))
    ranking, scores = _top(result, reported.target)
    return judge_head(reported, ranking, scores)


def default_models() -> dict[str, str]:
    return {size: size for size in SIZES_ORDER if size in KNOWN_MODELS}


__all__ = ["Reproduction", "default_models", "parse_models", "reproduce"]
