"""Figures for papers (SVG, PDF, PNG through kaleido and the machine's Chromium; self-contained HTML) from the
library and the CLI, and the CSV of every target with the run's metadata."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from induction.config import ConfigError, MapConfig
from induction.engine import compute_map
from induction.figures.export import browser_available, figure_bytes, scores_csv, write_figure
from induction.figures.plots import map_figure

from .conftest import ROOT

needs_browser = pytest.mark.skipif(not browser_available(), reason="no Chrome or Chromium on this machine")


@needs_browser
def test_svg_pdf_and_png_are_real_files():
    fig = map_figure(np.eye(3) * 0.8, title="toy")
    assert figure_bytes(fig, "svg").startswith(b"<svg")
    assert figure_bytes(fig, "pdf").startswith(b"%PDF")
    assert figure_bytes(fig, "png").startswith(b"\x89PNG")


def test_html_needs_no_browser_and_bad_suffixes_are_refused(tmp_path):
    out = write_figure(map_figure(np.zeros((2, 2))), str(tmp_path / "map.html"))
    assert "<html>" in out.read_text()[:100] and '<script src="http' not in out.read_text()
    with pytest.raises(ConfigError, match=r"the suffix must be one of \.svg, \.pdf, \.png, \.html"):
        write_figure(map_figure(np.zeros((2, 2))), str(tmp_path / "map.jpg"))


@needs_browser
def test_cli_map_writes_the_figure_its_suffix_names(tmp_path):
    out = tmp_path / "toy.pdf"
    proc = subprocess.run([sys.executable, "-m", "induction", "map", "--model", "toy", "--trials", "4", "--figure",
                           str(out), "--target", "prev_after"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes().startswith(b"%PDF")
    bad = subprocess.run([sys.executable, "-m", "induction", "map", "--model", "toy", "--figure", "x.gif"], cwd=ROOT,
                         capture_output=True, text=True, timeout=180)
    assert bad.returncode == 2 and "suffix must be one of" in bad.stderr and "computed" not in bad.stdout


def test_the_csv_has_every_target_and_the_runs_metadata():
    result = compute_map(MapConfig(model="toy", setup="shuffled", trials=5), use_cache=False)
    table = pd.read_csv(io.StringIO(scores_csv(result)))
    assert len(table) == result.layers * result.heads
    assert {"left_match", "left_match_sem", "right_match", "sum_sem", "model", "setup", "trials", "seed",
            "segment", "dtype", "baseline"} <= set(table.columns)
    row = table[(table["layer"] == 1) & (table["head"] == 0)].iloc[0]
    assert row["left_match"] == pytest.approx(float(result.mean("left_match")[1, 0]), rel=1e-6)
    assert row["setup"] == "shuffled" and row["trials"] == 5


def test_a_figure_for_a_paper_has_the_run_in_its_title_and_no_selection_outline():
    from induction.figures.export import file_stem, for_paper, run_title

    fig = map_figure(np.full((2, 2), 0.5), selected=[(1, 0)])
    assert [s.name for s in fig.layout.shapes] == ["selected"]
    paper = for_paper(fig, run_title("toy", "standard", "prev", 50, 0))
    assert paper.layout.title.text == "toy · standard setup · target prev · 50 trials · seed 0"
    assert not paper.layout.shapes and len(fig.layout.shapes) == 1  # the page's figure keeps its outline
    assert file_stem("induction", "toy", "standard", "prev", "50trials", "seed0") == \
        "induction_toy_standard_prev_50trials_seed0"
    assert "/" not in file_stem("a/b", "c d")


def test_the_compare_figure_puts_both_maps_on_one_scale_and_the_difference_apart():
    from induction.figures.plots import compare_figure

    a, b = np.full((2, 2), 0.2), np.full((2, 2), 0.6)
    fig = compare_figure(a, b, names=("toy seed 0", "toy seed 1"), zmin=0.0, zmax=1.0, diff=b - a)
    assert [t.coloraxis for t in fig.data] == ["coloraxis", "coloraxis", "coloraxis2"]
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0.0, 1.0)
    assert fig.layout.coloraxis2.cmin == -fig.layout.coloraxis2.cmax
    assert any("A = toy seed 0" in (n.text or "") for n in fig.layout.annotations)
    assert len(compare_figure(a, np.zeros((4, 2)), names=("a", "b"), zmin=0, zmax=1).data) == 2  # no diff
