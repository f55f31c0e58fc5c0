"""The project's vocabulary in one place: every name a user chooses (read from the `Literal` types with `get_args`,
never retyped) and every key of the JSON the command line writes, each with one meaning.

Why: one concept, one spelling, one meaning across the API, the CLI, the JSON and the pages. docs/method.md's
glossary is generated from this module (`glossary_markdown`), and a test runs every command with --json and checks
that each key it writes is here.
"""

from __future__ import annotations

from typing import get_args

from induction import config


def names() -> dict[str, tuple[str, ...]]:
    """What each kind of name can be, each list from its Literal (or the one tuple that decides it)."""
    from induction.analyses.roles import BEHAVIOURAL, COMPOSITIONS
    from induction.analyses.text_map import CAUSAL_TEXT_TARGETS, TEXT_TARGETS
    from induction.frames import FRAME_COLUMNS, MEASURES

    targets = tuple(dict.fromkeys(t for ts in config.SETUP_TARGETS.values() for t in ts))
    return {
        "setup": get_args(config.Setup),
        "target (per setup)": targets,
        "target (word unit)": config.WORD_TARGETS,
        "target (your own text)": tuple(dict.fromkeys((*TEXT_TARGETS, *CAUSAL_TEXT_TARGETS))),
        "role": (*BEHAVIOURAL, "copying"),
        "composition": COMPOSITIONS,
        "protocol": get_args(config.Protocol),
        "kind": get_args(config.ModelKind),
        "ICL variant": get_args(config.ICLVariant),
        "ablation mode": get_args(config.AblationMode),
        "mask span": get_args(config.MaskSpan),
        "unit": get_args(config.Unit),
        "mask piece": get_args(config.MaskPiece),
        "capture path": get_args(config.CapturePath),
        "dtype": get_args(config.DType),
        "device": get_args(config.Device),
        "frame column": FRAME_COLUMNS,
        "frame measure": MEASURES,
    }


