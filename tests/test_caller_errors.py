"""Issue 40, errors in the caller's terms: Python callers are told keywords, command-line users flags; a typo of a
known model gets "did you mean" before any Hub attempt; a head given as one string is one head."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from induction.analyses.ablation import ablate
from induction.config import ConfigError, InductionError, MapConfig, ModelLoadError
from induction.engine import compute_map


def test_one_message_renders_as_keywords_for_python_and_flags_for_the_cli():
    error = ConfigError("use [[setup=repeat]] or [[short=6 long=64]] with [[mask_piece=first]]")
    assert str(error) == "use setup='repeat' or short=6, long=64 with mask_piece='first'"
    assert error.cli == "use --setup repeat or --short 6 --long 64 with --mask-piece first"
    again = pickle.loads(pickle.dumps(error))  # the dashboard's workers send errors back pickled
    assert type(again) is ConfigError and str(again) == str(error) and again.cli == error.cli


def test_a_python_caller_is_told_the_keyword_and_a_cli_user_the_flag(capsys):
    """Item 10: a Python caller was told "use --setup repeat"."""
    from induction.cli import main

    with pytest.raises(ConfigError) as refused:
        compute_map(MapConfig(model="toy-gpt", setup="standard", trials=1), use_cache=False)
    assert "setup='repeat'" in str(refused.value) and "--" not in str(refused.value)
    assert main(["map", "--model", "toy-gpt", "--setup", "standard", "--trials", "1", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "--setup repeat" in err and "setup='repeat'" not in err


def test_no_library_message_says_flags_to_a_python_caller():
    """Every advice in the library's messages is written [[name=value]], so none reaches Python as --name."""
    import re

    from .conftest import ROOT

    offenders = []
    for path in (ROOT / "induction").rglob("*.py"):
        if path.parent.name in ("cli", "toys") or path.name in ("parser.py",):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"Error\(.*[\"'][^\"']*\s--[a-z]", line) or re.search(r"^\s+f?[\"'].*use --[a-z]", line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:90]}")
    assert not offenders, offenders


def test_a_typo_of_a_known_model_says_did_you_mean_before_any_hub_attempt(monkeypatch):
    """Item 10: `trained-gtp` went to the Hub and came back with a long message."""
    from induction.models import hub, loading

    def no_hub(*args, **kwargs):
        raise AssertionError("the Hub was asked")

    monkeypatch.setattr(hub, "hub_reachable", no_hub)
    monkeypatch.setattr(loading, "_load_config", no_hub)
    with pytest.raises(ModelLoadError, match="unknown model 'trained-gtp': did you mean 'trained-gpt'"):
        compute_map(MapConfig(model="trained-gtp", trials=1), use_cache=False)


def test_a_head_given_as_one_string_is_one_head():
    """Item 10: ablate(cfg, "L1H0") read the string letter by letter ("cannot read head 'L'")."""
    config = MapConfig(model="toy", trials=3)
    one = ablate(config, "L1H0", use_cache=False)
    listed = ablate(config, ["L1H0"], use_cache=False)
    pair = ablate(config, (1, 0), use_cache=False)
    assert one.ablated_heads == listed.ablated_heads == pair.ablated_heads == ((1, 0),)
    np.testing.assert_array_equal(one.per_trial["prev"], listed.per_trial["prev"])
    assert ablate(config, "L1H0,L1H1", use_cache=False).ablated_heads == ((1, 0), (1, 1))


def test_a_config_or_a_name_is_what_compute_map_takes():
    """Item 10: compute_map("toy") was an AttributeError; a name is the model's default map."""
    assert compute_map("toy", use_cache=False).config.model == "toy"
    with pytest.raises(InductionError, match="MapConfig"):
        compute_map(["toy"], use_cache=False)


def test_a_cached_result_shows_no_absurd_rate(capsys):
    """Item 11: a cache hit reports every trial done at once; the bar said "3994575 trial/s"."""
    import re
    import time

    from induction.cli.commands import with_progress

    def cached(progress):
        time.sleep(0.01)
        progress(50, 50)
        return 1

    assert with_progress("cached", cached) == 1
    err = capsys.readouterr().err
    assert "50/50" in err and not re.search(r"\d+(\.\d+)?\s*trial/s", err), err


def test_results_have_short_reprs_and_every_public_name_a_docstring():
    """Item 11: repr(InductionMap) printed every per-trial array; mean, sem, effect, ICLConfig, ICLResult,
    HeadDetail, AblationResult had no docstring (a dataclass's generated signature is no docstring)."""
    import inspect

    import induction

    result = compute_map(MapConfig(model="toy", trials=20), use_cache=False)
    text = repr(result)
    assert len(text) < 200 and result.top_heads("prev", 1)[0].name in text and "array" not in text
    missing = []
    for name in induction.__all__:
        obj = getattr(induction, name)
        doc = (obj.__doc__ or "").strip()
        if not doc or doc.startswith(f"{name}("):
            missing.append(name)
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("induction"):
                continue
            for attr, value in vars(klass).items():
                fn = value.fget if isinstance(value, property) else value
                if attr.startswith("_") or not (callable(fn) or isinstance(value, property)):
                    continue
                if not (getattr(fn, "__doc__", None) or "").strip():
                    missing.append(f"{klass.__name__}.{attr}")
    assert not missing, missing
    assert "positive" in induction.EffectsResult.effect.__doc__.lower()  # its sign said


def test_the_figure_helpers_are_in_the_facade_and_take_result_objects(fresh_cache):
    """Item 8: phase_change_figure and scores_csv were in neither the facade nor the docs; map_figure(result) failed
    ("'InductionMap' object has no attribute 'shape'")."""
    import induction

    result = compute_map(MapConfig(model="toy", trials=4), use_cache=False)
    fig = induction.map_figure(result)
    heat = fig.data[0]
    np.testing.assert_allclose(np.asarray(heat.z, dtype=float), result.mean("prev"))
    assert "prev" in fig.layout.title.text and "toy" in fig.layout.title.text
    other = induction.map_figure(result, target="prev_after")
    np.testing.assert_allclose(np.asarray(other.data[0].z, dtype=float), result.mean("prev_after"))
    effects = induction.effects(result.config, use_cache=False)
    np.testing.assert_allclose(np.asarray(induction.effect_figure(effects).data[0].z, dtype=float), effects.effect)
    dynamics = induction.dynamics("trained-gpt", MapConfig(trials=2), compute_missing=True)
    phase = induction.phase_change_figure(dynamics)
    assert {t.name for t in phase.data} >= {"L1H0", "uniform baseline"}
    assert "head,layer" not in induction.scores_csv(result) and "prev_sem" in induction.scores_csv(result)
    assert induction.roles_figure(induction.head_roles("toy-gpt", trials=2)).data
