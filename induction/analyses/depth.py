"""Where induction heads sit as a model gets deeper: the depth series trained here, encoders and decoders side by
side, beside the reference study's BERT sizes.

Why: the study's central comparison is across BERT sizes (Tiny 2x2 .. Large 24x16): strong heads only in the last
layers. Decoders' induction heads are reported early to middle (GPT-2 small's L5H5 of 12). Whether that difference
belongs to the objective (masked vs next-token), to where the score is read from (a [MASK] query vs every
second-copy token), or to neither, the depth series can say: an encoder and a decoder of each depth read the same
batches and differ only in objective and attention mask (`training/recipes.py`).

Per series, on its final checkpoint:
- the strongest head of the kind's own reading (an encoder's [MASK] `prev`, a decoder's `induction` over every
  second-copy token), its layer and relative depth, (layer + 1) / layers: 1.0 is the last layer;
- an encoder's strongest `prev_before` and `prev_after` heads too;
- `readings`: the strongest head when the score is read from another query: [MASK] (encoders), every second-copy
  token and the last token only (the repeat setup's target at the earlier instance of the token the model predicts
  there: an encoder's `duplicate`, a decoder's `induction`);
- the source: the earlier head with the highest K-composition into the strongest head, against the random
  baseline of its shapes, with its previous- and next-token scores and the roles it passes (a decoder's source is
  a previous-token head; an encoder's [MASK] carries no token, so its circuit may read either neighbour);
- the ablation: the loss change without the strongest head, without its source, and without the weakest head of
  the strongest head's layer (the control);
- the formation step: the first checkpoint whose best head reaches half of the series' highest (`dynamics`);
- the ICL gain on held-out python-docs text.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from induction.config import PAPER_TRIALS, InductionError, MapConfig, head_name, parse_head
from induction.engine import Progress

READINGS = ("mask_query", "every_token", "last_token")  # where a score is read from: [MASK], every second-copy
# token, the last one
READING_NAMES = {"mask_query": "the [MASK] query (standard prev)",
                 "every_token": "every second-copy token (repeat: an encoder's duplicate, a decoder's induction)",
                 "last_token": "the last token only (the same target)"}
OWN = {"encoder": ("standard", "prev"), "causal": ("repeat", "induction")}  # each kind's own reading
# What an unmasked query reads in the repeat setup: the earlier instance of the token the model predicts there. An
# encoder's [MASK] predicts its own position's token, so its `prev` is at offset -segment, as an unmasked encoder
# query's `duplicate` is; a decoder at position i predicts token i + 1, whose earlier instance is `induction`.
REPEAT_TARGET = {"encoder": "duplicate", "causal": "induction"}
ENCODER_TARGETS = ("prev", "prev_before", "prev_after")


def relative_depth(layer: int, layers: int) -> float:
    """(layer + 1) / layers: 1.0 for the last layer, 1 / layers for the first (0-indexed layer)."""
    return (layer + 1) / layers


def depth_series(family: str = "both") -> list[str]:
    """The depth series' names (trained-bert-4x4 ...), encoders then decoders, shallow to deep."""
    from induction.models.registry import DEPTH_MODELS, KNOWN_MODELS

    kinds = {"both": ("encoder", "causal"), "encoder": ("encoder",), "causal": ("causal",)}.get(family)
    if kinds is None:
        raise InductionError(f"family {family!r}: write encoder, causal or both")
    return [name for name in DEPTH_MODELS if KNOWN_MODELS[name].kind in kinds]


def study_rows() -> list[dict]:
    """The study's BERT sizes: per size its best `prev` head (Figure 5; BERT-base from its standard map), with the
    layer and relative depth; tiny had none."""
    from induction.models.registry import KNOWN_MODELS
    from induction.study.reported import REPORTED

    rows = []
    for r in REPORTED:
        if r.target != "prev" or r.rank != 1 or r.experiment not in ("sizes", "standard"):
            continue
        spec = KNOWN_MODELS[r.model]
        layer = parse_head(r.head)[0] if r.head else None
        rows.append({"model": f"bert-{r.model}", "layers": spec.layers, "heads": spec.heads, "name": r.head,
                     "layer": layer, "score": r.score,
                     "relative_depth": None if layer is None else round(relative_depth(layer, spec.layers), 4),
                     "reported_in": r.source})
    return sorted(rows, key=lambda r: r["layers"])


def last_token_scores(model: str, target: str = "induction", *, trials: int = PAPER_TRIALS, seed: int = 0
                      ) -> np.ndarray:
    """[T, L, H] a repeat-setup target's score read from the last token of the second copy only (the same trials as
    the repeat map, whose score is the mean over every second-copy token)."""
    from induction.engine import capture, make_trials, model_for
    from induction.runs import resolve_run

    run = resolve_run(MapConfig(model=model, setup="repeat", trials=trials, seed=seed))
    loaded = model_for(run)
    batch = make_trials(run, loaded)
    last = dataclasses.replace(batch, mask_index=batch.mask_index[:, -1], anchor_index=batch.anchor_index[:, -1],
                               target_index={k: v[:, -1] for k, v in batch.target_index.items()})  # [T] each
    rows = capture(loaded, last)  # [T, L, H, S]: one query a trial
    t = np.arange(rows.shape[0])
    return rows[t, :, :, last.target_index[target]]  # [T, L, H]


