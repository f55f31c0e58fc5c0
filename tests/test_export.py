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
