"""The package as researchers meet it: the facade, the example, the logger, and the three places that used to
change answers or speed silently."""

from __future__ import annotations

import ast
import inspect
import logging
import re
import subprocess
import sys

import numpy as np
import pytest

from .conftest import ROOT


def test_import_induction_loads_no_torch_and_every_facade_name_resolves_with_a_docstring():
    code = ("import sys, induction; assert 'torch' not in sys.modules, 'import induction pulled in torch'; "
            "missing = [n for n in induction.__all__ if not (getattr(induction, n).__doc__ or '').strip()]; "
            "print(len(induction.__all__)); assert not missing, missing")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 30


def test_the_facade_lists_what_a_notebook_needs_with_types():
    import induction

    needed = {"compute_map", "compute_map_until", "MapConfig", "ablate", "effects", "text_map", "icl_score",
              "collect_mosaic", "run_sweep", "reproduce", "head_detail", "InductionError", "ConfigError",
              "ModelLoadError"}
    assert needed <= set(induction.__all__)
    for name in ("compute_map", "ablate", "effects", "text_map", "icl_score", "head_detail"):
        sig = inspect.signature(getattr(induction, name))
        assert sig.return_annotation is not inspect.Signature.empty, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        induction.nope  # noqa: B018 - the attribute access is the test


def test_the_example_runs_the_notebook_workflow_on_the_toy():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from notebook_workflow import workflow
    finally:
        sys.path.remove(str(ROOT / "examples"))
    out = workflow("toy", trials=12)
    best = out["top"][0]
    assert best.name in ("L1H0", "L1H1") and best.score > 0.5  # the toy's hand-set induction heads
    assert out["attended"] == out["detail"].target_index["prev"]  # the head looks at the earlier instance
    assert np.isnan(out["ablation"].ablated("prev")[best.layer, best.head])  # the ablated head is crossed out
    assert out["ablation"].loss_ablated > out["ablation"].loss_clean
    assert out["effects"].effect.shape == (2, 2)


def test_the_example_runs_as_a_script():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "notebook_workflow.py"), "--trials", "6"],
                         capture_output=True, text=True, cwd=ROOT / "tests", check=False)
    assert out.returncode == 0, out.stderr
    assert re.search(r"ablating L1H[01]: masked-token loss", out.stdout)


def test_the_fine_tune_example_tells_the_two_models_apart(fresh_cache):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from fine_tune_in_memory import workflow
    finally:
        sys.path.remove(str(ROOT / "examples"))
    out = workflow(steps=4, trials=6)
    before, again, after = out["before"], out["again"], out["after"]
    assert not before.cached and again.cached and not after.cached  # the edit is a new key, the same weights a hit
    assert before.fingerprint == again.fingerprint != after.fingerprint
    assert out["head"] in ("L1H0", "L1H1") and out["score_before"] > 0.5  # the toy's induction head, in memory
    assert out["score_after"] != out["score_before"] and out["losses"][-1] < out["losses"][0]


def _prints(path) -> list[int]:
    """Lines of `path` that call print() outside a script's entry point (a function named main or *_main)."""
    tree = ast.parse(path.read_text())
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name.endswith("main"):
            allowed |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "print"
            and n.lineno not in allowed]


def test_the_library_prints_only_in_its_command_line():
    offenders = {p.relative_to(ROOT).as_posix(): lines for p in sorted((ROOT / "induction").rglob("*.py"))
                 if "cli" not in p.relative_to(ROOT).parts and (lines := _prints(p))}
    assert not offenders, offenders


def test_the_package_logger_is_silent_by_default_and_never_configured():
    import induction  # noqa: F401 - importing installs the NullHandler

    logger = logging.getLogger("induction")
    assert any(isinstance(h, logging.NullHandler) for h in logger.handlers)
    assert logger.level == logging.NOTSET  # the application decides


# --- the three silent changes, now said ---------------------------------------------------------------------

def test_the_suffix_fallback_says_why(random_bert, monkeypatch, caplog):
    from induction import effects
    from induction.capture import layer_suffix
    from induction.config import MapConfig

    def broken(self, *args, **kwargs):
        raise TypeError("this family's layers need relative positions")

    monkeypatch.setattr(layer_suffix.MaskedLoss, "_suffix_logits", broken)
    with caplog.at_level(logging.WARNING, logger="induction"):
        result = effects(MapConfig(model=random_bert, trials=2, segment=8, seed=3), use_cache=False)
    assert result.path == "full"
    assert "need relative positions" in caplog.text and "full forward" in caplog.text


def test_an_unreadable_position_offset_is_an_error_naming_the_family(monkeypatch):
    from transformers import AutoModel, RobertaConfig

    from induction.config import ModelLoadError
    from induction.models.families import position_offset

    assert position_offset(RobertaConfig(num_hidden_layers=1, hidden_size=8, num_attention_heads=2,
                                         intermediate_size=8, pad_token_id=1)) == 2  # read, not guessed

    def fails(*args, **kwargs):
        raise RuntimeError("no such module")

    monkeypatch.setattr(AutoModel, "from_config", fails)
    with pytest.raises(ModelLoadError, match=r"'roberta' family numbers its positions.*no such module"):
        position_offset(RobertaConfig())


def test_a_cache_encoder_bug_is_raised_not_hidden_behind_a_write_warning(tmp_path):
    from induction.cache import ResultCache

    cache = ResultCache(tmp_path / "c")
    with pytest.raises(TypeError):
        cache.put("k", {"not json": object()}, {"a": np.zeros(2)})
    assert cache.put("k", {"fine": 1}, {"a": np.zeros(2)}) is True


def test_a_full_disk_is_logged_as_well_as_warned(tmp_path, monkeypatch, caplog):
    from induction.cache import CacheWriteWarning, ResultCache

    cache = ResultCache(tmp_path / "c")

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache.store, "set", full)
    with caplog.at_level(logging.WARNING, logger="induction"), pytest.warns(CacheWriteWarning):
        assert cache.put("k", {}, {"a": np.zeros(2)}) is False
    assert "No space left on device" in caplog.text
