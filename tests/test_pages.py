"""Page layout, every page alone, on a stubbed library: what each page shows, independent of the numbers.

The stub returns small synthetic results (real result classes, made-up scores with a planted best head)
so these tests check layout and wiring only; the numbers are tested on the real toy in test_app.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import drilldown, library
from induction.analyses.ablation import AblationResult
from induction.analyses.effects import EffectsResult
from induction.analyses.head_detail import HeadDetail
from induction.analyses.icl import ICLResult
from induction.config import OFFSETS, MapConfig
from induction.figures.export import browser_available
from induction.models.registry import SIZES
from induction.scoring import InductionMap

from .page_checks import open_page

# with a Chromium on the machine, the map offers SVG, PDF and PNG too
FIGURES = ["Figure (SVG)", "Figure (PDF)", "Figure (PNG)"] if browser_available() else []

SHAPE = (3, 4)  # every stubbed model: 3 layers x 4 heads
BEST = (2, 1)  # the planted best head
SEQ = 33


def fake_map(config: MapConfig, *args, **kwargs) -> InductionMap:
    rng = np.random.default_rng(0)
    trials = config.trials
    per_trial = {}
    for target in config.targets():
        scores = rng.uniform(0.0, 0.1, size=(trials, *SHAPE)).astype(np.float32)
        scores[:, BEST[0], BEST[1]] = 0.9
        per_trial[target] = scores
    return InductionMap(config=config.with_segment(16, 128), model_source="stub", fingerprint="stub",
                        layers=SHAPE[0], heads=SHAPE[1], seq_len=SEQ, per_trial=per_trial,
                        offsets=np.full((*SHAPE, len(OFFSETS)), 0.05, dtype=np.float32))


def fake_detail(config, layer, head, trial):
    tokens = [f"t{i}" for i in range(SEQ)]
    pattern = np.full((SEQ, SEQ), 1.0 / SEQ)
    return HeadDetail(layer=layer, head=head, trial=trial, tokens=tokens, original_tokens=tokens, mask_index=20,
                      anchor_index=4, target_index={"prev": 4, "prev_before": 3, "prev_after": 5},
                      row=pattern[20].copy(), pattern=pattern)


def fake_ablation(config, heads, mode):
    clean = fake_map(config)
    return AblationResult(clean=clean, ablated_heads=tuple(heads), mode=mode,
                          per_trial={t: v * 0.5 for t, v in clean.per_trial.items()}, loss_clean=0.1,
                          loss_ablated=2.5, loss_change_sem=0.05)


def fake_effects(config, mode, pair):
    clean = fake_map(config)
    loss = np.zeros((config.trials, *SHAPE))
    loss[:, BEST[0], BEST[1]] = 2.0
    return EffectsResult(config=clean.config, mode=mode, pairs_with=pair, layers=SHAPE[0], heads=SHAPE[1],
                         loss_clean_per_trial=np.zeros(config.trials), loss_base_per_trial=np.zeros(config.trials),
                         loss_ablated_per_trial=loss,
                         path="suffix")


def fake_icl(config):
    return ICLResult(config=config, corpus_hash="stub", per_trial=np.linspace(0.0, 1.0, config.trials),
                     skipped_documents=1, eligible_documents=20)


@pytest.fixture()
def stubbed(monkeypatch):
    """The dashboard's library calls answered by the stubs above; a call that reaches a model fails."""
    monkeypatch.setattr(library, "get_map", fake_map)
    monkeypatch.setattr(library, "get_ablation", fake_ablation)
    monkeypatch.setattr(library, "get_icl", fake_icl)
    monkeypatch.setattr(library, "get_effects", fake_effects)
    monkeypatch.setattr(library, "cached_effects", lambda *a: None)
    monkeypatch.setattr(library, "get_sweep", lambda *a: [])
    monkeypatch.setattr(library, "max_positions", lambda model, fallback=512: 512)
    monkeypatch.setattr(library, "loadable", lambda models: (list(models), {}))
    monkeypatch.setattr(library, "mlm_note", lambda model: None)
    monkeypatch.setattr(drilldown, "_head_detail", fake_detail)


def charts(at) -> int:
    return len(at.get("plotly_chart"))


def test_map_page(stubbed):
    at = open_page("views/map.py")
    assert at.title[0].value == "Induction map" and charts(at) == 1
    assert any(f"Best head: **L{BEST[0]}H{BEST[1]}**" in m.value for m in at.markdown)
    assert [b.label for b in at.get("download_button")] == ["Scores (CSV)", "Map (JSON)", "Figure (HTML)", *FIGURES]
    assert any("Click a cell" in i.value for i in at.info)


def test_map_page_with_a_head_selected_shows_the_drilldown(stubbed):
    at = open_page("views/map.py", layer=BEST[0], head=BEST[1])
    assert at.subheader[0].value == f"Head L{BEST[0]}H{BEST[1]}"
    assert charts(at) == 5  # map, [MASK] row, distribution, offsets, full pattern


def test_head_page(stubbed):
    at = open_page("views/head.py", layer=0, head=1)
    assert at.title[0].value == "Head drill-down" and charts(at) == 4
    assert at.selectbox(key="sel_layer").value == 0 and at.selectbox(key="sel_head").value == 1


