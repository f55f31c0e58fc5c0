"""Which heads do what: every head's behavioural roles, its copying scores and the composition between heads.

Why one result: the seed study defines an induction head by prefix matching or copying on repeated random tokens;
a researcher wants every head's role at once, with the mechanistic half beside it. The behavioural roles come from
the maps the engine computes (the repeat setup for both kinds, plus the standard setup for an encoder) and from
one more pass over the same repeat trials, which reads what no map target holds: the attention around the query
itself (next token, the local window), the mass on the special positions, and each head's direct effect on the
logits. Copying and composition come from the weights (`analyses.circuits`).

The rule for a role (`decide`): a head has role r when its mean score s over trials, with standard error e, against
the uniform baseline b of that score (what attention spread evenly over the positions a query sees would give),
passes both
    s > max(SIGNAL_RATIO x b, ROLE_FLOORS[r])     (well above chance and a real share of the attention)
    s - SEM_MARGIN x e > b                         (and not by luck of the trials).
The scores: previous_token = attention to the position before the query (repeat map `previous_token`);
next_token = to the position after it (a decoder's query cannot see it: never); duplicate = to the earlier instance
of the query's own token (a decoder's repeat map `duplicate`; an encoder's on the same trials with each second copy
shuffled, `shuffled_copy`, where prefix and suffix matching point elsewhere); prefix_matching (the induction role,
named for what it measures, so that it is not read as the repeat map's `induction` target, on which an encoder's
[MASK]-trained head scores nothing): a decoder's query to the token after the earlier instance (repeat map
`induction`), an encoder's [MASK] to the masked token's earlier instance
(standard map `prev`); sink = the summed attention on the special positions ([CLS] and the final [SEP] of an
encoder's repeat trial, a decoder's BOS, or its first position where it has none); local = the summed attention on
the window of LOCAL_WINDOW positions either side of the query (the query included), given only to heads that are
neither previous- nor next-token heads (those are the local heads with a name). copying: the OV eigenvalue score
is at least COPY_MIN and the direct-logit copy score is above 0 by SEM_MARGIN standard errors.
A head may have several roles or none.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from induction.cache import ResultCache, get_or_compute, open_cache
from induction.config import (
    OFFSETS,
    PAPER_TRIALS,
    SIGNAL_RATIO,
    InductionError,
    MapConfig,
    ModelLoadError,
    head_name,
)
from induction.engine import Progress, batch_size, cached_map, capture, compute_map, for_chunks, make_trials, model_for
from induction.runs import Run, circuits_key, resolve_run, roles_key
from induction.scoring import mean_sem, offset_profile
from induction.trials.rrt import TrialBatch

log = logging.getLogger(__name__)

BEHAVIOURAL = ("previous_token", "next_token", "duplicate", "prefix_matching", "sink", "local")
# the spellings before issue 40, still read: one spelling a concept, a role's as a target's (previous_token)
ROLE_ALIASES = {"previous-token": "previous_token", "next-token": "next_token", "induction": "prefix_matching"}
ROLES = (*BEHAVIOURAL, "copying")
ROLE_FLOORS = {"previous_token": 0.2, "next_token": 0.2, "duplicate": 0.2, "prefix_matching": 0.2, "sink": 0.3,
               "local": 0.5}
SEM_MARGIN = 3.0
COPY_MIN = 0.5
LOCAL_WINDOW = 2
COMPOSITIONS = ("K", "Q", "V")


# ---- pure scoring over attention rows ------------------------------------------------------------------------------

def decide(score: np.ndarray, sem: np.ndarray, baseline: float, floor: float, ratio: float = SIGNAL_RATIO
           ) -> np.ndarray:
    """[L, H] booleans: score > max(ratio x baseline, floor) and score - SEM_MARGIN x sem > baseline."""
    score = np.nan_to_num(np.asarray(score, dtype=float), nan=-np.inf)
    return (score > max(ratio * baseline, floor)) & (score - SEM_MARGIN * np.asarray(sem) > baseline)


def query_profile(rows: np.ndarray, batch: TrialBatch) -> np.ndarray:
    """Attention at query + k for k in OFFSETS: rows [T, L, H, Q, S] -> [T, L, H, len(OFFSETS)] (each trial's mean
    over its queries; NaN where out of range). The map's offset profile, anchored at the query instead."""
    return offset_profile(rows, dataclasses.replace(batch, anchor_index=batch.mask_index))


