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


FAMILY_NAMES = {"encoder": "encoder (masked LM)", "causal": "decoder (next token)"}
READING_SYMBOLS = {"mask_query": "circle", "every_token": "square", "last_token": "diamond"}


def depth_figure(result, *, title: str = "") -> go.Figure:
    """Relative depth, (layer + 1) / layers, of each depth series' strongest head against its number of layers:
    one marker per reading (an encoder's [MASK], every second-copy token, the last token), solid lines for each
    family's own reading, and the study's BERT sizes (their best `prev` head) beside them; 1.0 is the last layer."""
    from induction.analyses.depth import READING_NAMES

    fig = go.Figure()
    for kind, colour in (("encoder", "#1f77b4"), ("causal", "#d62728")):
        rows = sorted((r for r in result.rows if r["kind"] == kind), key=lambda r: r["layers"])
        if not rows:
            continue
        own = "mask_query" if kind == "encoder" else "every_token"
        for reading in READING_SYMBOLS:
            picks = [(r["layers"], r["readings"][reading], r["series"]) for r in rows if reading in r["readings"]]
            if not picks:
                continue
            fig.add_trace(go.Scatter(
                x=[p[0] for p in picks], y=[p[1]["relative_depth"] for p in picks],
                mode="lines+markers" if reading == own else "markers",
                line=dict(color=colour, dash="solid" if reading == own else "dot"),
                marker=dict(symbol=READING_SYMBOLS[reading], size=11 if reading == own else 8, color=colour),
                name=f"{FAMILY_NAMES[kind]}: {READING_NAMES[reading]}",
                customdata=[[p[2], p[1]["name"], p[1]["score"]] for p in picks],
                hovertemplate="%{customdata[0]}: %{customdata[1]} (%{customdata[2]:.2f}) at relative depth "
                              "%{y:.2f}<extra></extra>"))
    study = [r for r in result.study if r["name"]]
    fig.add_trace(go.Scatter(x=[r["layers"] for r in study], y=[r["relative_depth"] for r in study],
                             mode="lines+markers", line=dict(color="#555", dash="dash"),
                             marker=dict(symbol="x", size=10, color="#555"), name="BERT (the study): best prev head",
                             customdata=[[r["model"], r["name"], r["score"]] for r in study],
                             hovertemplate="%{customdata[0]}: %{customdata[1]} (%{customdata[2]:.2f}) at relative "
                                           "depth %{y:.2f}<extra></extra>"))
    fig.update_layout(title=title, height=420, margin=dict(l=50, r=20, t=40, b=40), legend=dict(font=dict(size=11)))
    fig.update_xaxes(title="layers", type="log", tickvals=sorted({*(r["layers"] for r in result.rows),
                                                                  *(r["layers"] for r in result.study)}))
    fig.update_yaxes(title="relative depth of the strongest head ((layer + 1) / layers)", range=[0, 1.05])
    return fig


def depth_curves_figure(rows: list[dict], *, title: str = "") -> go.Figure:
    """Every depth series' best head against training step on one axis, the formation step of each marked
    (a hollow marker on its curve)."""
    fig = go.Figure()
    for r in rows:
        colour = "#1f77b4" if r["kind"] == "encoder" else "#d62728"
        dash = {2: "dot", 4: "dash"}.get(r["layers"], "solid")
        steps, best = [p["step"] for p in r["formation_curve"]], [p["score"] for p in r["formation_curve"]]
        fig.add_trace(go.Scatter(x=steps, y=best, mode="lines+markers", line=dict(color=colour, dash=dash),
                                 name=f"{r['series']} ({r['target']})",
                                 customdata=[p["name"] for p in r["formation_curve"]],
                                 hovertemplate=f"{r['series']}: step %{{x}}, best %{{customdata}} %{{y:.3f}}"
                                               "<extra></extra>"))
        if r["forms_at"] is not None:
            at = steps.index(r["forms_at"])
            fig.add_trace(go.Scatter(x=[steps[at]], y=[best[at]], mode="markers", showlegend=False,
                                     marker=dict(symbol="circle-open", size=16, color=colour, line=dict(width=2)),
                                     hovertemplate=f"{r['series']} forms at step %{{x}}<extra></extra>"))
    fig.update_layout(title=title, height=420, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="best head's score (each kind's own target)", rangemode="tozero")
    return fig
