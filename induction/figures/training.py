"""The phase change as one figure (a pure function of the dynamics rows, no Streamlit): every head's score, the
training losses and the ICL score against training step, on one axis of steps.

Why one figure with a shared step axis: Olsson et al.'s evidence is that these move together, at the step the
induction heads form; a dashed line marks that step on all three panels. Each checkpoint's points carry
`customdata=[model, step]` (a head's points add [layer, head]), so a click on one can open that checkpoint's map
with the head selected.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from induction.config import head_name

PANELS = ("induction score of every head", "training loss (nats)", "ICL gain (nats), positive when context helps")


def phase_change_figure(rows: list[dict] | dict, *, target: str | None = None, curve: dict | None = None,
                        icl: list[dict] | None = None, appears: dict[int, int | None] | None = None,
                        title: str = "") -> go.Figure:
    """rows: dynamics()'s result or its rows (one seed), each with `scores` [L][H] (target: default the rows' own);
    curve: loss_curve(); icl: icl_series() (drawn as its `gain`: one axis, positive when context helps, for an
    encoder's series and a decoder's alike)."""
    if isinstance(rows, dict):  # dynamics()'s whole result: its rows and the steps the heads appear at
        appears = rows["appears"] if appears is None else appears
        rows = rows["rows"]
    target = target or (rows[0]["target"] if rows and "target" in rows[0] else "score")
    panels = [PANELS[0]] + ([PANELS[1]] if curve else []) + ([PANELS[2]] if icl else [])
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=panels, row_heights=[0.5] + [0.25] * (len(panels) - 1))
    steps = [r["step"] for r in rows]
    points = [[r["model"], r["step"]] for r in rows]
    layers, heads = (len(rows[0]["scores"]), len(rows[0]["scores"][0])) if rows else (0, 0)
    for layer in range(layers):
        for head in range(heads):
            name = head_name(layer, head)
            fig.add_trace(go.Scatter(x=steps, y=[r["scores"][layer][head] for r in rows], mode="lines+markers",
                                     name=name, customdata=[[*p, layer, head] for p in points], legendgroup="heads",
                                     hovertemplate=f"step %{{x}}<br>{name} {target} %{{y:.3f}}<br>click: open this "
                                                   "checkpoint's map<extra></extra>"), row=1, col=1)
    if rows:
        fig.add_trace(go.Scatter(x=steps, y=[r["baseline"] for r in rows], mode="lines", name="uniform baseline",
                                 line=dict(color="#888", dash="dot"), hoverinfo="skip"), row=1, col=1)
    row = 2
    if curve:
        fig.add_trace(go.Scatter(x=curve["step"], y=curve["loss"], mode="lines", name="loss (all targets)",
                                 line=dict(color="#444"), hovertemplate="step %{x}<br>loss %{y:.3f}<extra></extra>"),
                      row=row, col=1)
        fig.add_trace(go.Scatter(x=curve["step"], y=curve["late_loss"], mode="lines", name="late-token loss",
                                 line=dict(color="#d62728"),
                                 hovertemplate="step %{x}<br>late-token loss %{y:.3f}<extra></extra>"), row=row, col=1)
        row += 1
    if icl:
        fig.add_trace(go.Scatter(x=[p["step"] for p in icl], y=[p["gain"] for p in icl], mode="lines+markers",
                                 name="ICL gain", line=dict(color="#8c564b"), customdata=[[p["model"], p["step"]]
                                                                                          for p in icl],
                                 error_y=dict(type="data", array=[p["sem"] for p in icl], visible=True),
                                 hovertemplate="step %{x}<br>ICL gain %{y:.3f}<extra></extra>"), row=row, col=1)
    for seed, step in (appears or {}).items():
        if step is not None:
            fig.add_vline(x=step, line=dict(color="#888", dash="dash"))
            fig.add_annotation(x=step, y=0.97, xref="x", yref="y domain", xanchor="left", yanchor="top",
                               text=f" heads form: step {step}" if len(appears) == 1 else f" seed {seed}: step {step}",
                               showarrow=False)  # inside the top panel, clear of its title
    fig.update_layout(title=title, height=260 + 170 * len(panels), margin=dict(l=60, r=20, t=70, b=40),
                      legend=dict(orientation="h", y=-0.08))
    fig.update_xaxes(title="training step", row=len(panels), col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    return fig