def _best(mean: np.ndarray, layers: int) -> dict:
    layer, head = (int(i) for i in np.unravel_index(int(np.nanargmax(mean)), mean.shape))
    return {"name": head_name(layer, head), "layer": layer, "relative_depth": round(relative_depth(layer, layers), 4),
            "score": round(float(mean[layer, head]), 6)}


def _loss_change(config: MapConfig, head: str) -> dict:
    from induction.analyses.ablation import ablate

    result = ablate(config, [head])
    return {"name": head, "loss_change": None if result.loss_change is None else round(result.loss_change, 6),
            "sem": None if result.loss_change_sem is None else round(result.loss_change_sem, 6)}


def formation(series: str, *, trials: int = PAPER_TRIALS, seed: int = 0) -> dict:
    """A depth series' best head against step on its kind's own reading, and the step it forms at (the first
    checkpoint whose best head reaches half the series' highest and SIGNAL_RATIO x the uniform baseline; None: no
    head formed): {kind, series, layers, target, formation_curve: [{step, score, name}], forms_at}."""
    from induction.analyses.dynamics import dynamics, series_models
    from induction.models.registry import spec_of

    if series not in depth_series():
        raise InductionError(f"{series!r} is not a depth series: the depth series are {', '.join(depth_series())}")
    spec = spec_of(series)
    setup, target = OWN[spec.kind]
    result = dynamics(series_models(series), MapConfig(setup=setup, trials=trials, seed=seed), target,
                      compute_missing=True)
    return {"kind": spec.kind, "series": series, "layers": spec.layers, "target": target,
            "formation_curve": [{"step": r["step"], "score": round(r["best"], 6), "name": r["best_head"]}
                                for r in result["rows"]],
            "forms_at": result["appears"].get(0)}


def depth_curves(series: list[str] | None = None, *, trials: int = PAPER_TRIALS, seed: int = 0,
                 progress: Progress | None = None) -> list[dict]:
    """`formation` of every depth series (default: all), for one figure on one step axis."""
    return _each_series(formation, series, trials=trials, seed=seed, progress=progress)


def _each_series(compute, series: list[str] | None, *, trials: int, seed: int, progress: Progress | None
                 ) -> list[dict]:
    """`compute(name, trials=, seed=)` for each series (default: every depth series), reporting progress after each."""
    names = series or depth_series()
    out = []
    for done, name in enumerate(names):
        out.append(compute(name, trials=trials, seed=seed))
        if progress:
            progress(done + 1, len(names))
    return out


def series_row(series: str, *, trials: int = PAPER_TRIALS, seed: int = 0) -> dict:
    """One depth series' row (see the module docstring); every part cached but the last-token reading."""
    from induction.analyses.dynamics import icl_series, series_models
    from induction.analyses.roles import head_roles
    from induction.engine import compute_map
    from induction.models.registry import spec_of

    curve = formation(series, trials=trials, seed=seed)  # says first when `series` is no depth series
    spec = spec_of(series)
    models = series_models(series)
    final, kind, layers = models[-1], spec.kind, spec.layers
    setup, target = OWN[kind]
    own = compute_map(MapConfig(model=final, setup=setup, trials=trials, seed=seed))
    strongest = _best(own.mean(target), layers)
    repeat = own if setup == "repeat" else compute_map(MapConfig(model=final, setup="repeat", trials=trials,
                                                                 seed=seed))
    read = REPEAT_TARGET[kind]
    readings = {"every_token": _best(repeat.mean(read), layers),
                "last_token": _best(last_token_scores(final, read, trials=trials, seed=seed).mean(axis=0), layers)}
    if kind == "encoder":
        readings = {"mask_query": strongest, **readings}
    per_target = {t: _best(own.mean(t), layers) for t in (ENCODER_TARGETS if kind == "encoder" else (target,))}

    roles = head_roles(final, trials=trials, seed=seed)
    base = roles.composition_baseline or {}
    source = None
    if roles.composition is not None and strongest["layer"] > 0:
        l2, h2 = parse_head(strongest["name"])
        k = roles.composition["K"][:l2, :, l2, h2]  # [earlier layers, H]: K-composition into the strongest head
        l1, h1 = (int(i) for i in np.unravel_index(int(np.argmax(k)), k.shape))
        source = {"name": head_name(l1, h1), "layer": l1, "relative_depth": round(relative_depth(l1, layers), 4),
                  "k_into_strongest": round(float(k[l1, h1]), 6),
                  "above_random": bool(base.get("threshold") is not None and k[l1, h1] > base["threshold"]),
                  "previous_token": round(float(roles.scores["previous_token"][l1, h1]), 6),
                  "next_token": round(float(roles.scores["next_token"][l1, h1]), 6),
                  "roles": roles.roles(l1, h1)}

    config = MapConfig(model=final, setup=setup, trials=trials, seed=seed)
    layer = strongest["layer"]
    weak = head_name(layer, int(np.argmin(own.mean(target)[layer])))
    ablation = {"strongest_head": _loss_change(config, strongest["name"]),
                "source_head": None if source is None else _loss_change(config, source["name"]),
                "weakest_in_layer": _loss_change(config, weak)}

    icl = icl_series([final])[0]
    return {"kind": kind, "series": series, "model": final, "layers": layers, "heads": spec.heads,
            "setup": setup, "target": target, "trials": trials, "seed": seed, "baseline": round(own.baseline, 6),
            "strongest_head": strongest, "per_target": per_target, "readings": readings, "source_head": source,
            "random_mean": base.get("mean"), "random_sd": base.get("sd"), "strong_above": base.get("threshold"),
            "ablation": ablation, "forms_at": curve["forms_at"], "formation_curve": curve["formation_curve"],
            "icl_gain": round(icl["gain"], 6), "icl_sem": round(icl["sem"], 6), "icl_corpus": icl["corpus"]}


