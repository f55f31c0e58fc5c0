"""A run is resolved once: the model's config is read once, the device chosen once, and the record
flows down unchanged through maps, ablation and the drill-down."""

from __future__ import annotations

import shutil

import pytest

from induction import runs
from induction.analyses.ablation import ablate
from induction.analyses.head_detail import head_detail
from induction.config import ConfigError, MapConfig
from induction.engine import compute_map
from induction.models import loading as models
from induction.runs import Run, resolve_run
from induction.scoring import HeadScore


@pytest.fixture()
def counted(monkeypatch):
    """Counts of config reads, describe() calls and device resolutions."""
    calls = {"config": 0, "describe": 0, "device": 0}

    def wrap(module, name, key):
        real = getattr(module, name)

        def counting(*args, **kwargs):
            calls[key] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counting)

    wrap(models, "_load_config", "config")
    wrap(runs, "describe", "describe")
    wrap(runs, "resolve_device", "device")
    return calls


def test_an_ablation_resolves_its_run_once(random_bert, counted, fresh_cache):
    ablate(MapConfig(model=random_bert, trials=3, segment=8, seed=21), ["L0H1"], use_cache=False)
    assert counted["describe"] == 1 and counted["device"] == 1


def test_a_resolved_run_is_concrete_and_passes_through_unchanged(random_bert, counted):
    run = resolve_run(MapConfig(model=random_bert, trials=2))
    assert run.device in ("cpu", "cuda") and run.dtype in ("float32", "float16", "bfloat16")
    assert run.config.segment is not None
    assert resolve_run(run) is run
    result = compute_map(run, use_cache=False)
    head_detail(run, 0, 0)
    assert counted["describe"] == 1 and result.config == run.config
    assert result.to_json()["device"] == run.device and result.to_json()["dtype"] == run.dtype


def test_describing_a_local_folder_is_memoized_by_its_files(random_bert, counted, tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(random_bert, folder)
    first = models.describe(str(folder))
    assert models.describe(str(folder)) is first and counted["config"] == 1  # unchanged folder: not re-read
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # rewritten (new mtime): described again
    again = models.describe(str(folder))
    assert counted["config"] == 2 and again is not first and again.fingerprint == first.fingerprint


def test_run_refuses_heads_the_model_does_not_have(random_bert):
    run = resolve_run(MapConfig(model=random_bert, trials=2))
    assert run.check_head(0, 0) == (0, 0)
    with pytest.raises(ConfigError, match=f"there is no L{run.info.layers}H0"):
        run.check_head(run.info.layers, 0)
    assert isinstance(run, Run)


def test_top_heads_are_typed_records(random_bert):
    result = compute_map(MapConfig(model=random_bert, trials=3, segment=8), use_cache=False)
    top = result.top_heads("prev", 3)
    assert all(isinstance(h, HeadScore) for h in top)
    assert [h.score for h in top] == sorted((h.score for h in top), reverse=True)
    best = top[0]
    assert best.name == f"L{best.layer}H{best.head}"
    assert best.score == pytest.approx(float(result.mean("prev")[best.layer, best.head]))
    assert best.sem == pytest.approx(float(result.sem("prev")[best.layer, best.head]))
    assert best.ratio == pytest.approx(best.score / result.baseline)


def test_the_library_never_changes_logging_process_wide():
    from .conftest import ROOT

    for path in (ROOT / "induction").rglob("*.py"):
        text = path.read_text()
        for call in ("set_verbosity", "disable_progress_bar", "logging.disable", "basicConfig", "setLevel"):
            assert f"{call}(" not in text, (path.name, call)
