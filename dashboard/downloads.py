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


def public(payload: dict) -> dict:
    """An export without this machine's paths: a local folder is named by its last part only."""
    out = dict(payload)
    for key in ("model", "model_source"):
        value = out.get(key)
        if isinstance(value, str) and (value.startswith(("/", "~", ".")) or os.path.isdir(value)):
            out[key] = "local folder " + Path(value).name
    return out


def downloads(result, target: str, fig) -> None:
    mean, sem = result.stats(target)
    rows = [{"layer": l, "head": h, "score": float(mean[l, h]), "sem": float(sem[l, h])}
            for l in range(result.layers) for h in range(result.heads)]
    name = f"induction_{Path(result.config.model).name}_{result.config.setup}_{target}"
    c1, c2, c3 = st.columns(3)
    c1.download_button("Scores (CSV)", pd.DataFrame(rows).to_csv(index=False), f"{name}.csv", "text/csv")
    c2.download_button("Map (JSON)", to_json_text(public(result.to_json())), f"{name}.json", "application/json")
    c3.download_button("Figure (HTML)", lambda: figure_html(fig), f"{name}.html", "text/html")
    st.caption("PNG: use the camera button in the figure's toolbar (top right of the map).")
