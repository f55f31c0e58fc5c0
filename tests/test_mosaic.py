"""The mosaic: tiles from the cache only (nothing recomputed), family-then-size order, relative depth, one colour
scale, the CLI's figure, and the page: a click on a head opens that model's map."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from induction import engine
from induction.analyses.mosaic import Tile, collect, mosaic_figure, ordered
from induction.cli.parser import main
from induction.config import MapConfig
from induction.engine import compute_map

from .conftest import ROOT, save_random_bert
from .test_app import click_point


def _tile(model, family, kind, size, layers=2, heads=2):
    return Tile(model=model, family=family, kind=kind, size=size, mean=np.full((layers, heads), 0.1), baseline=0.05,
                trials=4)


def test_order_is_encoders_then_decoders_by_family_then_size():
    tiles = [_tile("gpt2-medium", "gpt2", "causal", 300), _tile("large", "bert", "encoder", 300),
             _tile("pythia-70m", "gpt_neox", "causal", 20), _tile("tiny", "bert", "encoder", 1),
             _tile("gpt2", "gpt2", "causal", 80), _tile("roberta", "roberta", "encoder", 80)]
    assert [t.model for t in ordered(tiles)] == ["tiny", "large", "roberta", "pythia-70m", "gpt2", "gpt2-medium"]


def test_collect_reads_only_the_cache(tmp_path, monkeypatch):
    small = str(save_random_bert(tmp_path / "small", layers=2, heads=2, hidden=16))
    big = str(save_random_bert(tmp_path / "big", layers=4, heads=4, hidden=32))
    tiles, missing = collect(["toy-gpt", big, small], trials=3, seed=5)
    assert not tiles and set(missing) == {"toy-gpt", big, small}
    assert "python -m induction map --model toy-gpt --setup repeat" in missing["toy-gpt"]
    for model in ("toy-gpt", big, small):
        compute_map(MapConfig(model=model, setup="repeat", trials=3, seed=5))

    def no_computation(*args, **kwargs):
        raise AssertionError("the mosaic computed a map")

    monkeypatch.setattr(engine, "compute_map", no_computation)
    tiles, missing = collect(["toy-gpt", big, small, "no-such-org/no-model"], trials=3, seed=5)
    assert [t.model for t in tiles] == [small, big, "toy-gpt"]  # encoders by size, then the decoder
    assert list(missing) == ["no-such-org/no-model"]
    gpt = tiles[2]
    assert gpt.kind == "causal" and gpt.family == "gpt2" and gpt.best[:2] == (1, 0)


def test_figure_lines_up_relative_depth_on_one_colour_scale():
    tiles = [_tile("deep", "bert", "encoder", 10, layers=4, heads=3), _tile("flat", "gpt2", "causal", 5, layers=2)]
    fig = mosaic_figure(tiles, target="induction")
    points = [t for t in fig.data if t.type == "scatter"]
    np.testing.assert_allclose(sorted(set(points[0].x)), [0.125, 0.375, 0.625, 0.875])
    np.testing.assert_allclose(sorted(set(points[1].x)), [0.25, 0.75])
    assert {t.coloraxis for t in fig.data if t.type == "heatmap"} == {"coloraxis"}
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert list(points[1].customdata[3]) == [1, 1, 1] and "flat L1H1: 0.100 (2.0x baseline)" in points[1].hovertext
    with pytest.raises(Exception, match="no model to show"):
        mosaic_figure([], target="induction")


def test_cli_writes_the_figure_and_lists_what_is_missing(tmp_path, capsys):
    out = tmp_path / "mosaic.html"
    assert main(["mosaic", "--figure", str(out), "--models", "toy-gpt,toy", "--trials", "3", "--seed", "9"]) == 2
    assert "no model to show" in capsys.readouterr().err  # nothing cached, nothing computed
    assert main(["mosaic", "--figure", str(out), "--models", "toy-gpt,toy", "--trials", "3", "--seed", "9",
                 "--compute"]) == 0
    printed = capsys.readouterr().out
    assert "toy-gpt" in printed and "best L1H0" in printed and out.read_text().count("relative depth") >= 1
    assert main(["mosaic", "--figure", str(tmp_path / "x.doc"), "--models", "toy"]) == 2


def test_page_click_opens_the_model_s_map():
    for model in ("toy", "toy-gpt"):
        compute_map(MapConfig(model=model, setup="repeat", trials=4))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in {"setup": "repeat", "target": "induction", "trials": 4}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/mosaic.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Mosaic" and len(at.get("plotly_chart")) == 1
    assert any("toy-gpt" in m.value and "L1H0" in m.value for m in at.markdown)
    rows = at.session_state["_mosaic_rows"]
    chart = at.get("plotly_chart")[0]
    click_point(at, chart, [rows.index("toy-gpt"), 1, 0], x=0.75, y=0)
    assert not at.exception, at.exception
    assert at.title[0].value == "Induction map" and at.session_state["model"] == "toy-gpt"
    assert (at.session_state["layer"], at.session_state["head"]) == (1, 0)


def test_page_offers_the_repeat_setup_when_another_is_chosen():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.query_params["trials"] = 4
    at.run()
    at.switch_page("views/mosaic.py").run()
    assert any("only the repeat setup" in i.value for i in at.info)
    at.button[0].click().run()
    assert at.session_state["setup"] == "repeat" and at.session_state["target"] == "induction"


def test_page_computes_the_offline_models_on_demand_and_says_the_offline_error_once(fresh_cache, monkeypatch,
                                                                                     tmp_path):
    from induction.models.registry import OFFLINE_MODELS

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no network, an empty Hugging Face cache
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    for key, value in {"setup": "repeat", "target": "induction", "trials": 3}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("views/mosaic.py").run()
    assert not at.exception and at.session_state["_mosaic_rows"] == ["toy"]  # the landing map computed toy's
    offline_info = [i.value for i in at.info if "cannot load here" in i.value]
    assert len(offline_info) == 1 and "tiny" in offline_info[0] and "gpt2" in offline_info[0]
    button = next(b for b in at.button if b.label.startswith("Compute"))
    assert all(m in button.label for m in OFFLINE_MODELS if m != "toy")
    button.click().run()
    assert not at.exception and not at.error and len(at.get("plotly_chart")) == 1
    assert sorted(at.session_state["_mosaic_rows"]) == sorted(OFFLINE_MODELS)
    at.run()  # the maps are in the cache now: no button, the same mosaic
    assert not any(b.label.startswith("Compute") for b in at.button) and len(at.get("plotly_chart")) == 1