def special_positions(batch: TrialBatch, causal: bool) -> np.ndarray:
    """The positions of a repeat trial that are no segment token: the prefix ([CLS] or BOS) and an encoder's final
    [SEP]. A decoder without a BOS has none; its first position stands in (where decoders park attention)."""
    queries = batch.mask_index.shape[1]
    prefix = int(batch.mask_index[0, 0]) - queries  # the second copy starts `queries` after the first
    seq = batch.input_ids.shape[1]
    suffix = seq - prefix - 2 * queries
    positions = [*range(prefix), *range(seq - suffix, seq)]
    return np.asarray(positions or [0], dtype=np.int64)


def position_mass(rows: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Summed attention on `positions`: rows [T, L, H, Q, S] -> [T, L, H], each trial's mean over its queries."""
    return rows[..., positions].sum(axis=-1).mean(axis=3)


def window_mass(profile: np.ndarray, window: int = LOCAL_WINDOW) -> np.ndarray:
    """Summed attention within `window` positions of the query (the query included): [..., len(OFFSETS)] -> [...]."""
    keep = [j for j, k in enumerate(OFFSETS) if abs(k) <= window]
    return np.nan_to_num(profile[..., keep]).sum(axis=-1)


def uniform_rows(batch: TrialBatch, causal: bool) -> np.ndarray:
    """Evenly spread attention over the positions each query sees: [T, 1, 1, Q, S] (the baseline of any score)."""
    seq = batch.input_ids.shape[1]
    keys = np.arange(seq)[None, None, :]
    seen = keys <= batch.mask_index[:, :, None] if causal else np.ones((1, 1, seq), dtype=bool)  # [T or 1, Q, S]
    seen = np.broadcast_to(seen, (batch.trials, batch.mask_index.shape[1], seq))
    return (seen / seen.sum(axis=-1, keepdims=True))[:, None, None].astype(np.float32)


def copy_logits(rows: np.ndarray, outputs: np.ndarray, columns: np.ndarray, vocab: int) -> np.ndarray:
    """The direct-logit copy score of one layer's heads. rows [B, H, Q, S] attention of the queries; outputs
    [B, H, Q, d] each head's output at each query, read out to the logits' input; columns [B, d, S] the unembedding
    column of each position's token minus the mean column. Returns [B, H]: per query, sum_s a_qs (logit(t_s) - mean
    logit of the other tokens), each trial's mean over its queries (logit(t) - mean of the others = V/(V-1) x
    (logit(t) - mean of all), so no vocabulary-sized logits are formed)."""
    logits = outputs @ columns[:, None]  # [B, H, Q, S]: logit(t_s) - mean logit
    return ((rows * logits).sum(axis=-1) * vocab / (vocab - 1)).mean(axis=-1)


# ---- the result ----------------------------------------------------------------------------------------------------

class RoleDict(dict):
    """role -> value, which also answers a role's spelling before issue 40 (previous-token, induction)."""

    def __missing__(self, key):
        if key in ROLE_ALIASES:
            return self[ROLE_ALIASES[key]]
        raise KeyError(key)


@dataclass(repr=False)
class HeadRoles:
    """Every head of one model: behavioural scores (role -> [L, H] mean and sem, with each score's baseline),
    copying (the OV eigenvalue score and its reach, [L, H]), the direct-logit copy score and the composition
    scores ({"K", "Q", "V"} -> [L, H, L, H], TransformerLens's conventions) with the random baseline they are read
    against (`composition_baseline`) and, for rotary families, where W_QK is read (`rotary`); None with a one-line
    note where the weights cannot be read."""

    model: str
    kind: str
    layers: int
    heads: int
    trials: int
    seed: int
    scores: dict[str, np.ndarray]
    sems: dict[str, np.ndarray]
    baselines: dict[str, float]
    copying: np.ndarray | None = None
    reach: np.ndarray | None = None
    copy_logit: np.ndarray | None = None
    copy_logit_sem: np.ndarray | None = None
    composition: dict[str, np.ndarray] | None = None
    composition_random: np.ndarray | None = None  # [draws] the composition score of random matrices of its shapes
    rotary: str | None = None  # rotary families: what W_QK is ("relative offset 0")
    notes: dict[str, str] = field(default_factory=dict)
    elapsed_s: float = 0.0
    cached: bool = False

    def __post_init__(self) -> None:
        self.scores, self.sems, self.baselines = (RoleDict(d) for d in (self.scores, self.sems, self.baselines))

    @property
    def prefix_matching(self) -> np.ndarray:
        """[L, H] the prefix-matching score (the induction role's): a decoder's repeat `induction`, an encoder's
        standard `prev`."""
        return self.scores["prefix_matching"]

    def passed(self) -> dict[str, np.ndarray]:
        """role -> [L, H] booleans, by the module's rule."""
        out = {r: decide(self.scores[r], self.sems[r], self.baselines[r], ROLE_FLOORS[r]) for r in BEHAVIOURAL}
        out["local"] &= ~(out["previous_token"] | out["next_token"])
        if self.copying is not None and self.copy_logit is not None:
            out["copying"] = (self.copying >= COPY_MIN) & (self.copy_logit - SEM_MARGIN * self.copy_logit_sem > 0)
        else:
            out["copying"] = np.zeros((self.layers, self.heads), dtype=bool)
        return out

    def roles(self, layer: int, head: int) -> list[str]:
        """The roles one head passes, in ROLES order."""
        passed = self.passed()
        return [r for r in ROLES if passed[r][layer, head]]

    def role_map(self) -> list[list[list[str]]]:
        """[layer][head] -> that head's roles."""
        passed = self.passed()
        return [[[r for r in ROLES if passed[r][l, h]] for h in range(self.heads)] for l in range(self.layers)]

    def head_json(self, layer: int, head: int, roles: list[str]) -> dict:
        """One head's entry of the roles JSON: its roles and every score."""
        value = lambda a: None if a is None else round(float(a[layer, head]), 6)  # noqa: E731
        return {"name": head_name(layer, head), "layer": layer, "head": head, "roles": roles,
                "scores": {r: value(self.scores[r]) for r in BEHAVIOURAL},
                "sem": {r: value(self.sems[r]) for r in BEHAVIOURAL},
                "prefix_matching": value(self.prefix_matching), "copying": value(self.copying),
                "copy_reach": value(self.reach), "copy_logit": value(self.copy_logit),
                "copy_logit_sem": value(self.copy_logit_sem)}

    @property
    def composition_baseline(self) -> dict | None:
        """The random baseline of every composition score: mean and standard deviation over BASELINE_DRAWS seeded
        draws of Gaussian matrices of the model's shapes, and the threshold a pair must pass to be listed as
        strong (mean + BASELINE_SDS sd)."""
        from induction.analyses.circuits import BASELINE_DRAWS, BASELINE_SDS, BASELINE_SEED

        if self.composition_random is None:
            return None
        mean, sd = float(np.mean(self.composition_random)), float(np.std(self.composition_random, ddof=1))
        return {"mean": round(mean, 6), "sd": round(sd, 6), "threshold": round(mean + BASELINE_SDS * sd, 6),
                "draws": BASELINE_DRAWS, "seed": BASELINE_SEED}

    def composition_pairs(self) -> list[dict]:
        """Every (earlier head, later head) pair with its K-, Q- and V-composition scores and, beside them, the
        random baseline (mean, sd) those scores are read against."""
        if self.composition is None:
            return []
        L, H = self.layers, self.heads
        base = self.composition_baseline or {"mean": None, "sd": None}
        return [{"from": head_name(l1, h1), "to": head_name(l2, h2),
                 **{k: round(float(self.composition[k][l1, h1, l2, h2]), 6) for k in COMPOSITIONS},
                 "random_mean": base["mean"], "random_sd": base["sd"]}
                for l1 in range(L) for l2 in range(l1 + 1, L) for h1 in range(H) for h2 in range(H)]

    def strongest(self, kind: str, n: int = 5) -> list[dict]:
        """The pairs whose `kind`-composition is clearly above the random baseline (beyond its threshold), strongest
        first, at most n; every pair above 0 where no baseline is known."""
        threshold = (self.composition_baseline or {"threshold": 0.0})["threshold"]
        return sorted((p for p in self.composition_pairs() if p[kind] > threshold), key=lambda p: -p[kind])[:n]

    def to_frame(self):
        """The tidy long format (`induction.frames`): every role's score per head (target: the role), and copying."""
        from induction.frames import frame, roles_rows

        return frame(roles_rows(self))

    def __repr__(self) -> str:
        named = sum(bool(r) for row in self.role_map() for r in row)
        return (f"HeadRoles({self.model!r}, {self.kind}, {self.layers} layers x {self.heads} heads, {self.trials} "
                f"trials: {named} heads with a role)")

    def to_json(self) -> dict:
        """The JSON `induction roles --json` writes (keys in docs/method.md's glossary)."""
        role_map = self.role_map()
        return {"model": self.model, "kind": self.kind, "layers": self.layers, "heads": self.heads,
                "trials": self.trials, "seed": self.seed, "baselines": {r: round(b, 6) for r, b in
                                                                         self.baselines.items()},
                "rule": {"ratio": SIGNAL_RATIO, "floors": ROLE_FLOORS, "sem_margin": SEM_MARGIN, "copy_min": COPY_MIN,
                         "local_window": LOCAL_WINDOW},
                "notes": self.notes,
                "per_head": [self.head_json(l, h, role_map[l][h]) for l in range(self.layers)
                             for h in range(self.heads)],
                "composition": None if self.composition is None else {
                    **{f"random_{k}": v for k, v in (self.composition_baseline or {}).items() if k != "threshold"},
                    "strong_above": (self.composition_baseline or {}).get("threshold"), "rotary": self.rotary,
                    "strongest": {k: [(p["from"], p["to"]) for p in self.strongest(k)] for k in COMPOSITIONS},
                    "pairs": self.composition_pairs()},
                "elapsed_s": round(self.elapsed_s, 4), "cached": self.cached}


# ---- computing it --------------------------------------------------------------------------------------------------

def _runs(model: str, trials: int, seed: int, device: str, dtype: str) -> tuple[Run, Run | None]:
    """The repeat run (both kinds) and, for an encoder, the standard run."""
    base = dict(model=model, trials=trials, seed=seed, device=device, dtype=dtype)
    repeat = resolve_run(MapConfig(setup="repeat", **base))
    standard = resolve_run(MapConfig(setup="standard", **base)) if repeat.info.kind == "encoder" else None
    return repeat, standard


def _attention_inputs(loaded, ids) -> list[np.ndarray]:
    """What each layer's attention reads, per layer [B, S, d] float32: the first input of the module each family's
    reader names (`circuits.attention_inputs`), captured in one forward pass (the stream itself post-LN, its
    normalised copy pre-LN)."""
    import torch

    from induction.analyses.circuits import attention_inputs

    seen: list[np.ndarray] = []

    def keep(module, args, kwargs):
        x = args[0] if args else kwargs["hidden_states"]
        seen.append(x.float().cpu().numpy())

    modules = list({id(m): m for m in attention_inputs(loaded)}.values())  # ALBERT's layers share one module
    handles = [m.register_forward_pre_hook(keep, with_kwargs=True) for m in modules]
    try:
        with torch.inference_mode():
            loaded.encoder(input_ids=ids)
    finally:
        for h in handles:
            h.remove()
    if len(seen) != loaded.layers:
        raise ModelLoadError(f"{loaded.name!r}: {len(seen)} attention inputs captured for {loaded.layers} layers")
    return seen  # in call order: layer 0 first


def _copy_chunk(loaded, circuits, weights, part: TrialBatch, rows: np.ndarray) -> np.ndarray:
    """[B, L, H] direct-logit copy scores of one chunk: each head's real output at each query (its value vectors,
    bias included, weighted by its attention), read out through the folded path to the unembedding."""
    import torch

    from induction.analyses.circuits import fold

    ids = torch.from_numpy(part.input_ids).to(loaded.device)
    inputs = _attention_inputs(loaded, ids)
    unembed = weights.W_U.astype(np.float32)  # [d, V]
    columns = unembed[:, part.input_ids].transpose(1, 0, 2) - unembed.mean(axis=1)[None, :, None]  # [B, d, S]
    out = np.zeros(rows.shape[:3], dtype=np.float32)
    heads, d, dh = circuits.v.shape[1:]
    for l, x in enumerate(inputs):
        v_all = np.swapaxes(circuits.v[l], 0, 1).reshape(d, heads * dh).astype(np.float32)  # [d, H*dh]
        values = (x @ v_all).reshape(*x.shape[:2], heads, dh).transpose(0, 2, 1, 3) + \
            circuits.v_bias[l].astype(np.float32)[None, :, None, :]  # [B, H, S, dh]
        z = rows[:, l] @ values  # [B, H, Q, dh]
        outputs = fold(z @ circuits.o[l].astype(np.float32)[None],
                       [g.astype(np.float32) for g in circuits.logit_between(l)], circuits.centred)  # [B, H, Q, d]
        out[:, l] = copy_logits(rows[:, l], outputs, columns, unembed.shape[1])
    return out


def _weights_note(loaded, exc: Exception) -> str:
    """One line for a failure while reading the weights: the project's own message, or what raised."""
    if isinstance(exc, InductionError):
        return str(exc)
    first = str(exc).splitlines()[0] if str(exc) else ""
    log.warning("reading the weights of %s failed", loaded.name, exc_info=exc)
    return (f"reading the weights of {loaded.name!r} failed ({type(exc).__name__}: {first[:160]}), so its copying "
            "and composition scores are not computed (its behavioural roles are); please report the family")


def _readable(loaded):
    """The model's circuits and folded weights when they and its unembedding can be read (for the direct-logit
    copy), else None."""
    from induction.analyses.circuits import folded, read_circuits

    try:
        circuits = read_circuits(loaded)
        return (circuits, folded(circuits)) if circuits.unembed is not None else None
    except Exception as exc:  # any failure is a note: the behavioural roles must come back
        _weights_note(loaded, exc)
        return None


def _compute_weights(run: Run) -> tuple[dict, dict[str, np.ndarray]]:
    """The weight-based scores (copying eigenvalues, composition, the random baseline) and notes saying why any are
    missing: they depend on the weights alone, so they are cached once per model, whatever the trials."""
    from induction.analyses.circuits import composition_scores, copying_scores, random_composition, read_circuits

    started = time.perf_counter()
    loaded = model_for(run)
    try:
        circuits = read_circuits(loaded)
        arrays = {f"comp_{k}": v.astype(np.float32) for k, v in composition_scores(circuits).items()}
    except Exception as exc:  # any failure is a note: the behavioural roles must come back
        note = _weights_note(loaded, exc)
        return {"notes": {"copying": note, "composition": note}}, {}
    arrays["comp_baseline"] = random_composition(circuits.q.shape[2], circuits.q.shape[3]).astype(np.float32)
    notes = {}
    try:
        arrays["copying"], arrays["reach"] = (a.astype(np.float32) for a in copying_scores(circuits))
    except Exception as exc:  # likewise
        notes["copying"] = _weights_note(loaded, exc)
    return {"notes": notes, "rotary": circuits.rotary, "family": circuits.family,
            "elapsed_s": time.perf_counter() - started}, arrays


def shuffled_copy(batch: TrialBatch, seed: int) -> TrialBatch:
    """The repeat trials with each trial's second copy permuted (seeded by (seed, trial, 1)), nothing masked: every
    token of the second copy is a query and its `duplicate` target is its own token's earlier instance. Why: on
    plain repeat trials that position is also where prefix matching (the token after the earlier instance of the
    query's left neighbour) and suffix matching point, so an encoder cannot tell a duplicate head from an induction
    head there; after the shuffle they point elsewhere (except where the permutation keeps two neighbours
    adjacent)."""
    queries = batch.mask_index  # [T, Q]
    segment = queries.shape[1]
    first = int(queries[0, 0]) - segment
    ids = batch.input_ids.copy()
    duplicate = np.zeros_like(queries)
    for t in range(batch.trials):
        order = np.random.default_rng([seed, t, 1]).permutation(segment)  # [Q]
        ids[t, first + segment:first + 2 * segment] = batch.input_ids[t, first + order]
        duplicate[t] = first + order
    return TrialBatch(ids, ids.copy(), queries.copy(), duplicate.copy(), {"duplicate": duplicate})


def target_mass(rows: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Attention of each query on its own target: rows [T, L, H, Q, S], targets [T, Q] -> [T, L, H] (each trial's
    mean over its queries)."""
    index = np.broadcast_to(targets[:, None, None, :, None], (*rows.shape[:4], 1))
    return np.take_along_axis(rows, index, axis=-1)[..., 0].mean(axis=-1)


def _compute_extras(run: Run, progress: Progress | None) -> tuple[dict, dict[str, np.ndarray]]:
    """One pass over the repeat trials: what no map target holds, and each head's direct-logit copy; for an encoder,
    one more over the same trials with the second copy shuffled, for its duplicate role (`shuffled_copy`)."""
    started = time.perf_counter()
    loaded = model_for(run)
    causal = loaded.kind == "causal"
    readable = _readable(loaded)
    batch = make_trials(run, loaded)
    specials = special_positions(batch, causal)
    chunk = batch_size(loaded, batch.input_ids.shape[1], queries=batch.mask_index.shape[1])

    notes: dict[str, str] = {}

    def step(part: TrialBatch) -> dict[str, np.ndarray]:
        rows = capture(model=loaded, batch=part, chunk=part.trials)  # [B, L, H, Q, S]
        out = {"near": query_profile(rows, part), "sink": position_mass(rows, specials)}
        if readable is not None and "copy_logit" not in notes:
            try:
                out["copy_logit"] = _copy_chunk(loaded, *readable, part, rows)
            except Exception as exc:  # a note, never a lost result: the behavioural roles must come back
                notes["copy_logit"] = _weights_note(loaded, exc)
        return out

    def shuffled_step(part: TrialBatch) -> dict[str, np.ndarray]:
        rows = capture(model=loaded, batch=part, chunk=part.trials)  # [B, L, H, Q, S]
        return {"duplicate": target_mass(rows, part.target_index["duplicate"])}

    if progress:
        progress(0, batch.trials)
    chunks = for_chunks(batch, chunk, step, progress=progress)
    if not causal:
        shuffled = shuffled_copy(batch, run.config.seed)
        for c, more in zip(chunks, for_chunks(shuffled, chunk, shuffled_step), strict=True):
            c.update(more)
    keys = [k for k in chunks[0] if not (k == "copy_logit" and "copy_logit" in notes)]
    arrays = {k: np.concatenate([c[k] for c in chunks]).astype(np.float32) for k in keys}
    uniform = uniform_rows(batch, causal)
    arrays["base_near"] = np.nanmean(query_profile(uniform, batch), axis=0)[0, 0]  # [len(OFFSETS)]
    arrays["base_sink"] = np.asarray(position_mass(uniform, specials).mean(), dtype=np.float32)
    arrays["base_local"] = np.asarray(window_mass(query_profile(uniform, batch)).mean(), dtype=np.float32)
    if not causal:
        arrays["base_duplicate"] = np.asarray(target_mass(uniform, shuffled.target_index["duplicate"]).mean(),
                                              dtype=np.float32)
    return {"elapsed_s": time.perf_counter() - started, "notes": notes}, arrays


def _assemble(repeat_map, standard_map, weights: tuple[dict, dict], extras: tuple[dict, dict], cached: bool
              ) -> HeadRoles:
    (meta, arrays), (extra_meta, behaviour) = weights, extras
    arrays = {**arrays, **behaviour}
    near_stats = mean_sem(arrays["near"])  # [L, H, len(OFFSETS)] each
    local = mean_sem(window_mass(arrays["near"]))
    prefix_map, prefix_target = (standard_map, "prev") if standard_map is not None else (repeat_map, "induction")
    after = OFFSETS.index(1)
    duplicate = mean_sem(arrays["duplicate"]) if "duplicate" in arrays else repeat_map.stats("duplicate")
    scores = {"previous_token": repeat_map.stats("previous_token"), "duplicate": duplicate,
              "prefix_matching": prefix_map.stats(prefix_target), "next_token": (near_stats[0][..., after],
                                                                                 near_stats[1][..., after]),
              "sink": mean_sem(arrays["sink"]), "local": local}
    baselines = {"previous_token": repeat_map.baseline,
                 "duplicate": float(arrays["base_duplicate"]) if "duplicate" in arrays else repeat_map.baseline,
                 "prefix_matching": prefix_map.baseline, "next_token": float(arrays["base_near"][after]),
                 "sink": float(arrays["base_sink"]), "local": float(arrays["base_local"])}
    copy = mean_sem(arrays["copy_logit"]) if "copy_logit" in arrays else (None, None)
    composition = {k: arrays[f"comp_{k}"] for k in COMPOSITIONS} if "comp_K" in arrays else None
    c = repeat_map.config
    return HeadRoles(model=c.model, kind=repeat_map.kind, layers=repeat_map.layers, heads=repeat_map.heads,
                     trials=repeat_map.trials, seed=c.seed, scores={r: np.asarray(s[0]) for r, s in scores.items()},
                     sems={r: np.asarray(s[1]) for r, s in scores.items()}, baselines=baselines,
                     copying=arrays.get("copying"), reach=arrays.get("reach"), copy_logit=copy[0],
                     copy_logit_sem=copy[1], composition=composition,
                     composition_random=arrays.get("comp_baseline"), rotary=meta.get("rotary"),
                     notes={**meta.get("notes", {}), **extra_meta.get("notes", {})}, cached=cached)


def head_roles(model: str, *, trials: int = PAPER_TRIALS, seed: int = 0, device: str = "auto", dtype: str = "auto",
               progress: Progress | None = None, use_cache: bool = True, cache: ResultCache | None = None
               ) -> HeadRoles:
    """Every head's roles, copying and composition scores for `model`, on `trials` repeat trials (and, for an
    encoder, as many standard trials) drawn with `seed`; each part from the cache when it is there."""
    started = time.perf_counter()
    repeat, standard = _runs(model, trials, seed, device, dtype)
    standard_map = None if standard is None else compute_map(standard, progress=progress, use_cache=use_cache,
                                                             cache=cache)
    repeat_map = compute_map(repeat, progress=progress, use_cache=use_cache, cache=cache)
    *weights, weights_cached = get_or_compute(circuits_key(repeat), lambda: _compute_weights(repeat),
                                              use_cache=use_cache, cache=cache)
    *extras, extras_cached = get_or_compute(roles_key(repeat), lambda: _compute_extras(repeat, progress),
                                            use_cache=use_cache, cache=cache)
    cached = weights_cached and extras_cached and repeat_map.cached
    result = _assemble(repeat_map, standard_map, weights, extras, cached)
    result.elapsed_s = time.perf_counter() - started
    return result


def cached_roles(model: str, *, trials: int = PAPER_TRIALS, seed: int = 0, cache: ResultCache | None = None
                 ) -> HeadRoles | None:
    """The roles if every part is in the cache; None, never a computation (what the drill-down shows)."""
    repeat, standard = _runs(model, trials, seed, "auto", "auto")
    repeat_map = cached_map(repeat, cache)
    standard_map = None if standard is None else cached_map(standard, cache)
    store = cache or open_cache()
    weights, extras = store.get(circuits_key(repeat)), store.get(roles_key(repeat))
    if repeat_map is None or weights is None or extras is None or (standard is not None and standard_map is None):
        return None
    return _assemble(repeat_map, standard_map, weights, extras, cached=True)
