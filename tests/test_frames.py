"""Issue 40, tidy results: every result type's `to_frame()` in one long format, each frame's numbers restated from
the result itself; every command's --csv writes it; the example reads them in pandas."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

import induction
from induction.frames import FRAME_COLUMNS, MEASURES

from .conftest import ROOT

TRIALS = 4


def _check(frame: pd.DataFrame) -> pd.DataFrame:
    assert list(frame.columns) == list(FRAME_COLUMNS) and len(frame) > 0
    assert set(frame["measure"]) <= set(MEASURES)
    return frame


def _at(frame: pd.DataFrame, measure: str, target, layer: int, head: int) -> pd.Series:
    rows = frame[(frame.measure == measure) & (frame.target == target) & (frame.layer == layer)
                 & (frame["head"] == head)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_a_map_frame_is_every_target_and_head_with_the_run():
    result = induction.compute_map(induction.MapConfig(model="toy", trials=TRIALS), use_cache=False)
    frame = _check(result.to_frame())
    assert len(frame) == len(result.targets) * result.layers * result.heads
    row = _at(frame, "attention", "prev", 1, 0)
    assert row.score == pytest.approx(float(result.mean("prev")[1, 0]))
    assert row["sem"] == pytest.approx(float(result.sem("prev")[1, 0]))
    assert row.ratio == pytest.approx(row.score / result.baseline)
    assert (row.model, row.setup, row.segment, row.trials, row.seed) == ("toy", "standard", 16, TRIALS, 0)
    pd.testing.assert_frame_equal(result.to_pandas(), frame)  # issue 35's name for it


def test_a_checkpoints_frame_records_its_step():
    result = induction.compute_map(induction.MapConfig(model=str(ROOT / "induction/toys/assets/trained-gpt/step_500"),
                                                       trials=TRIALS), use_cache=False)
    frame = _check(result.to_frame())
    assert set(frame.step) == {500} and set(frame.setup) == {"repeat"}


def test_effects_and_ablation_frames():
    config = induction.MapConfig(model="toy", trials=TRIALS)
    effects = induction.effects(config, use_cache=False)
    frame = _check(effects.to_frame())
    effect = frame[(frame.layer == 1) & (frame["head"] == 0)].iloc[0]
    assert effect.score == pytest.approx(float(effects.effect[1, 0]))
    assert effect["sem"] == pytest.approx(float(effects.effect_sem[1, 0]))
    ablation = induction.ablate(config, "L1H0", use_cache=False)
    frame = _check(ablation.to_frame())
    assert math.isnan(_at(frame, "ablated", "prev", 1, 0).score)  # the ablated head has no score
    assert _at(frame, "ablated_change", "prev", 1, 1).score == pytest.approx(float(ablation.diff("prev")[1, 1]))
    loss = frame[frame.measure == "loss_change"].iloc[0]
    assert loss.score == pytest.approx(ablation.loss_change) and loss["sem"] == pytest.approx(ablation.loss_change_sem)


def test_roles_and_text_frames():
    roles = induction.head_roles("toy-gpt", trials=TRIALS)
    frame = _check(roles.to_frame())
    row = _at(frame, "role", "previous_token", 0, 0)
    assert row.score == pytest.approx(float(roles.scores["previous_token"][0, 0]))
    assert row.baseline == pytest.approx(roles.baselines["previous_token"])
    text = " ".join(f"t{i:03d}" for i in [*range(100, 130), *range(100, 130)])
    result = induction.text_map(induction.TextConfig(model="toy-gpt", text=text), use_cache=False)
    frame = _check(result.to_frame())
    assert _at(frame, "attention", "induction", 1, 0).score == pytest.approx(float(result.mean("induction")[1, 0]))
    assert set(frame.trials) == {result.trials}


def test_icl_frame_has_the_gain_and_the_raw_mean():
    result = induction.icl_score(induction.ICLConfig(model="trained-gpt", trials=TRIALS, short=6, long=60,
                                                     curve=(10, 30)), use_cache=False)
    frame = _check(result.to_frame()).set_index("measure")
    assert frame.loc["icl_gain", "score"] == pytest.approx(result.gain)
    assert frame.loc["icl_mean", "score"] == pytest.approx(result.mean) == pytest.approx(-result.gain)
    assert sorted(frame.loc["curve_loss", "segment"]) == [10, 30]


def test_sweep_and_dynamics_frames(fresh_cache):
    sweep = induction.run_sweep(induction.tasks_for(["toy", "toy-gpt"], [None], [0], trials=TRIALS))
    frame = _check(sweep.to_frame())
    assert list(frame.setup) == ["standard", "repeat"] and list(frame.target) == ["prev", "induction"]
    for row, run in zip(frame.itertuples(), sweep["runs"], strict=True):
        assert f"L{row.layer}H{row.head}" == run["top_head"] and row.score == run["top_score"]
    dynamics = induction.dynamics("trained-gpt", induction.MapConfig(trials=TRIALS), compute_missing=True)
    frame = _check(dynamics.to_frame())
    assert len(frame) == 4 * len(dynamics["rows"])
    best = frame.groupby("step").score.max()
    assert best.to_dict() == pytest.approx({r["step"]: r["best"] for r in dynamics["rows"]})


@pytest.mark.parametrize("argv", [
    ["map", "--model", "toy"], ["ablate", "--model", "toy", "--heads", "L1H0"], ["effects", "--model", "toy"],
    ["roles", "--model", "toy-gpt"], ["sweep", "--models", "toy"],
    ["icl", "--model", "trained-gpt", "--short", "6", "--long", "60"],
    ["text", "--model", "toy-gpt", "--text", " ".join(["t100 t101 t102 t103 t104 t105"] * 2)],
    ["mosaic", "--models", "toy-gpt", "--compute", "--figure", "FIGURE"],
], ids=lambda argv: argv[0])
def test_every_command_writes_its_frame_with_csv(argv, tmp_path, capsys, fresh_cache):
    from induction.cli import main

    out = tmp_path / "out.csv"
    trials = [] if argv[0] == "text" else ["--trials", "2"]
    argv = [str(tmp_path / "m.html") if a == "FIGURE" else a for a in argv]
    assert main([*argv, *trials, "--csv", str(out)]) == 0, capsys.readouterr().err
    frame = pd.read_csv(out)
    assert list(frame.columns) == list(FRAME_COLUMNS) and len(frame) > 0


def test_models_and_reproduce_write_their_rows_as_csv(tmp_path, capsys, monkeypatch):
    from induction.cli import main

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["models", "--csv", str(tmp_path / "models.csv")]) == 0
    assert "toy" in set(pd.read_csv(tmp_path / "models.csv")["name"])
    assert main(["reproduce", "--models", "tiny", "--trials", "2", "--csv", str(tmp_path / "r.csv")]) == 0
    assert set(pd.read_csv(tmp_path / "r.csv")["status"]) == {"not run"}


def test_the_frames_example_stacks_every_result_in_pandas():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from tidy_frames import frames
    finally:
        sys.path.remove(str(ROOT / "examples"))
    tables = frames(trials=3)
    every = tables["all"]
    assert list(every.columns) == list(FRAME_COLUMNS)
    assert {"attention", "effect", "ablated", "role", "icl_gain"} <= set(every.measure)
    assert len(every) == sum(len(t) for name, t in tables.items() if name != "all")
    assert np.isfinite(every[every.measure == "icl_gain"].score).all()
