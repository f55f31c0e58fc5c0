"""Shared fixtures: a private cache directory and small randomly initialised models."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Every test process gets its own cache: the suite never reads or writes the repo's cache/.
os.environ["INDUCTION_CACHE_DIR"] = tempfile.mkdtemp(prefix="induction-test-cache-")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parent.parent


def save_random_bert(out: Path, *, seed: int = 0, layers: int = 3, heads: int = 4, hidden: int = 32,
                     max_positions: int = 128, mlm: bool = True) -> Path:
    """A small random BERT with the toy's tokenizer, saved like any local model folder."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertModel

    from induction.toys.toy_bert import VOCAB_SIZE, save_tokenizer

    torch.manual_seed(seed)
    config = BertConfig(vocab_size=VOCAB_SIZE, hidden_size=hidden, num_hidden_layers=layers,
                        num_attention_heads=heads, intermediate_size=hidden * 2,
                        max_position_embeddings=max_positions)
    model = BertForMaskedLM(config) if mlm else BertModel(config)
    model.config.architectures = [type(model).__name__]
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    save_tokenizer(out)
    return out


@pytest.fixture(scope="session")
def random_bert(tmp_path_factory) -> str:
    return str(save_random_bert(tmp_path_factory.mktemp("random_bert")))


def assert_generated_doc(path: Path, text: str) -> None:
    """A docs page a test generates: rewritten with INDUCTION_UPDATE_DOCS=1, otherwise it must equal what the test
    found (a stale page fails)."""
    if os.environ.get("INDUCTION_UPDATE_DOCS"):
        path.write_text(text)
    assert path.read_text() == text, f"docs/{path.name} is stale: rerun with INDUCTION_UPDATE_DOCS=1"


@pytest.fixture()
def fresh_cache(tmp_path, monkeypatch):
    """A cache directory of this test's own."""
    monkeypatch.setenv("INDUCTION_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


from hypothesis import settings as _hyp_settings  # noqa: E402 - after the environment set-up above, on purpose

# Property tests explore new cases locally; in CI they replay a fixed set so a run is reproducible.
_hyp_settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    _hyp_settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's script runner (AppTest) may leave its page script as `__main__`; a compute worker spawned later
    would then re-run that script and die. Every test gets back the `__main__` it started with."""
    import sys

    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
