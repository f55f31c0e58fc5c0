"""Issue 40, defaults that belong to the weights: the setup, segment and target a map takes when none is named are
decided from what is loaded (its kind, positions, weights), never from the name it was loaded by, so a registry
name, its folder and its checkpoint series give the same map; a decoder takes its own setup everywhere."""

from __future__ import annotations

import json

import numpy as np
import pytest

from induction.analyses.dynamics import dynamics
from induction.config import MapConfig
from induction.engine import compute_map
from induction.models.registry import ASSETS, KNOWN_MODELS
from induction.sweep import run_sweep, tasks_for

TRIALS = 6


def _folder(name: str) -> str:
    return str(ASSETS / KNOWN_MODELS[name].source.split(":", 1)[1])


@pytest.mark.parametrize("name", ["trained-gpt", "trained-bert", "toy", "toy-gpt"])
def test_a_name_and_its_folder_give_the_same_default_map(name):
    """Item 2: trained-gpt by name used segment 20, its folder 31 (same fingerprint): now one default, to 1e-9."""
    by_name = compute_map(MapConfig(model=name, trials=TRIALS), use_cache=False)
    by_folder = compute_map(MapConfig(model=_folder(name), trials=TRIALS), use_cache=False)
    assert by_name.fingerprint == by_folder.fingerprint
    assert (by_name.config.setup, by_name.config.segment) == (by_folder.config.setup, by_folder.config.segment)
    for target in by_name.targets:
        np.testing.assert_allclose(by_name.per_trial[target], by_folder.per_trial[target], atol=1e-9, rtol=0)


def test_the_hand_set_toys_keep_their_own_segment_by_name_and_by_folder():
    """The toys' 16 belongs to their weights (found by fingerprint), not to the name."""
    for name in ("toy", "toy-gpt"):
        assert compute_map(MapConfig(model=_folder(name), trials=2), use_cache=False).config.segment == 16


@pytest.mark.parametrize("name", ["trained-gpt", "trained-bert"])
def test_the_last_point_of_a_series_is_the_models_default_map(name, fresh_cache):
    """Item 2/7: dynamics by series name and by series folder, and a sweep of the folder, end on the very map the
    registry name gives (to 1e-9); every row records its step, setup, target and segment."""
    model_map = compute_map(MapConfig(model=name, trials=TRIALS), use_cache=False)
    target = model_map.targets[0]
    series_folder = str(ASSETS / name)
    by_name = dynamics(name, MapConfig(trials=TRIALS), compute_missing=True)
    by_folder = dynamics([series_folder], MapConfig(trials=TRIALS), compute_missing=True)
    assert by_name["missing"] == by_folder["missing"] == [] and len(by_name["rows"]) > 5
    assert [r["scores"] for r in by_name["rows"]] == [r["scores"] for r in by_folder["rows"]]
    last = by_name["rows"][-1]
    np.testing.assert_allclose(last["scores"], model_map.mean(target), atol=1e-9, rtol=0)
    assert (last["setup"], last["target"], last["segment"]) == (model_map.config.setup, target,
                                                                model_map.config.segment)
    assert last["step"] == max(r["step"] for r in by_name["rows"])
    swept = run_sweep(tasks_for([series_folder + "/step_" + str(last["step"])], [None], [0], trials=TRIALS))
    row = swept["runs"][0]
    assert row["status"] == "ok" and row["step"] == last["step"] and row["target"] == target
    assert row["segment"] == model_map.config.segment and row["setup"] == model_map.config.setup
    assert row["top_score"] == pytest.approx(model_map.top_heads(target, 1)[0].score, abs=1e-6)


def test_a_decoder_takes_its_own_setup_in_the_api():
    """Item 10: compute_map(MapConfig(model="trained-gpt")) failed asking for --setup repeat; an encoder takes
    standard; a name alone stands for its default map."""
    gpt = compute_map(MapConfig(model="trained-gpt", trials=TRIALS), use_cache=False)
    assert gpt.config.setup == "repeat" and gpt.targets[0] == "induction"
    toy = compute_map("toy", use_cache=False)
    assert toy.config.setup == "standard" and toy.config.segment == 16 and toy.trials == MapConfig().trials


def test_a_config_of_the_wrong_type_says_what_to_pass():
    from induction.config import ConfigError

    with pytest.raises(ConfigError, match=r"MapConfig\(model='toy'"):
        compute_map(42)


def test_the_cli_takes_the_decoders_setup_for_map_and_effects(tmp_path, capsys):
    """Item 10: `induction effects --model trained-gpt` (and map) with no --setup run the decoder's repeat setup."""
    from induction.cli import main

    out = tmp_path / "effects.json"
    assert main(["effects", "--model", "trained-gpt", "--trials", "3", "--no-cache", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["setup"] == "repeat"
    out = tmp_path / "map.json"
    assert main(["map", "--model", "trained-gpt", "--trials", "3", "--no-cache", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["setup"] == "repeat" and data["segment"] == compute_map(
        MapConfig(model=_folder("trained-gpt"), trials=3), use_cache=False).config.segment
    capsys.readouterr()


def test_the_cli_refuses_an_unknown_target(capsys):
    """Item 9: `induction map --model toy --target prevv` printed every target and exited 0."""
    from induction.cli import main

    assert main(["map", "--model", "toy", "--target", "prevv", "--trials", "2", "--no-cache"]) == 2
    err = capsys.readouterr().err
    assert "unknown target 'prevv'" in err and "prev, prev_before, prev_after" in err
    assert main(["map", "--model", "toy", "--target", "prev_after", "--trials", "2", "--no-cache"]) == 0
    printed = capsys.readouterr().out
    assert "prev_after" in printed and "prev_before" not in printed


def test_the_sweep_table_prints_whole_checkpoint_names(tmp_path, capsys, fresh_cache):
    """Item 7: step_1000, step_150 and step_1500 all printed as `.../step_1`; the JSON had no step, target or
    segment."""
    from induction.cli import main

    folder = str(ASSETS / "trained-gpt")
    out = tmp_path / "sweep.json"
    assert main(["sweep", "--models", folder, "--trials", "2", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for step in (150, 1000, 1500):
        assert f"{folder}/step_{step} " in printed
    runs = json.loads(out.read_text())["runs"]
    assert [r["step"] for r in runs] == sorted(r["step"] for r in runs) and runs[-1]["step"] == 1500
    assert {r["target"] for r in runs} == {"induction"} and {r["setup"] for r in runs} == {"repeat"}
    assert len({r["segment"] for r in runs}) == 1
