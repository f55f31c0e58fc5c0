"""Figures and tables for papers: SVG, PDF and PNG through kaleido, self-contained HTML, and a CSV of every
target with the run's metadata.

Why here and not in the page: the CLI's `--figure PATH` and the dashboard's download buttons write the same
files. kaleido drives a Chrome or Chromium of the machine's own (BROWSER_PATH, or Debian's chromium).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from induction.config import ConfigError, InductionError

FIGURE_FORMATS = ("svg", "pdf", "png", "html")
_CHROMIUMS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def browser_available() -> bool:
    try:
        _browser()
        return True
    except InductionError:
        return False


def _browser() -> str:
    found = os.environ.get("BROWSER_PATH") or next((p for p in _CHROMIUMS if Path(p).exists()), None) \
        or shutil.which("chromium") or shutil.which("google-chrome")
    if not found:
        raise InductionError("SVG, PDF and PNG figures need a Chrome or Chromium browser (apt-get install "
                             "chromium, or set BROWSER_PATH); HTML works without one")
    return found


def figure_bytes(fig, fmt: str, *, scale: float = 2.0) -> bytes:
    """The figure as svg, pdf, png (kaleido) or a self-contained html page (plotly.js inlined)."""
    if fmt not in FIGURE_FORMATS:
        raise ConfigError(f"unknown figure format {fmt!r}; choose one of {', '.join(FIGURE_FORMATS)}")
    if fmt == "html":
        return fig.to_html(include_plotlyjs=True, full_html=True).encode()
    os.environ.setdefault("BROWSER_PATH", _browser())  # kaleido reads it when it starts its browser
    try:
        return fig.to_image(format=fmt, scale=scale if fmt == "png" else 1)
    except Exception as exc:
        raise InductionError(f"could not draw the figure as {fmt}: {exc}") from exc


def figure_format(path: str) -> str:
    """The format a figure path asks for (its suffix); checked before any computation starts."""
    fmt = Path(path).suffix.lstrip(".").lower()
    if fmt not in FIGURE_FORMATS:
        raise ConfigError(f"--figure {path!r}: the suffix must be one of {', '.join('.' + f for f in FIGURE_FORMATS)}")
    if fmt != "html":
        _browser()
    return fmt


def run_title(model: str, setup: str, target: str, trials: int, seed: int, extra: str = "") -> str:
    """What a figure for a paper says about itself: model, setup, target, trials and seed."""
    parts = (model, f"{setup} setup", f"target {target}", f"{trials} trials", f"seed {seed}", extra)
    return " · ".join(p for p in parts if p)


def file_stem(*parts: object) -> str:
    """A file name that says the run: induction_toy_standard_prev_50trials_seed0 (no path separators)."""
    text = "_".join(str(p) for p in parts if p not in (None, ""))
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def for_paper(fig, title: str):
    """A copy of `fig` as a paper takes it: the run's title on top and no on-screen selection outline."""
    import plotly.graph_objects as go

    out = go.Figure(fig)
    out.layout.shapes = tuple(s for s in out.layout.shapes if s.name != "selected")
    top = max(out.layout.margin.t or 0, 60)
    out.update_layout(title=dict(text=title, x=0.01, xanchor="left", font=dict(size=14)), margin=dict(t=top))
    return out


def write_figure(fig, path: str) -> Path:
    """Write `fig` to `path`, the format from its suffix."""
    out = Path(path)
    data = figure_bytes(fig, figure_format(path))
    out.write_bytes(data)
    return out


def scores_csv(result) -> str:
    """Every head, every target's score and standard error, and the run's metadata on each row."""
    import pandas as pd

    meta = {k: v for k, v in result.to_json().items() if not isinstance(v, (dict, list))}
    rows = []
    for layer in range(result.layers):
        for head in range(result.heads):
            row = {**meta, "layer": layer, "head": head}
            for target in result.targets:
                mean, sem = result.stats(target)
                row[target], row[f"{target}_sem"] = float(mean[layer, head]), float(sem[layer, head])
            rows.append(row)
    return pd.DataFrame(rows).to_csv(index=False)
