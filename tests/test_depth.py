"""Issues 36 and 41: the depth series trained here, encoders and decoders of 2, 4 and 6 layers, and the depth study
read on them. Known answers measured on the shipped checkpoints (regenerable by `induction train`, within 1e-4 across
machines); the last-token reading is checked against the definition, restated with the model's own eager attention."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from induction.analyses.depth import (
    REPEAT_TARGET,
    depth_series,
    formation,
    last_token_scores,
    relative_depth,
    study_rows,
)
from induction.config import MapConfig
from induction.engine import compute_map, get_model, make_trials
from induction.models.loading import resolve
from induction.reference import load_eager
from induction.training.recipes import DEPTH_HEADS, DEPTHS, RECIPES
from induction.training.series import shipped_series

# series -> (strongest head on the kind's own reading, the window its heads form in: first and last step allowed)
KNOWN = {
    "trained-bert-2x4": ("L1H1", (750, 1250)),
    "trained-bert-4x4": ("L3H1", (750, 1250)),
    "trained-bert-6x4": ("L4H1", (500, 1000)),
    "trained-gpt-2x4": ("L1H2", (1000, 2000)),
    "trained-gpt-4x4": ("L2H0", (1000, 2000)),
    "trained-gpt-6x4": ("L4H0", (750, 1500)),
}
OWN = {"encoder": ("standard", "prev"), "causal": ("repeat", "induction")}
STRONG = 0.5


def test_the_depth_series_are_one_recipe_that_differs_only_in_depth_objective_and_mask():
    """Issue 41: an encoder and a decoder of one depth read the same data on the same schedule."""
    assert sorted(depth_series()) == sorted(KNOWN) and len(DEPTHS) >= 3
    fields = ("hidden", "inner", "positions", "batch", "lr", "warmup", "min_lr_ratio", "natural_share",
              "held_out_every", "spans", "span_length", "adjacent_rate", "seed", "checkpoints")
    for layers in DEPTHS:
        bert, gpt = RECIPES[f"trained-bert-{layers}x{DEPTH_HEADS}"], RECIPES[f"trained-gpt-{layers}x{DEPTH_HEADS}"]
        assert (bert.kind, gpt.kind) == ("encoder", "causal") and bert.layers == gpt.layers == layers
        assert all(getattr(bert, f) == getattr(gpt, f) for f in fields)
        assert bert.heads == gpt.heads == DEPTH_HEADS


def test_the_study_rows_read_the_reported_heads_and_their_relative_depth():
    rows = {r["model"]: r for r in study_rows()}
    assert rows["bert-base"]["name"] == "L10H9" and rows["bert-base"]["relative_depth"] == pytest.approx(11 / 12,
                                                                                                          abs=1e-4)
    assert rows["bert-large"]["layers"] == 24 and rows["bert-large"]["relative_depth"] == pytest.approx(22 / 24,
                                                                                                         abs=1e-4)
    assert rows["bert-tiny"]["name"] is None  # the study found no head in BERT-Tiny
    assert relative_depth(0, 4) == 0.25 and relative_depth(3, 4) == 1.0


@pytest.mark.parametrize("series", ["trained-gpt-2x4", "trained-bert-2x4"])
def test_the_last_token_reading_is_the_attention_from_the_last_token_to_the_earlier_instance_it_predicts(series):
    """Restated from the definition with the model's own eager attention: from the last token of the second copy (an
    encoder's: the one before [SEP]) to the earlier instance of the token predicted there, found by searching the ids
    (a decoder predicts the next token, whose earlier instance follows the query's own; an unmasked encoder query
    is its own token)."""
    trials = 6
    causal = RECIPES[series].kind == "causal"
    got = last_token_scores(series, REPEAT_TARGET[RECIPES[series].kind], trials=trials)  # [T, L, H]
    batch = make_trials(MapConfig(model=series, setup="repeat", trials=trials), get_model(series))
    eager = load_eager(resolve(series)[0])
    for t in range(trials):
        ids = batch.input_ids[t]
        q = len(ids) - (1 if causal else 2)
        earlier = int(np.flatnonzero(ids[:q] == ids[q])[-1])
        key = earlier + 1 if causal else earlier
        with torch.no_grad():
            attentions = eager(input_ids=torch.tensor(ids[None]), output_attentions=True).attentions
        expected = np.array([[float(a[0, h, q, key]) for h in range(a.shape[1])] for a in attentions])
        np.testing.assert_allclose(got[t], expected, atol=1e-5)


@pytest.mark.parametrize("series", sorted(KNOWN))
def test_each_depth_series_has_its_known_strongest_head_formed_in_its_window(series):
    """Known answers: the final checkpoint's strongest head (on the kind's own reading) and the window of steps its
    heads form in; the first checkpoint has none."""
    head, (low, high) = KNOWN[series]
    setup, target = OWN[RECIPES[series].kind]
    result = compute_map(MapConfig(model=series, setup=setup, trials=50), use_cache=False)
    best = result.top_heads(target, 1)[0]
    assert best.name == head and best.score >= STRONG and best.score > 10 * result.baseline
    found = formation(series, trials=30)
    assert found["forms_at"] is not None and low <= found["forms_at"] <= high, found["forms_at"]
    assert found["formation_curve"][0]["score"] < 3 * result.baseline


@pytest.mark.parametrize("series", sorted(KNOWN))
def test_ablating_each_series_strongest_head_costs_more_than_its_layers_weakest(series):
    from induction.analyses.ablation import ablate

    head, _ = KNOWN[series]
    setup, target = OWN[RECIPES[series].kind]
    config = MapConfig(model=series, setup=setup, trials=30)
    result = compute_map(config, use_cache=False)
    layer = int(head[1:].split("H")[0])
    weak = f"L{layer}H{int(np.argmin(result.mean(target)[layer]))}"
    assert weak != head
    strongest, control = ablate(config, [head], use_cache=False), ablate(config, [weak], use_cache=False)
    assert strongest.loss_change > control.loss_change + 3 * np.hypot(strongest.loss_change_sem,
                                                                       control.loss_change_sem)


def test_the_depth_study_command_prints_and_writes_every_series_and_the_study(tmp_path, capsys, fresh_cache):
    from induction.cli import main

    out, csv = tmp_path / "depth.json", tmp_path / "depth.csv"
    assert main(["sweep", "--depth", "--models", "trained-gpt-2x4,trained-bert-2x4", "--trials", "10", "--json",
                 str(out), "--csv", str(csv)]) == 0
    printed = capsys.readouterr().out
    payload = json.loads(out.read_text())
    rows = {r["series"]: r for r in payload["depth_series"]}
    assert set(rows) == {"trained-gpt-2x4", "trained-bert-2x4"}
    for name, row in rows.items():
        assert row["strongest_head"]["name"] == KNOWN[name][0] and name in printed
        assert row["strongest_head"]["relative_depth"] == pytest.approx(relative_depth(row["strongest_head"]["layer"],
                                                                                       row["layers"]))
        assert row["icl_corpus"] == "python-docs-held-out"  # never the training text
        assert row["ablation"]["strongest_head"]["loss_change"] > row["ablation"]["weakest_in_layer"]["loss_change"]
    assert set(rows["trained-bert-2x4"]["readings"]) == {"mask_query", "every_token", "last_token"}
    assert set(rows["trained-gpt-2x4"]["readings"]) == {"every_token", "last_token"}
    assert "bert-base" in printed and [r["model"] for r in payload["study"]][:1] == ["bert-tiny"]
    assert "top_head" in csv.read_text() and "loss_change" in csv.read_text()


def test_the_depth_study_refuses_a_model_that_is_no_depth_series(capsys):
    from induction.cli import main

    assert main(["sweep", "--depth", "--models", "trained-gpt"]) != 0
    assert "trained-gpt-2x4" in capsys.readouterr().err


def test_every_depth_series_is_shipped_and_offered_offline():
    from induction.models.registry import DEPTH_MODELS, OFFLINE_MODELS

    assert set(DEPTH_MODELS) == set(KNOWN) <= set(OFFLINE_MODELS)
    for name in KNOWN:
        folder = shipped_series(name)
        assert (folder / "training_log.json").is_file()
        assert sorted(int(p.name.split("_")[1]) for p in folder.glob("step_*")) == list(RECIPES[name].checkpoints)


def test_make_trained_models_retrains_every_shipped_series():
    from induction.training.series import SERIES

    from .conftest import ROOT

    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    listed = next(line for line in text.splitlines() if line.startswith("SERIES ="))
    assert listed.split("=", 1)[1].split() == list(SERIES)


def test_the_sizes_and_dynamics_pages_show_every_depth_series_with_the_study_beside(fresh_cache):
    """The Model sizes page's depth section: one figure with both families and the study's BERT sizes, the table
    (every series, its heads' relative depths consistent with their layers) and the answer in words; the Training
    dynamics page: every series on one step axis with its formation step."""
    from .page_checks import assert_clean, open_page

    at = open_page("views/sizes.py", timeout=600, model="trained-bert", trials=4)
    at.toggle(key="sizes_depth").set_value(True).run()
    assert_clean(at)
    figure = json.loads(next(c for c in at.get("plotly_chart") if "relative depth" in c.proto.spec).proto.spec)
    names = [t["name"] for t in figure["data"]]
    assert any(n.startswith("encoder") for n in names) and any(n.startswith("decoder") for n in names)
    assert "BERT (the study): best prev head" in names
    table = next(df.value for df in at.dataframe if "relative depth" in df.value.columns)
    assert sorted(table["series"]) == sorted(KNOWN)
    for _, row in table.iterrows():
        layer = int(row["strongest"][1:].split("H")[0])
        assert row["relative depth"] == pytest.approx(relative_depth(layer, row["layers"]), abs=1e-3)
    assert any("The study's BERT sizes" in m.value and "bert-base L10H9" in m.value for m in at.markdown)

    at = open_page("views/dynamics.py", timeout=600, model="trained-gpt", trials=4)
    at.toggle(key="dyn_depth").set_value(True).run()
    assert_clean(at)
    curves = json.loads(next(c for c in at.get("plotly_chart") if "best head against step" in c.proto.spec).proto.spec)
    assert {t["name"].split(" ")[0] for t in curves["data"] if t.get("showlegend", True)} == set(KNOWN)
    table = next(df.value for df in at.dataframe if "forms at step" in df.value.columns)
    assert sorted(table["series"]) == sorted(KNOWN)
