"""Command line: `python -m induction {map,precompute,ablate,effects,reproduce,text,sweep,mosaic,icl,roles,train,
models}`.

Why a CLI: the engine is a library first; the dashboard is one client, the shell another. This module
is the parser (choices come from `config`, spelled once); `commands.py` runs each command. Errors meant
for users print one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys

from induction.analyses.mosaic import MOSAIC_MODELS, MOSAIC_SETUP, MOSAIC_TARGET
from induction.analyses.text_map import DEFAULT_MIN_DISTANCE
from induction.cli import commands
from induction.config import (
    ABLATION_MODES,
    DEVICES,
    DTYPES,
    ICL_VARIANTS,
    MASK_PIECES,
    MASK_SPANS,
    PAPER_TRIALS,
    PROTOCOLS,
    SETUPS,
    UNITS,
    InductionError,
)
from induction.models.registry import KNOWN_MODELS
from induction.training.recipes import RECIPES


def _add_map_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="toy", help="a size (tiny..large), toy, minilm, a hub id or a folder")
    p.add_argument("--setup", choices=SETUPS, default=None,
                   help="default: the model's kind's own (standard for an encoder, repeat for a decoder)")
    p.add_argument("--protocol", choices=PROTOCOLS, default="clean")
    p.add_argument("--trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--segment", type=int, default=None, help="segment length (default: protocol's/model's)")
    _add_run_args(p)


def _add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--dtype", choices=DTYPES, default="auto")
    p.add_argument("--no-cache", action="store_true", help="compute and do not read or write the cache")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="induction", description="Induction heads in BERT-family models (and "
                                     "decoders). Also runs as python -m induction.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("map", help="compute an induction map and print the top heads")
    _add_map_args(p)
    p.add_argument("--json", help="write the map as JSON to this path")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.add_argument("--dump-trials", action="store_true", help="with --json: include every trial's ids and indices")
    p.add_argument("--figure", help="write the map as a figure: .svg, .pdf, .png (need Chromium) or .html")
    p.add_argument("--masks", type=int, default=1, help="masked tokens per trial, each a query (1 to 8)")
    p.add_argument("--unit", choices=UNITS, default="token",
                   help="word: segments of whole words (the segment in word pieces), word-level targets")
    p.add_argument("--mask-piece", choices=MASK_PIECES, default="all", help="word unit: which pieces are masked")
    p.add_argument("--mask-span", choices=MASK_SPANS, default="scattered",
                   help="several masks: K neighbouring tokens (contiguous) or K with no two adjacent (scattered)")
    p.add_argument("--target", default=None, help="the target the table and figure show (default: every target; "
                                                  "the figure: the setup's first)")
    p.add_argument("--until-sem", type=float, default=None,
                   help="adaptive: run trials in chunks until every head's standard error is below this "
                        "(--trials is then the cap)")
    p.set_defaults(func=commands.cmd_map)
    p = sub.add_parser("precompute", help="fill the cache for every size and setup that loads here")
    p.add_argument("--models", nargs="+", default=[*KNOWN_MODELS], choices=None)
    p.add_argument("--protocols", nargs="+", default=list(PROTOCOLS), choices=PROTOCOLS)
    p.add_argument("--no-effects", dest="effects", action="store_false",
                   help="skip the per-head effects (standard setup, clean protocol) of models with an MLM head")
    p.add_argument("--trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=commands.cmd_precompute)
    p = sub.add_parser("ablate", help="recompute a map with heads ablated; report the difference and MLM loss")
    _add_map_args(p)
    p.add_argument("--heads", required=True, help="comma-separated heads, for example L9H9,L8H2")
    p.add_argument("--mode", choices=ABLATION_MODES, default="zero")
    p.add_argument("--json", help="write heads, mode, clean, ablated, diff, loss_clean, loss_ablated as JSON")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.set_defaults(func=commands.cmd_ablate)
    p = sub.add_parser("effects", help="every head's causal effect: masked-token loss with it ablated minus clean")
    _add_map_args(p)
    p.add_argument("--mode", choices=ABLATION_MODES, default="zero")
    p.add_argument("--pairs-with", default=None, help="a head (LxHy) ablated in every run: effects on top of it")
    p.add_argument("--until-sem", type=float, default=None,
                   help="adaptive: chunks of trials until every effect's standard error is below this (--trials caps)")
    p.add_argument("--json", help="write model, setup, trials, seed, mode, layers, heads, loss_clean, effect, "
                                  "effect_sem, elapsed_s, cached as JSON")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.add_argument("--figure", help="write the effect map as a figure: .svg, .pdf, .png or .html")
    p.add_argument("--dump-trials", action="store_true", help="with --json: include every trial's ids and indices")
    p.set_defaults(func=commands.cmd_effects)
    p = sub.add_parser("reproduce", help="run every experiment of the study and compare with what it reported")
    p.add_argument("--models", default="tiny,small,medium,base,large",
                   help="sizes to run, comma-separated; size=folder stands in another model for a size")
    p.add_argument("--trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=DEVICES, default="auto")
    p.add_argument("--icl-corpus", default="wikipedia-simple",
                   help="the ICL corpus (the study's: wikipedia-simple; python-docs works offline, not comparable)")
    p.add_argument("--icl-trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--json", help="write {'rows': [...]} (one row per reported number) as JSON")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.set_defaults(func=commands.cmd_reproduce)
    p = sub.add_parser("text", help="the induction map of natural text: each repeated token masked in turn")
    p.add_argument("--model", default="toy", help="a known model, a hub id or a folder")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="the text itself")
    source.add_argument("--file", help="a UTF-8 text file (at most 1 MB)")
    source.add_argument("--corpus", help="an offline corpus: python-docs or a folder of .txt files")
    p.add_argument("--document", help="with --corpus: the document's name (default: drawn with --seed)")
    p.add_argument("--min-distance", type=int, default=DEFAULT_MIN_DISTANCE,
                   help="an earlier occurrence counts when at least this many tokens back (default 4)")
    p.add_argument("--max-occurrences", type=int, default=200, help="more are sampled down with --seed")
    p.add_argument("--seed", type=int, default=0)
    _add_run_args(p)
    p.add_argument("--json", help="write layers, heads, occurrences, targets, sem, baseline, per_occurrence")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.add_argument("--dump-trials", action="store_true", help="with --json: every occurrence's ids and indices")
    p.set_defaults(func=commands.cmd_text)
    p = sub.add_parser("sweep", help="maps of many models, setups and seeds, here or on a Ray cluster")
    p.add_argument("--models", default=None,
                   help="comma-separated models; multiberts:seeds=0-4:steps=all expands to checkpoints; a folder "
                        "of step_N checkpoint folders stands for all of them (required without --depth)")
    p.add_argument("--depth", nargs="?", const="both", choices=("encoder", "causal", "both"), default=None,
                   help="the depth study over the depth series trained here (trained-bert-2x4 .. trained-gpt-6x4; "
                        "--models narrows it): per series the layer and relative depth of its strongest heads, where "
                        "the score is read from, the K-composition source, ablations, the formation step and the "
                        "ICL gain, beside the study's BERT sizes")
    p.add_argument("--setups", default=None, help="comma-separated setups (default: each model's kind's own)")
    p.add_argument("--seeds", default="0", help="comma-separated seeds")
    p.add_argument("--protocol", choices=PROTOCOLS, default="clean")
    p.add_argument("--trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--segment", type=int, default=None, help="segment length (default: protocol's/model's)")
    p.add_argument("--ray", default=None, help="'local' starts a Ray cluster here for the run; an address joins one")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--json", help="write {'executor': ..., 'runs': [...]} as JSON (--depth: {'depth_series': [...], "
                                  "'study': [...], 'readings': {...}})")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.set_defaults(func=commands.cmd_sweep)
    p = sub.add_parser("icl", help="in-context learning: the loss saved by a longer context (gain, positive when "
                                   "context helps)")
    p.add_argument("--model", required=True, help="a known model, a hub id or a folder (offline: trained-gpt and "
                                                  "trained-bert read python-docs-held-out, with --short 6 --long 60)")
    p.add_argument("--corpus", default=None, help="python-docs (the default; a model trained here: its held-out "
                   "part, python-docs-held-out), python-docs-train, wikipedia-simple, a .txt file or a folder")
    p.add_argument("--variant", choices=ICL_VARIANTS, default=None,
                   help="masked (an encoder's default), all-tokens (the study's code), next-token (a decoder's: "
                        "Olsson et al.)")
    p.add_argument("--trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--short", type=int, default=50)
    p.add_argument("--long", type=int, default=500)
    p.add_argument("--replace", action="store_true", help="sample documents with replacement if too few")
    p.add_argument("--curve", action="store_true", help="also the masked-token loss at 25..500 tokens of context")
    _add_run_args(p)
    p.add_argument("--json", help="write the result as JSON")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.set_defaults(func=commands.cmd_icl)
    p = sub.add_parser("mosaic", help="one small map per model, encoders beside decoders, as a figure (from the cache)")
    p.add_argument("--figure", required=True, help="where to write it: .svg, .pdf, .png (need Chromium) or .html")
    p.add_argument("--models", default=",".join(MOSAIC_MODELS), help="comma-separated models (default: the mosaic's)")
    p.add_argument("--setup", choices=SETUPS, default=MOSAIC_SETUP, help="repeat: the one setup decoders run")
    p.add_argument("--target", default=MOSAIC_TARGET)
    p.add_argument("--trials", type=int, default=PAPER_TRIALS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--compute", action="store_true", help="compute the maps that are not cached (else they are "
                                                         "listed as missing)")
    p.add_argument("--csv", help="write every tile's heads in the tidy long format as CSV to this path")
    p.set_defaults(func=commands.cmd_mosaic)
    p = sub.add_parser("roles", help="every head's roles (previous-token, induction, sink, ...), copying, composition")
    p.add_argument("--model", default="toy", help="a known model, a hub id or a folder")
    p.add_argument("--trials", type=int, default=PAPER_TRIALS, help="repeat (and, for an encoder, standard) trials")
    p.add_argument("--seed", type=int, default=0)
    _add_run_args(p)
    p.add_argument("--series", help="a checkpoint series (trained-gpt, trained-bert, or a folder of step_N "
                                    "checkpoints; a folder given as --model is read so too): per checkpoint, the "
                                    "induction head's score, its copying and K-composition from the previous-token "
                                    "heads")
    p.add_argument("--json", help="write model, heads (each with roles, scores, copying, copy_logit) and composition")
    p.add_argument("--csv", help="write the tidy long-format table (to_frame()) as CSV to this path")
    p.set_defaults(func=commands.cmd_roles)
    p = sub.add_parser("train", help="train a model from scratch in which induction heads form (its step_N "
                                     "checkpoints and training log): regenerates a shipped series bit for bit")
    p.add_argument("recipe", choices=sorted(RECIPES))
    p.add_argument("--out", required=True, help="a new folder for the step_N checkpoints and training_log.json")
    p.add_argument("--until", type=int, default=None, help="stop after this step (the checkpoints so far are the "
                                                           "full run's)")
    p.add_argument("--verify", action="store_true", help="compare every checkpoint written with the shipped series: "
                   "within 1e-4 (weights and maps) passes, and it says \"bit for bit\" only when the bytes are equal")
    p.add_argument("--force", action="store_true", help="write into a folder that is not empty")
    p.set_defaults(func=commands.cmd_train)
    p = sub.add_parser("models", help="list the known models and which work offline")
    p.add_argument("--csv", help="write the list as CSV to this path")
    p.set_defaults(func=commands.cmd_models)
    return parser


def main(argv: list[str] | None = None) -> int:
    from induction.models.hub import quiet_environment

    quiet_environment()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InductionError as exc:
        print(f"error: {getattr(exc, 'cli', exc)}", file=sys.stderr)  # its advice as flags
        return 2
    except KeyboardInterrupt:
        print("interrupted: nothing was written to the cache for the unfinished run", file=sys.stderr)
        return 130


__all__ = ["main"]
