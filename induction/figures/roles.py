"""Head roles as figures (pure functions of a HeadRoles, no Streamlit): the labelled layers x heads map of roles,
copying against prefix matching, and the composition matrix.

Why square scatter markers for the map, not a heatmap: Streamlit's `on_select` delivers clicks on scatter points only,
and a role is a category, not a number. Each point carries `customdata=[layer, head, ...]` like the induction map's
cells, so the same click handlers open the head.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go

from induction.analyses.roles import COPY_MIN, ROLE_FLOORS, ROLES
from induction.config import SIGNAL_RATIO, head_name
from induction.figures.plots import HIT_SIZE, whole_cells

# the role a cell is coloured by, most specific first; the cell's text lists all of a head's roles
PRIORITY = ("prefix_matching", "duplicate", "previous_token", "next_token", "sink", "local", "copying")
COLOURS = {"prefix_matching": "#d62728", "duplicate": "#ff7f0e", "previous_token": "#1f77b4", "next_token": "#17becf",
           "sink": "#7f7f7f", "local": "#2ca02c", "copying": "#9467bd", "none": "#e6e6e6"}
SHORT = {"prefix_matching": "pm", "duplicate": "dup", "previous_token": "prev", "next_token": "next", "sink": "sink",
         "local": "local", "copying": "copy"}


def _height(layers: int) -> int:
    return int(min(900, max(260, 34 * layers + 120)))


def primary_role(roles: list[str]) -> str:
    """The role a head's cell is coloured by: its most specific one, or 'none'."""
    return next((r for r in PRIORITY if r in roles), "none")


def roles_figure(result, *, selected: Iterable[tuple[int, int]] = (), title: str = "") -> go.Figure:
    """Layers (y, 0 at top) x heads (x): one clickable square a head, coloured by its primary role and labelled with
    every role it has (small maps); hover gives each behavioural score and the copying scores."""
    layers, heads, role_map = result.layers, result.heads, result.role_map()
    height = _height(layers)
    marker = max(8, min(60, int((height - 120) / max(layers, 1) * 0.92)))
    labels = layers * heads <= 96
    fig = go.Figure()
    for role in (*PRIORITY, "none"):
        cells = [(l, h) for l in range(layers) for h in range(heads) if primary_role(role_map[l][h]) == role]
        if not cells:
            continue
        custom = [[l, h, ", ".join(role_map[l][h]) or "none", _hover_scores(result, l, h)] for l, h in cells]
        text = ["<br>".join(SHORT[r] for r in role_map[l][h]) for l, h in cells] if labels else None
        fig.add_trace(go.Scatter(
            x=[h for _, h in cells], y=[l for l, _ in cells], mode="markers+text" if labels else "markers",
            name=role, customdata=custom, text=text, textfont=dict(size=10, color="black"),
            marker=dict(symbol="square", size=marker, color=COLOURS[role], line=dict(width=1, color="white")),
            hoverinfo="skip", selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=1))))
    cells = [(l, h) for l in range(layers) for h in range(heads)]  # on top: a hover or click anywhere in a cell
    fig.add_trace(go.Scatter(
        x=[h for _, h in cells], y=[l for l, _ in cells], mode="markers", name="heads", showlegend=False,
        customdata=[[l, h, ", ".join(role_map[l][h]) or "none", _hover_scores(result, l, h)] for l, h in cells],
        marker=dict(symbol="square", size=HIT_SIZE, opacity=0, color="black"),
        hovertemplate="<b>L%{customdata[0]}H%{customdata[1]}</b>: %{customdata[2]}<br>%{customdata[3]}"
                      "<extra></extra>",
        selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0))))
    for l, h in selected:
        fig.add_shape(type="rect", x0=h - 0.5, x1=h + 0.5, y0=l - 0.5, y1=l + 0.5, line=dict(color="#ff2d55", width=3))
    fig.update_layout(title=title, height=height, margin=dict(l=50, r=20, t=40 if title else 10, b=40),
                      clickmode="event+select", dragmode=False, plot_bgcolor="white", legend_title_text="role")
    fig.update_xaxes(title="head", dtick=1 if heads <= 12 else 2, range=[-0.5, heads - 0.5], showgrid=False,
                     zeroline=False)
    fig.update_yaxes(title="layer", dtick=1 if layers <= 24 else 2, range=[layers - 0.5, -0.5], showgrid=False,
                     zeroline=False)
    return whole_cells(fig)  # a click anywhere in a head's cell


def _hover_scores(result, layer: int, head: int) -> str:
    lines = [f"{r} {result.scores[r][layer, head]:.3f} ± {result.sems[r][layer, head]:.3f} "
             f"(uniform {result.baselines[r]:.3f})" for r in ROLES if r in result.scores]
    if result.copying is not None:
        lines.append(f"OV copying {result.copying[layer, head]:+.2f}")
    if result.copy_logit is not None:
        lines.append(f"copy logit {result.copy_logit[layer, head]:+.3g} ± {result.copy_logit_sem[layer, head]:.2g}")
    return "<br>".join(lines)


