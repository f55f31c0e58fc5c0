"""Issue 34's smaller defects: the Mosaic's progress counts models, and a model folder without a tokenizer says so."""

from __future__ import annotations

import shutil

import pytest

from induction.config import InductionError, MapConfig


def test_the_mosaics_progress_line_counts_models_not_trials(monkeypatch):
    from dashboard import library
    from dashboard.viewstate import ViewState

    seen = {}

    def record(label, compute, *args, unit="trials", **kwargs):
        seen.update(label=label, unit=unit, total=len(args[0]))

    monkeypatch.setattr(library, "run_with_progress", record)
    library.compute_mosaic(["toy", "toy-gpt"], ViewState())
    assert seen == {"label": "computing toy, toy-gpt", "unit": "models", "total": 2}


def test_a_model_folder_without_a_tokenizer_says_so(random_bert, tmp_path, fresh_cache):
    from induction.engine import compute_map

    bare = tmp_path / "no-tokenizer"
    shutil.copytree(random_bert, bare)
    removed = [f for f in bare.iterdir() if "token" in f.name or f.name in ("vocab.txt", "vocab.json", "merges.txt")]
    assert removed  # the fixture's folder has a tokenizer to remove
    for f in removed:
        f.unlink()
    with pytest.raises(InductionError) as err:
        compute_map(MapConfig(model=str(bare), trials=2, segment=8))
    message = str(err.value)
    assert "has no tokenizer" in message and "copy the tokenizer files" in message and "\n" not in message
    assert "ordinary tokens of the vocabulary" not in message