# Every key the CLI's JSON holds, with its one meaning (a key that is a name above, a target's or a role's, keys
# a grid by that name; a curve's keys are its lengths).
JSON_KEYS: dict[str, str] = {
    "model": "the model as named: a known name, a Hugging Face id or a folder",
    "model_source": "where its weights were read from (folder or hub id)",
    "fingerprint": "sha256 of the weight files (a folder) or the hub revision: the weights' identity",
    "kind": "encoder or causal (decoder-only)",
    "setup": "the trial layout (a setup name); default: the kind's own, standard or repeat",
    "protocol": "clean or paper",
    "segment": "tokens in one copy of the repeated segment",
    "seq_len": "tokens fed to the model per trial",
    "trials": "trials the numbers are averaged over",
    "seed": "the seed of the trials (trial t is built from (seed, t))",
    "step": "a checkpoint's training step, read from its name (step_N); null for a model that is no checkpoint",
    "target": "which positions a score reads (a target name); for a sweep, the setup's first target",
    "targets": "the names of the targets a result scores, in display order",
    "mean": "the mean over trials: per target a layers x heads grid (maps), or one number (ICL, in the variant's "
            "own sign)",
    "sem": "the standard error of that mean over trials",
    "baseline": "the score of a head that spreads its attention evenly (uniform attention)",
    "baselines": "per role, the uniform baseline of its score",
    "ratio": "score / baseline",
    "layers": "layers of the model",
    "heads": "heads per layer (everywhere; heads ablated are `ablated_heads`, per-head entries `per_head`)",
    "layer": "a layer, 0-indexed",
    "head": "a head within its layer, 0-indexed",
    "name": "a head as L<layer>H<head>, 0-indexed",
    "device": "where it ran (cpu, cuda)",
    "dtype": "the dtype the weights ran in",
    "capture_path": "interface (the attention function reads the rows) or fallback (eager output_attentions)",
    "offsets": "the offsets k of the attention profile around the earlier instance",
    "offset_profile": "layers x heads x offsets: mean attention at earlier instance + k",
    "masks": "masked tokens per trial",
    "mask_span": "scattered or contiguous masks",
    "mean_by_mask": "per mask (in position order) the mean per target",
    "cross": "several masks: attention from mask i to the earlier instance of mask j's token",
    "unit": "token or word",
    "mask_piece": "word unit: which pieces of the word are masked",
    "pieces": "word unit: masked pieces scored",
    "split": "word unit: how prev_word splits between the earlier word's first piece and the rest",
    "elapsed_s": "seconds the computation took (0 from the cache)",
    "cached": "whether the result came from the cache",
    "trials_dump": "with --dump-trials: every trial's ids, query and target positions",
    "input_ids": "the ids fed to the model",
    "mask_index": "the masked (query) position(s) of a trial",
    "query_index": "the query positions of a repeat trial (the second copy)",
    "target_index": "per target, the key position(s) it reads",
    "ablated_heads": "the heads removed, as names",
    "mode": "the ablation mode: zero or mean",
    "clean": "per target, the mean score with nothing ablated",
    "ablated": "per target, the mean score with the heads ablated (null at the ablated heads)",
    "diff": "ablated - clean per head: rising heads are backup candidates",
    "loss_clean": "the mean loss over trials with nothing ablated (nats; masked-token, or a decoder's next-token "
                  "loss on the second copy)",
    "loss_ablated": "the mean loss over trials with the heads ablated (nats)",
    "loss_change": "loss_ablated - loss_clean (nats): positive when removing the heads hurts",
    "loss_change_sem": "the standard error of loss_change, paired over the same trials",
    "loss_base": "effects: the mean loss with pairs_with ablated (the clean loss without it)",
    "pairs_with": "effects: a head ablated in every run (null: none)",
    "effect": "per head, loss with it ablated - loss without (nats): positive when the head helps",
    "effect_sem": "the standard error of effect over the paired trials",
    "path": "effects: suffix (layers above the head re-run) or full (a full forward per head)",
    "per_head": "roles: one entry per head",
    "roles": "the roles a head passes (role names)",
    "scores": "per role, a head's score",
    "prefix_matching": "the prefix-matching score: a decoder's repeat induction, an encoder's standard prev",
    "copying": "the OV circuit's eigenvalue copying score",
    "copy_reach": "how much of the unembedding the OV circuit reaches",
    "copy_logit": "the direct-logit copy score (mean over trials)",
    "copy_logit_sem": "its standard error",
    "composition": "K-, Q- and V-composition between heads of different layers",
    "pairs": "every (earlier head, later head) pair with its composition scores",
    "from": "the earlier head of a composition pair",
    "to": "the later head of a composition pair",
    "series": "roles --series: the checkpoint series read (a shipped series' name or a folder of step_N checkpoints)",
    "induction_head": "roles --series: the final checkpoint's head with the highest prefix-matching score, read at "
                      "every checkpoint",
    "previous_token_heads": "roles --series: the final checkpoint's earlier-layer heads with the previous_token role "
                            "(else its best earlier previous-token head)",
    "appears": "roles --series: the first step at which the induction head's prefix matching reaches half its "
               "highest (null: never)",
    "checkpoints": "roles --series: one entry per checkpoint, in step order",
    "prefix_matching_sem": "roles --series: the standard error of the induction head's prefix-matching score",
    "k_composition": "roles --series: K-composition from each previous-token head (from) into the induction head (K)",
    "k_composition_max": "roles --series: the largest of those K-composition scores",
    "random_mean": "composition: the mean score of random Gaussian matrices of the model's shapes (the baseline "
                   "beside every pair)",
    "random_sd": "composition: the standard deviation of that random score over its draws",
    "random_draws": "composition: how many random draws the baseline averages",
    "random_seed": "composition: the seed of the random draws",
    "strong_above": "composition: random_mean + 3 random_sd, what a pair must exceed to be listed as strongest",
    "strongest": "composition: per kind (K, Q, V), the pairs above strong_above, strongest first (at most 5)",
    "rotary": "composition of a rotary family: what W_QK is (relative offset 0: the unrotated W_Q W_K^T); null "
              "otherwise",
    "rule": "the role rule's constants",
    "floors": "per role, the least score a role needs",
    "sem_margin": "standard errors a score must clear the baseline by",
    "copy_min": "the least OV copying score for the copying role",
    "local_window": "positions either side of the query the local role sums over",
    "notes": "why a score could not be computed",
    "source": "where a text came from",
    "text_hash": "sha256 of the text (first 16 hex digits)",
    "min_distance": "tokens back an earlier occurrence must lie",
    "occurrences": "text: repeated tokens scored (the text map's trials)",
    "per_occurrence": "text: each occurrence's token, window, position, earlier position",
    "token": "an occurrence's token",
    "window": "the window of the text an occurrence is in",
    "position": "an occurrence's position in its window",
    "earlier": "the position of its earlier occurrence",
    "continuation": "whether the token continues a word (a word piece)",
    "corpus": "ICL: the corpus read",
    "corpus_hash": "ICL: sha256 of the corpus's documents",
    "corpus_snapshot": "ICL: the Hub dataset snapshot (wikipedia-simple)",
    "variant": "ICL: masked, all-tokens or next-token",
    "short": "ICL: the short context, in tokens",
    "long": "ICL: the long context, in tokens",
    "gain": "ICL: the loss saved by the long context (nats): positive when context helps, for every kind",
    "gain_definition": "ICL: what gain is",
    "definition": "ICL: what mean is, in the variant's own sign",
    "sign": "ICL: the sign convention of mean",
    "per_trial": "ICL: each trial's raw score (the variant's sign)",
    "skipped_documents": "ICL: documents shorter than the context needs",
    "eligible_documents": "ICL: documents long enough",
    "documents": "ICL: the name of each trial's document (python-docs-held-out: topic#paragraph)",
    "held_out_rule": "ICL: the rule that holds a python-docs topic out of training (python-docs-held-out only)",
    "curve": "ICL: per context length (a decoder's: per token n) the mean loss and its sem",
    "executor": "sweep: local or ray",
    "runs": "sweep: one entry per (model, setup, seed) task",
    "status": "sweep: ok or failed; reproduce: match, differs or not run",
    "error": "sweep: why a task failed",
    "top_head": "sweep: the best head at the target",
    "top_score": "sweep: its score",
    "rows": "reproduce: one per reported number",
    "failed": "reproduce: runs that started and failed",
    "measured": "reproduce: per model, setup and target the measured best head and score",
    "experiment": "reproduce: the study's experiment",
    "reported_head": "reproduce: the head the study reported",
    "reported_score": "reproduce: the score the study reported",
    "measured_head": "reproduce: the head measured here",
    "measured_score": "reproduce: the score measured here",
    "reason": "reproduce: why a row differs or was not run",
    "depth_series": "sweep --depth: one entry per depth series trained here (its final checkpoint read)",
    "study": "sweep --depth: the study's BERT sizes, each its best prev head as reported",
    "reading_names": "sweep --depth: what each reading is (where a score is read from)",
    "readings": "sweep --depth: per reading (mask_query, every_token, last_token) the strongest head read there",
    "mask_query": "sweep --depth: the score read from the [MASK] query (an encoder's standard prev)",
    "every_token": "sweep --depth: the repeat setup's score at the earlier instance of the token predicted, read from "
                   "every token of the second copy (an encoder's duplicate, a decoder's induction)",
    "last_token": "sweep --depth: the same score read from the second copy's last token only",
    "strongest_head": "sweep --depth: the head with the highest score on the kind's own reading (name, layer, "
                      "relative_depth, score)",
    "per_target": "sweep --depth: per target of the kind's own setup, its strongest head",
    "relative_depth": "(layer + 1) / layers: 1.0 is the last layer",
    "source_head": "sweep --depth: the earlier head with the highest K-composition into the strongest head",
    "k_into_strongest": "sweep --depth: the source head's K-composition score into the strongest head",
    "above_random": "sweep --depth: whether that K-composition exceeds strong_above",
    "ablation": "sweep --depth: per ablated head (strongest_head, source_head, weakest_in_layer) its loss_change",
    "weakest_in_layer": "sweep --depth: the control, the lowest-scoring head of the strongest head's layer",
    "forms_at": "sweep --depth: the first checkpoint whose best head reaches half the series' highest and 3x the "
                "uniform baseline (null: no head formed)",
    "formation_curve": "sweep --depth: per checkpoint (step) the best head's name and score",
    "icl_gain": "the ICL gain (nats) of the final checkpoint, positive when context helps",
    "icl_sem": "the standard error of icl_gain over documents",
    "icl_corpus": "the corpus the ICL gain was read on (a model trained here: python-docs-held-out)",
    "reported_in": "where the study reported a number (its figures, write-up or code)",
}


def covered(key: str) -> bool:
    """A JSON key has its meaning here: a key of JSON_KEYS, a name (a target, a role, ...) keying a grid, or a
    number (a curve's length)."""
    return key in JSON_KEYS or key.isdigit() or any(key in values for values in names().values())


def glossary_markdown() -> str:
    """The glossary section of docs/method.md."""
    lines = ["## Glossary", "",
             "Generated from `induction/glossary.py` (the `Literal` types, read with `get_args`, and the JSON keys; "
             "regenerate with `INDUCTION_UPDATE_DOCS=1 pytest tests/test_glossary.py`). One spelling a concept: a role "
             "is spelled as a target is (`previous_token`); the old spellings `previous-token`, `next-token` and the "
             "role `induction` (now `prefix_matching`) are still read.", "",
             "| name | values |", "|---|---|"]
    lines += [f"| {what} | {', '.join(f'`{v}`' for v in values)} |" for what, values in names().items()]
    lines += ["", "| JSON key | meaning |", "|---|---|"]
    lines += [f"| `{key}` | {meaning} |" for key, meaning in sorted(JSON_KEYS.items())]
    return "\n".join(lines) + "\n"