def copying_figure(result, *, title: str = "") -> go.Figure:
    """One clickable point a head: prefix matching (x, the induction score) against the OV copying score (y); the
    top-right corner past both thresholds holds the mechanistic induction heads."""
    layers, heads = result.layers, result.heads
    ll, hh = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    x, y = result.prefix_matching.ravel(), result.copying.ravel()
    passed = result.passed()
    both = (passed["prefix_matching"] & passed["copying"]).ravel()
    names = [head_name(l, h) for l, h in zip(ll.ravel(), hh.ravel(), strict=True)]
    custom = np.stack([ll.ravel(), hh.ravel(), x, y], axis=1).tolist()
    fig = go.Figure(go.Scatter(
        x=x.tolist(), y=y.tolist(), mode="markers+text" if len(names) <= 64 else "markers",
        text=names if len(names) <= 64 else None, textposition="top center", customdata=custom,
        marker=dict(size=10, color=[COLOURS["prefix_matching"] if b else "#1f77b4" for b in both]), showlegend=False,
        hovertemplate="<b>L%{customdata[0]}H%{customdata[1]}</b><br>prefix matching %{customdata[2]:.4f}<br>"
                      "OV copying %{customdata[3]:+.3f}<extra></extra>"))
    prefix = max(SIGNAL_RATIO * result.baselines["prefix_matching"], ROLE_FLOORS["prefix_matching"])
    fig.add_vline(x=prefix, line=dict(color="#555", dash="dash"), annotation_text="prefix matching",
                  annotation_position="bottom right")
    fig.add_hline(y=COPY_MIN, line=dict(color="#555", dash="dot"), annotation_text="copying",
                  annotation_position="top left")
    fig.update_layout(title=title, height=420, margin=dict(l=50, r=20, t=40, b=40), clickmode="event+select",
                      dragmode=False)
    fig.update_xaxes(title="prefix matching (attention to the induction target)",
                     range=[-0.05, max(1.0, float(np.nanmax(x)) * 1.05)])
    fig.update_yaxes(title="OV copying score (eigenvalues)", range=[-1.05, 1.05])
    return fig


def composition_figure(result, kind: str, *, title: str = "") -> go.Figure:
    """The [heads x heads] matrix of one composition kind: row = the earlier head whose output is read, column = the
    later head whose key, query or value reads it (blank where the row head is not earlier)."""
    layers, heads = result.layers, result.heads
    n = layers * heads
    z = result.composition[kind].reshape(n, n)
    names = [head_name(l, h) for l in range(layers) for h in range(heads)]
    base = getattr(result, "composition_baseline", None)
    beside = f"<br>random matrices {base['mean']:.4f} ± {base['sd']:.4f}" if base else ""
    fig = go.Figure(go.Heatmap(z=z, x=names, y=names, colorscale="Viridis", zmin=0, colorbar=dict(title=kind),
                               hovertemplate=f"%{{y}} → %{{x}}<br>{kind}-composition %{{z:.4f}}{beside}"
                                             "<extra></extra>"))
    fig.update_layout(title=title, height=int(min(900, max(320, 14 * n + 140))), margin=dict(l=60, r=20, t=40, b=60))
    fig.update_xaxes(title="later head (reads)", tickangle=-90, showticklabels=n <= 64)
    fig.update_yaxes(title="earlier head (writes)", autorange="reversed", showticklabels=n <= 64)
    return fig


def mechanism_figure(result, *, title: str = "") -> go.Figure:
    """A MechanismSeries against training step: the induction head's prefix-matching score and OV copying score
    (left axis, both in [-1, 1]), and the K-composition from each previous-token head into it with the random
    baseline's band (right axis): the mechanism forming beside the score (Olsson et al. 2022)."""
    from plotly.subplots import make_subplots

    steps = [r["step"] for r in result.rows]
    head = head_name(*result.induction_head)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=steps, y=[r["prefix_matching"] for r in result.rows], mode="lines+markers",
                             name=f"{head} prefix matching"), secondary_y=False)
    fig.add_trace(go.Scatter(x=steps, y=[r["copying"] for r in result.rows], mode="lines+markers",
                             name=f"{head} OV copying", line=dict(dash="dot")), secondary_y=False)
    for i, source in enumerate(result.previous_token_heads):
        name = head_name(*source)
        fig.add_trace(go.Scatter(x=steps, y=[r["k_composition"][i]["K"] for r in result.rows], mode="lines+markers",
                                 name=f"K-composition {name} → {head}"), secondary_y=True)
    if result.random_mean is not None:
        fig.add_trace(go.Scatter(x=[steps[0], steps[-1]], y=[result.strong_above] * 2, mode="lines",
                                 line=dict(color="grey", dash="dash"), name="random matrices: mean + 3 sd"),
                      secondary_y=True)
    if result.appears is not None:
        fig.add_vline(x=result.appears, line=dict(color="grey", dash="dot"))
    fig.update_layout(title=title, height=420, margin=dict(l=60, r=60, t=50, b=50), legend=dict(orientation="h"))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="prefix matching, OV copying", range=[-1.05, 1.05], secondary_y=False)
    fig.update_yaxes(title="K-composition", rangemode="tozero", secondary_y=True)
    return fig