def test_sizes_page(stubbed):
    at = open_page("views/sizes.py")
    assert at.title[0].value == "Model sizes"
    *panels, depth = [s.value for s in at.subheader]  # one panel a size, then the depth series' section
    assert sorted(panels) == sorted(SIZES) and charts(at) == len(SIZES)  # 4 columns; the depth toggle is off
    assert depth.startswith("Trained here") and not at.toggle(key="sizes_depth").value


def test_setups_page(stubbed):
    at = open_page("views/setups.py")
    assert [s.value for s in at.subheader] == ["standard", "shuffled", "triple", "repeat"]
    assert charts(at) == 3 + 3 + 2 + 3  # one panel per target
    at = open_page("views/setups.py", model="toy-gpt", setup="repeat", target="induction")
    assert [s.value for s in at.subheader] == ["repeat"] and charts(at) == 3  # a decoder runs only repeat


def test_ablation_page(stubbed):
    at = open_page("views/ablation.py", ablate="L0H0")
    assert at.title[0].value == "Ablation" and charts(at) == 3  # clean, ablated, difference
    assert at.metric[0].value == "2.500"


def test_ablation_page_without_heads_asks_for_one(stubbed):
    at = open_page("views/ablation.py")
    assert charts(at) == 1 and any("Choose at least one head" in i.value for i in at.info)


def test_icl_page(stubbed):
    at = open_page("views/icl.py")
    assert any("What works here" in i.value for i in at.info)  # said before any button
    assert any("reads only its own tokens" in e.value for e in at.error) and not at.button  # toy + python-docs
    at.text_input(key="icl_corpus").input("some/folder").run()
    assert at.title[0].value == "In-context learning" and not at.metric
    at.button[0].click().run()
    assert not at.exception and at.metric[0].value == "0.5000"  # mean of linspace(0, 1)
    assert charts(at) == 1
    at.run()  # a rerun (another widget, a click elsewhere) keeps the result
    assert at.metric and at.metric[0].value == "0.5000"
    at.number_input(key="icl_short").set_value(20).run()  # a changed input clears it
    assert not at.metric


def test_effects_page_computes_on_a_click_and_shows_three_figures(stubbed):
    at = open_page("views/effects.py", pair="L0H1")
    assert at.title[0].value == "Effects" and charts(at) == 0 and at.selectbox(key="w_pair").value == "L0H1"
    at.button[0].click().run()
    assert not at.exception and charts(at) == 3  # attention map, effect map, attention against effect
    assert "with L0H1 ablated" in at.main.caption[-1].value and at.query_params["pair"] == "L0H1"


def test_reproduce_page_runs_on_a_click_and_keeps_its_table(stubbed, monkeypatch):
    from induction.study.reported import REPORTED, row
    from induction.study.reproduce import Reproduction

    calls = []

    def fake(sizes, trials, seed, corpus):
        calls.append(sizes)
        return Reproduction(rows=[row(r, "not run", "offline") for r in REPORTED])

    monkeypatch.setattr(library, "get_reproduction", fake)
    at = open_page("views/reproduce.py")
    assert at.title[0].value == "Reproduce the study" and not at.dataframe
    at.button[0].click().run()
    assert not at.exception and len(at.dataframe[0].value) == len(REPORTED)
    at.run()  # a rerun keeps the table
    assert len(at.dataframe) == 1 and len(calls) == 1
    at.number_input(key="w_seed").set_value(5).run()  # a changed input clears it
    assert not at.dataframe


def test_text_page_with_a_python_docs_document(stubbed, monkeypatch):
    from dashboard import text_panels as text_page
    from induction.analyses.text_map import TEXT_TARGETS, TextMap

    occurrences = [{"token": "for", "window": 0, "position": 9 + k, "earlier": 2 + k, "continuation": False}
                   for k in range(5)]

    def fake_text_map(config):
        scores = np.full((5, *SHAPE), 0.05, dtype=np.float32)
        scores[:, BEST[0], BEST[1]] = 0.8
        return TextMap(config=config, source="python-docs: for", text_hash="x", layers=SHAPE[0], heads=SHAPE[1],
                       per_trial={t: scores for t in TEXT_TARGETS}, seq_lens=np.full(5, SEQ), occurrences=occurrences)

    monkeypatch.setattr(text_page, "get_text_map", fake_text_map)
    monkeypatch.setattr(text_page, "tokens", lambda config: [[f"t{i}" for i in range(SEQ)]])
    monkeypatch.setattr(text_page, "occurrence_detail", lambda *a: fake_detail(None, 1, 1, 0))
    at = open_page("views/text.py", doc="for")
    assert at.title[0].value == "Your text" and at.selectbox(key="w_doc").value == "for" and charts(at) == 2
    assert any("Click a head" in i.value for i in at.info)
    at = open_page("views/text.py", doc="for", layer=BEST[0], head=BEST[1])
    assert charts(at) == 3  # the tokens, the map and the selected head's attention from the masked occurrence
    assert any("5 of 5 occurrences" in m.value for m in at.markdown)
    assert at.query_params["doc"] == "for"


def test_about_page(stubbed):
    at = open_page("views/about.py")
    assert at.title[0].value == "About the method" and "uniform baseline" in at.markdown[0].value
    assert charts(at) == 0