@dataclass(repr=False)
class DepthResult:
    """The depth study: one row per depth series (`series_row`), and the study's BERT sizes beside them."""

    rows: list[dict]
    study: list[dict] = field(default_factory=study_rows)

    def table(self) -> list[dict]:
        """One flat row per series (what the Model sizes page shows): the strongest head and its relative depth
        under each reading, the source and its K-composition against the random threshold, the loss changes, the
        formation step and the ICL gain."""
        out = []
        for r in self.rows:
            src, abl, best = r["source_head"], r["ablation"], r["strongest_head"]
            loss = lambda e: None if e is None else e["loss_change"]  # noqa: E731
            row = {"series": r["series"], "layers": r["layers"], "target": r["target"], "strongest": best["name"],
                   "score": best["score"], "relative depth": best["relative_depth"]}
            for reading, pick in r["readings"].items():
                row[f"{reading}: head"] = pick["name"]
                row[f"{reading}: depth"] = pick["relative_depth"]
            row.update({"source": src["name"] if src else None, "source K": src["k_into_strongest"] if src else None,
                        "K random + 3 sd": r["strong_above"],
                        "source previous_token": src["previous_token"] if src else None,
                        "source next_token": src["next_token"] if src else None,
                        "source roles": ", ".join(src["roles"]) if src else None,
                        "loss without strongest": loss(abl["strongest_head"]),
                        "loss without source": loss(abl["source_head"]),
                        "loss without weakest of layer": loss(abl["weakest_in_layer"]), "forms at step": r["forms_at"],
                        "ICL gain": r["icl_gain"], "ICL sem": r["icl_sem"]})
            out.append(row)
        return out

    def summary(self) -> str:
        """The answer in words, from the numbers: in which layer each family's strongest head sits per depth (its
        own reading) and when it forms, then the study's BERT sizes."""
        parts = []
        for kind, name in (("encoder", "Encoders ([MASK] prev)"), ("causal", "Decoders (induction, every token)")):
            rows = sorted((r for r in self.rows if r["kind"] == kind), key=lambda r: r["layers"])
            if rows:
                parts.append(f"{name}: " + ", ".join(
                    f"{r['strongest_head']['name']} of {r['layers']} layers "
                    f"({r['strongest_head']['relative_depth']:.2f}, "
                    f"{'forms at step ' + str(r['forms_at']) if r['forms_at'] is not None else 'no head formed'})"
                    for r in rows))
        study = ", ".join(f"{r['model']} {r['name']} of {r['layers']} ({r['relative_depth']:.2f})" for r in self.study
                          if r["name"])
        return "; ".join(parts) + f". The study's BERT sizes: {study}."

    def to_json(self) -> dict:
        """The JSON `induction sweep --depth --json F` writes (keys in docs/method.md's glossary)."""
        return {"depth_series": self.rows, "study": self.study, "reading_names": READING_NAMES}

    def to_frame(self):
        """The tidy long format (`induction.frames`): per series its strongest head under each reading (measure
        top_head, target the reading's), the source's K-composition into it (composition), each ablation's loss
        change (loss_change) and the ICL gain (icl_gain)."""
        from induction.frames import depth_rows, frame

        return frame(depth_rows(self))

    def __repr__(self) -> str:
        parts = [f"{r['series']} {r['strongest_head']['name']} ({r['strongest_head']['relative_depth']:.2f})"
                 for r in self.rows]
        return f"DepthResult({'; '.join(parts)})"


def depth_study(series: list[str] | None = None, *, trials: int = PAPER_TRIALS, seed: int = 0,
                progress: Progress | None = None) -> DepthResult:
    """Every depth series' row (default: all of them, encoders then decoders), computed where not cached."""
    return DepthResult(rows=_each_series(series_row, series, trials=trials, seed=seed, progress=progress))
