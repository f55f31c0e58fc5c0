"""Training dynamics: checkpoint folders become a series, scores are read from the cache a sweep filled,
the appearance step is where the best head first reaches half its highest score, and the page shows it."""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from induction.analyses.dynamics import appearance_step, dynamics, series_models
from induction.config import MapConfig
from induction.sweep import run_sweep, tasks_for

from .conftest import ROOT, save_random_bert
from .test_app import click_point

OTHER = "another series (a folder, or MultiBERTs)"


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """Three tiny checkpoints of one 'training run' (random weights, different at each step)."""
    root = tmp_path_factory.mktemp("run")
    for i, step in enumerate((0, 100, 200)):
        save_random_bert(root / "seed_3" / f"step_{step:06d}", seed=10 + i, layers=2, heads=2, hidden=16)
    return root


def test_a_folder_of_checkpoints_is_a_series_in_step_order(run_folder, tmp_path):
    models = series_models(str(run_folder))
    assert [m.rsplit("/", 1)[-1] for m in models] == ["step_000000", "step_000100", "step_000200"]
    with pytest.raises(Exception, match="no checkpoint folders"):
        series_models(str(tmp_path))
    for not_a_series in ("garbage!!", "toy", "multiberts:seeds=0:steps=all,minilm"):
        with pytest.raises(Exception, match="not a checkpoint series"):
            series_models(not_a_series)


def test_a_trained_series_by_name_is_its_checkpoints_on_the_page_and_its_final_model_in_a_sweep():
    page = series_models("trained-gpt")
    assert [m.rsplit("_", 1)[-1] for m in page] == ["0", "150", "300", "400", "450", "500", "550", "600", "800",
                                                    "1000", "1500"]
    assert series_models("trained-gpt", require_steps=False) == ["trained-gpt"]


def test_appearance_is_the_first_step_at_half_the_highest_score():
    assert appearance_step([(0, 0.02), (100, 0.05), (200, 0.31), (300, 0.6), (400, 0.58)]) == 200
    assert appearance_step([(0, 0.0), (10, 0.0)]) is None and appearance_step([]) is None


def test_dynamics_reads_what_a_sweep_wrote_and_nothing_else(run_folder, fresh_cache):
    models = series_models(str(run_folder))
    template = MapConfig(trials=3, segment=6, seed=0)
    assert dynamics(models, template, "prev")["missing"] == models  # nothing computed on the way
    run_sweep(tasks_for(models[:2], ["standard"], [0], protocol="clean", trials=3, segment=6))
    result = dynamics(models, template, "prev", head=(1, 1))
    assert [r["step"] for r in result["rows"]] == [0, 100] and result["missing"] == models[2:]
    assert all(r["seed"] == 3 and r["head"] is not None and r["best"] >= r["head"] for r in result["rows"])
    assert result["appears"][3] in (None, 0, 100)  # random weights: None unless a head passes 3x uniform


def test_the_page_plots_the_series(run_folder, fresh_cache):
    models = series_models(str(run_folder))
    run_sweep(tasks_for(models, ["standard"], [0], protocol="clean", trials=3, segment=6))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in {"trials": "3", "segment": "6", "layer": "0", "head": "1"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/dynamics.py").run()
    assert "What works here" in at.info[0].value and "trained-gpt" in at.info[0].value  # said up front
    at.selectbox(key="dyn_choice").select(OTHER).run()
    assert any("None of the" in i.value for i in at.info)  # the MultiBERTs default is not cached here
    at.text_input(key="dyn_series").input("garbage!!").run()
    assert any("not a checkpoint series" in e.value for e in at.error)
    at.text_input(key="dyn_series").input(str(run_folder)).run()
    assert not at.exception and len(at.get("plotly_chart")) == 1
    assert len(at.dataframe[0].value) == 3
    assert any("Induction heads appear" in m.value and ("step" in m.value or "no head formed" in m.value)
               for m in at.markdown)


def test_a_trained_series_shows_its_phase_change_offline_and_a_click_opens_a_checkpoint(fresh_cache):
    """From an empty cache: every checkpoint's map and ICL score computed on demand, the losses from the training
    log, the step the heads form; a click on a checkpoint's point opens that checkpoint's map."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["trials"] = "6"
    at.run()
    at.switch_page("views/dynamics.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="dyn_choice").value == "trained-gpt"
    assert "setup repeat" in at.caption[0].value  # the decoder's own setup, though the sidebar says standard
    (chart,) = at.get("plotly_chart")  # the mechanism waits for its toggle: the page stays fast
    figure = json.loads(chart.proto.spec)
    names = [t.get("name") for t in figure["data"]]
    assert {"L1H0", "late-token loss", "ICL gain"} <= set(names)
    # the mechanism beside the score: copying and K-composition from the previous-token heads, per checkpoint
    at.toggle(key="dyn_mech").set_value(True).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    mechanism = at.get("plotly_chart")[1]
    names = [t.get("name") for t in json.loads(mechanism.proto.spec)["data"]]
    assert any(n.endswith("prefix matching") for n in names) and any(n.endswith("OV copying") for n in names)
    assert any(n.startswith("K-composition L0H") for n in names) and "random matrices: mean + 3 sd" in names
    assert any("rotary, so W_QK at relative offset 0" in c.value for c in at.caption)
    assert len(at.dataframe[1].value) == len(series_models("trained-gpt"))
    appears = next(m.value for m in at.markdown if "Induction heads appear" in m.value)
    step = int(re.search(r"step (\d+)", appears).group(1))
    assert 0 < step < 1500
    checkpoint = series_models("trained-gpt")[-1]
    assert checkpoint.endswith("step_1500")  # the series in step order
    click_point(at, chart, [checkpoint, 1500], x=1500, y=0.7)
    assert at.title[0].value == "Induction map" and at.session_state.model == checkpoint
    assert at.session_state.setup == "repeat" and not at.exception
