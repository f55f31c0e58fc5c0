"""Downloads: the scores as CSV, the map as JSON, the figure as HTML."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st


def to_json_text(payload: dict) -> str:
    return json.dumps(payload)


def figure_html(fig) -> str:
    """A self-contained page: plotly.js inlined (about 4.6 MB), so the figure opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def figures_html(figs) -> str:
    """Several figures in one self-contained page, plotly.js inlined once."""
    body = "".join(f.to_html(include_plotlyjs=i == 0, full_html=False) for i, f in enumerate(figs))
    return f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def public(payload: dict) -> dict:
    """An export without this machine's paths: a local folder is named by its last part only."""
    out = dict(payload)
    for key in ("model", "model_source"):
        value = out.get(key)
        if isinstance(value, str) and (value.startswith(("/", "~", ".")) or os.path.isdir(value)):
            out[key] = "local folder " + Path(value).name
    return out


def downloads(result, target: str, fig) -> None:
    """Scores (every target, with the run's metadata), the map as JSON, and the figure in four formats: titled
    with the run (model, setup, target, trials, seed), without the selection outline, named by the run."""
    from induction.figures.export import file_stem, for_paper, run_title, scores_csv

    c = result.config
    model = public({"model": c.model})["model"].removeprefix("local folder ")
    name = file_stem("induction", model, c.setup, target, f"{result.trials}trials", f"seed{c.seed}",
                     f"{result.masks}masks" if result.masks > 1 else "")
    extra = f"{result.masks} masks ({c.mask_span})" if result.masks > 1 else ""
    figure_downloads(for_paper(fig, run_title(model, c.setup, target, result.trials, c.seed, extra)), name,
                     data=[("Scores (CSV)", public_csv(scores_csv(result)), f"{name}.csv", "text/csv"),
                           ("Map (JSON)", to_json_text(public(result.to_json())), f"{name}.json", "application/json")])


def figure_downloads(fig, name: str, data=()) -> None:
    """`data` buttons (label, payload, file name, mime), then the figure as HTML, SVG, PDF and PNG."""
    from induction.figures.export import browser_available, figure_bytes

    buttons = [*data, ("Figure (HTML)", lambda: figure_html(fig), f"{name}.html", "text/html")]
    if browser_available():
        buttons += [(f"Figure ({fmt.upper()})", lambda f=fmt: figure_bytes(fig, f), f"{name}.{fmt}", mime)
                    for fmt, mime in (("svg", "image/svg+xml"), ("pdf", "application/pdf"), ("png", "image/png"))]
    for start in range(0, len(buttons), 3):  # rows of three: no button is cut at 800 pixels
        for column, (label, payload, file, mime) in zip(st.columns(3), buttons[start:start + 3], strict=False):
            column.download_button(label, payload, file, mime, key=f"dl_{name}_{label}")
    if not browser_available():
        st.caption("SVG, PDF and PNG need a Chrome or Chromium on the server (apt-get install chromium); the "
                   "camera button of the figure's toolbar still saves a PNG.")


def public_csv(text: str) -> str:
    """The CSV without this machine's paths (its model columns as `public` writes them)."""
    import io

    table = pd.read_csv(io.StringIO(text))
    for column in ("model", "model_source"):
        if column in table:
            table[column] = [public({column: v})[column] for v in table[column]]
    return table.to_csv(index=False)
