"""Plotly figures as pure functions of library results (no Streamlit here).

Why a heatmap with an invisible scatter on top: Streamlit's `on_select` delivers
no clicks for heatmap cells, but does for scatter points. The heatmap draws the
colours; one transparent square marker per (layer, head), carrying
`customdata=[layer, head, score, sem]` as plain lists, takes hover and clicks
anywhere in its cell (`whole_cells`).
The selected head is drawn as a rectangle, never fed back as `selectedpoints`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import plotly.graph_objects as go

from induction.config import OFFSETS, SIGNAL_RATIO

MAP_COLORS = "Viridis"
TOKEN_HOVER_MAX = 160
CHIP_CHARS = 5  # a token chip holds five monospace characters; longer pieces are cut, whole on hover
DIFF_COLORS = "RdBu_r"
_HOVER = "<b>L%{customdata[0]}H%{customdata[1]}</b><br>layer %{customdata[0]}, head %{customdata[1]}<br>" \
         "VALUE %{customdata[2]:.4f} ± %{customdata[3]:.4f}<extra></extra>"


def score_text(value: float) -> str:
    """A score as a page prints it: two decimals when they can be read, else four, so a panel of small scores
    never reads "best 0.00" (and an exact zero reads 0)."""
    value = float(value)
    if value == 0.0:
        return "0"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.4f}"


def ratio_text(ratio: float) -> str:
    """A multiple of the uniform baseline: '30.3x', or '0.03x' below one (never a bare '0.0x')."""
    return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x"


def best_text(name: str, score: float, ratio: float) -> str:
    """A panel's best head, or that it has none: a head below SIGNAL_RATIO x uniform is not called best."""
    if ratio < SIGNAL_RATIO:
        return f"no head above {SIGNAL_RATIO:g}x uniform (top {name} {score_text(score)})"
    return f"best {name} {score_text(score)} ({ratio_text(ratio)})"


HIT_SIZE = 4  # px: the invisible markers that take a map's hovers and clicks (see `whole_cells`)


def whole_cells(fig: go.Figure) -> go.Figure:
    """Hovers and clicks anywhere in a cell, not only on its centre's marker: with no hover cutoff, Plotly hovers the
    point whose centre is nearest the cursor, which on a regular grid is the cell under it. The markers stay small
    (HIT_SIZE): Plotly scores every marker that covers the cursor alike and takes the last, so markers as large as
    their cells would hand a cell's edge to its neighbour."""
    return fig.update_layout(hoverdistance=-1)


def _height(layers: int) -> int:
    return int(min(900, max(260, 26 * layers + 110)))


def decimals(zmin: float | None, zmax: float | None, z: np.ndarray) -> int:
    """Decimal places that tell a scale's colours apart: two on 0..1, more on a narrow rescaled range (cells
    0.0008 and 0.0026 must not both read "0.00")."""
    finite = z[np.isfinite(z)]
    low = zmin if zmin is not None else float(finite.min()) if finite.size else 0.0
    high = zmax if zmax is not None else float(finite.max()) if finite.size else 1.0
    span = abs(high - low)
    return int(min(6, max(2, np.ceil(-np.log10(span)) + 2))) if span > 0 else 2


def map_figure(mean, sem: np.ndarray | None = None, *, title: str = "", zmin: float | None = 0.0,
               zmax: float | None = 1.0, colorscale: str = MAP_COLORS, zmid: float | None = None,
               selected: Iterable[tuple[int, int]] = (), ablated: Iterable[tuple[int, int]] = (),
               colorbar_title: str = "score", value_name: str = "score", baseline: float | None = None,
               values: bool | None = None, target: str | None = None, narrow: bool = False) -> go.Figure:
    """Layers (y, 0 at top) x heads (x) heatmap with clickable cells; `baseline` is marked on the colour bar,
    and small maps (or `values=True`) show each cell's value; `narrow`: a panel a quarter of the page wide, whose
    head axis labels every third head from 7 heads on (twelve labels there ran together).

    `mean`: a [L, H] array (with `sem`), or a result with per-head scores (an InductionMap or a TextMap), drawn at
    `target` (default its first) with its standard errors, baseline and a title that says the run."""
    if hasattr(mean, "stats"):  # a result object: `map_figure(result)` as a notebook writes it
        result = mean
        target = target or result.targets[0]
        mean, sem = result.stats(target)
        baseline = result.baseline if baseline is None else baseline
        config = getattr(result, "config", None)
        title = title or " · ".join(str(p) for p in (getattr(config, "model", ""), getattr(config, "setup", None),
                                                      target, f"{result.trials} trials") if p)
    layers, heads = mean.shape
    z = np.asarray(mean, dtype=float).copy()
    hover = _HOVER if sem is not None else _HOVER.replace(" ± %{customdata[3]:.4f}", "")  # no "± 0.0000"
    sem = np.zeros_like(z) if sem is None else np.asarray(sem, dtype=float)
    ablated = set(map(tuple, ablated))
    for l, h in ablated:
        z[l, h] = np.nan  # an ablated head has no score: drawn grey, marked with a cross
    ll, hh = np.meshgrid(np.arange(layers), np.arange(heads), indexing="ij")
    custom = np.stack([ll.ravel(), hh.ravel(), np.nan_to_num(z.ravel()), sem.ravel()], axis=1).tolist()
    height = _height(layers)
    marker = max(6, min(40, int((height - 110) / max(layers, 1) * 0.9)))  # the ablated cross's size
    fig = go.Figure()
    places = decimals(zmin, zmax, z)
    colorbar = dict(title=colorbar_title, tickformat=f".{places}f")  # plain decimals: never "800μ" or "0.00101"
    if baseline is not None and zmin is not None and zmax is not None and zmin <= baseline <= zmax:
        ticks = [float(v) for v in np.linspace(zmin, zmax, 5)]
        ticks = [v for v in ticks if abs(v - baseline) > (zmax - zmin) / 8]  # the baseline's tick replaces a close one
        colorbar.update(tickvals=[*ticks, baseline],
                        ticktext=[f"{v:.{places}f}" for v in ticks] + [f"— uniform {baseline:.{places}f}"])
    show_values = layers * heads <= 64 if values is None else values
    fig.add_trace(go.Heatmap(z=z, x=list(range(heads)), y=list(range(layers)), zmin=zmin, zmax=zmax, zmid=zmid,
                             colorscale=colorscale, hoverinfo="skip", xgap=1, ygap=1, colorbar=colorbar,
                             texttemplate=f"%{{z:.{places}f}}" if show_values else None))
    fig.add_trace(go.Scatter(
        x=hh.ravel().tolist(), y=ll.ravel().tolist(), mode="markers", customdata=custom,
        hovertemplate=hover.replace("VALUE", value_name),
        marker=dict(symbol="square", size=HIT_SIZE, opacity=0, color="black"), showlegend=False, name="heads",
        selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)),
    ))
    if ablated:
        fig.add_trace(go.Scatter(x=[h for _, h in ablated], y=[l for l, _ in ablated], mode="markers",
                                 marker=dict(symbol="x-thin", size=marker * 0.6, line=dict(width=2, color="#555")),
                                 hoverinfo="skip", showlegend=False, name="ablated"))
    for l, h in selected:
        fig.add_shape(type="rect", x0=h - 0.5, x1=h + 0.5, y0=l - 0.5, y1=l + 0.5, name="selected",
                      line=dict(color="#ff2d55", width=3))  # named: an export for a paper leaves it out
    # the toolbar stands upright at the right so it never covers the title; wide maps label every other head
    fig.update_layout(title=title, height=height, margin=dict(l=50, r=20, t=40 if title else 10, b=40),
                      clickmode="event+select", dragmode=False, plot_bgcolor="#d9d9d9",
                      modebar=dict(orientation="v"))
    whole_cells(fig)
    dtick = (1 if heads <= 6 else 3) if narrow else 1 if heads <= 12 else 2
    fig.update_xaxes(title="head", dtick=dtick, tickangle=0, range=[-0.5, heads - 0.5],
                     showgrid=False, zeroline=False)
    fig.update_yaxes(title="layer", dtick=1 if layers <= 24 else 2, range=[layers - 0.5, -0.5], showgrid=False,
                     zeroline=False)
    return fig


def diff_figure(diff: np.ndarray, sem: np.ndarray | None = None, *, title: str = "",
                ablated: Iterable[tuple[int, int]] = ()) -> go.Figure:
    """Ablated minus clean, diverging colours centred at 0 (ablated heads, which have no score, excluded);
    `sem`: the standard error of each head's change, shown on hover."""
    diff = np.asarray(diff, dtype=float).copy()
    ablated = list(ablated)
    for l, h in ablated:
        diff[l, h] = np.nan
    finite = np.abs(diff[np.isfinite(diff)])
    bound = float(max(finite.max() if finite.size else 0.0, 1e-3))
    return map_figure(diff, sem, title=title, zmin=-bound, zmax=bound, zmid=None, colorscale=DIFF_COLORS,
                      ablated=ablated, colorbar_title="Δ score", value_name="change")


def effect_figure(effect, sem: np.ndarray | None = None, *, title: str = "",
                  ablated: Iterable[tuple[int, int]] = ()) -> go.Figure:
    """Per-head effect on the loss, diverging colours centred at 0 (clickable like the map); a head `ablated`
    before every run has no effect of its own: crossed out, as on the Ablation page. `effect`: a [L, H] array (with
    `sem`) or an EffectsResult (its effects, standard errors and paired head)."""
    if hasattr(effect, "effect_sem"):  # an EffectsResult
        result = effect
        effect, sem = result.effect, result.effect_sem
        ablated = [result.pairs_with] if result.pairs_with else ablated
        title = title or f"{result.config.model} · effect of each head on the loss ({result.trials} trials)"
    ablated = list(ablated)
    rest = np.asarray(effect, dtype=float).copy()
    for l, h in ablated:
        rest[l, h] = np.nan
    bound = float(max(np.nanmax(np.abs(rest)) if np.isfinite(rest).any() else 0.0, 1e-3))
    return map_figure(effect, sem, title=title, zmin=-bound, zmax=bound, colorscale=DIFF_COLORS,
                      colorbar_title="Δ loss", value_name="effect", ablated=ablated)


def attention_vs_effect(score: np.ndarray, effect: np.ndarray, sem: np.ndarray, *, baseline: float,
                        used: float, title: str = "", loss: str = "masked-token loss",
                        ablated: Iterable[tuple[int, int]] = ()) -> go.Figure:
    """One labelled point per head: attention score (x) against effect on the `loss` (y), with the lines that
    split heads that attend (x >= 3 x baseline) from those that do not, and used heads (y >= `used`). A head
    `ablated` before every run has no effect to plot: a grey cross at its attention, on the x axis, so it is
    not read as "attends, not used"."""
    layers, heads = score.shape
    ablated = set(map(tuple, ablated))
    keep = [(l, h) for l in range(layers) for h in range(heads) if (l, h) not in ablated]
    ll, hh = np.array([l for l, _ in keep], dtype=int), np.array([h for _, h in keep], dtype=int)
    names = [f"L{l}H{h}" for l, h in keep]
    custom = np.stack([ll, hh, score[ll, hh], effect[ll, hh], sem[ll, hh]], axis=1).tolist()
    fig = go.Figure(go.Scatter(
        x=score[ll, hh].tolist(), y=effect[ll, hh].tolist(), mode="markers+text", text=names,
        textposition="top center", customdata=custom, marker=dict(size=10, color="#1f77b4"),
        error_y=dict(type="data", array=sem[ll, hh].tolist(), visible=True, thickness=1),
        hovertemplate="<b>L%{customdata[0]}H%{customdata[1]}</b><br>attention %{customdata[2]:.4f}<br>"
                      "effect %{customdata[3]:+.4f} ± %{customdata[4]:.4f}<extra></extra>", showlegend=False))
    if ablated:
        gone = sorted(ablated)
        fig.add_trace(go.Scatter(
            x=[float(score[l, h]) for l, h in gone], y=[0.0] * len(gone), mode="markers+text",
            text=[f"L{l}H{h} (ablated)" for l, h in gone], textposition="bottom center", name="ablated first",
            marker=dict(symbol="x-thin", size=12, line=dict(width=2, color="#555")), showlegend=False,
            hovertemplate="<b>%{text}</b><br>attention %{x:.4f}<br>ablated in every run: no effect of its own"
                          "<extra></extra>"))
    attends = SIGNAL_RATIO * baseline
    fig.add_vline(x=attends, line=dict(color="#555", dash="dash"), annotation_text=f"{SIGNAL_RATIO:g}x uniform",
                  annotation_position="top right")
    fig.add_hline(y=used, line=dict(color="#555", dash="dot"), annotation_text="used",
                  annotation_position="top left")
    xmax = max(float(score.max()), attends) * 1.05
    fig.add_annotation(x=xmax, y=min(float(effect.min()), 0.0), text="attends, not used", showarrow=False,
                       xanchor="right", yanchor="bottom", font=dict(color="#a33"))
    fig.update_layout(title=title, height=420, margin=dict(l=50, r=20, t=40, b=40), clickmode="event+select",
                      dragmode=False)
    fig.update_xaxes(title="attention score (induction map)")
    fig.update_yaxes(title=f"effect on the {loss} (nats)")
    return fig


def row_figure(detail, *, title: str = "") -> go.Figure:
    """The [MASK]'s attention over every position, targets marked, tokens on hover."""
    positions = list(range(len(detail.row)))
    colors = ["#9aa5b1"] * len(positions)
    for pos in detail.target_index.values():
        colors[pos] = "#ff7f0e"
    colors[detail.mask_index] = "#d62728"
    fig = go.Figure(go.Bar(x=positions, y=detail.row.tolist(), marker_color=colors,
                           customdata=[[t, o] for t, o in zip(detail.tokens, detail.original_tokens, strict=True)],
                           hovertemplate="position %{x}<br>token %{customdata[0]} (%{customdata[1]})"
                                         "<br>attention %{y:.4f}<extra></extra>"))
    marks = sorted([*detail.target_index.items(), (detail.query_label, detail.mask_index)], key=lambda m: m[1])
    top = float(max(detail.row.max(), 1e-9))
    for i, (name, pos) in enumerate(marks):  # left to right, alternately high and low: neighbours never overlap
        token = str(detail.tokens[pos])[:12]
        fig.add_annotation(x=pos, y=float(detail.row[pos]), text=name if token == name else f"{name}: {token}",
                           showarrow=True, arrowhead=2, ax=0, ay=-(22 + 26 * (i % 3)), font=dict(size=11),
                           bgcolor="rgba(255,255,255,0.8)")
    shown = sorted({*(p for _, p in marks), *np.argsort(detail.row)[-6:].tolist()})  # marked and most attended
    fig.update_layout(title=title, height=320, margin=dict(l=50, r=20, t=40, b=70), bargap=0)
    fig.update_xaxes(title="key position (token)", tickvals=shown, tickangle=-45,
                     ticktext=[f"{p} {str(detail.tokens[p])[:10]}" for p in shown])
    fig.update_yaxes(title="attention", range=[0, top * 1.5])
    return fig


def row_label(query_label: str) -> str:
    """ "[MASK] query row", or "query row" for a setup that masks nothing (never "query query row")."""
    return "query row" if query_label == "query" else f"{query_label} query row"


def pattern_figure(detail, *, title: str = "") -> go.Figure:
    """Full query x key pattern of one head on one trial (zoom with the mouse)."""
    seq = len(detail.tokens)
    if seq <= TOKEN_HOVER_MAX:  # tokens on hover; for long sequences the grid of labels would be megabytes
        custom = [[[detail.tokens[q], detail.tokens[k]] for k in range(seq)] for q in range(seq)]
        hover = "query %{y} %{customdata[0]} → key %{x} %{customdata[1]}<br>attention %{z:.4f}<extra></extra>"
    else:
        custom, hover = None, "query %{y} → key %{x}<br>attention %{z:.4f}<extra></extra>"
    fig = go.Figure(go.Heatmap(z=detail.pattern, colorscale="Blues", zmin=0, customdata=custom,
                               hovertemplate=hover))
    fig.add_hline(y=detail.mask_index, line=dict(color="#d62728", width=1, dash="dot"),
                  annotation_text=row_label(detail.query_label), annotation_position="top right")
    fig.update_layout(title=title, height=560, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title="key position", range=[-0.5, seq - 0.5], constrain="domain")
    fig.update_yaxes(title="query position", range=[seq - 0.5, -0.5], constrain="domain")
    return fig


def distribution_figure(values, *, baseline: float, title: str = "",
                        x_title: str = "score (attention to target)", line_label: str = "uniform") -> go.Figure:
    """Values across trials (a head's score, by default) with a reference line (the uniform baseline).
    `values`: one array, or name -> array to overlay several heads."""
    series = values if isinstance(values, dict) else {"": values}
    fig = go.Figure()
    finite = [np.asarray(v, dtype=float)[np.isfinite(np.asarray(v, dtype=float))] for v in series.values()]
    low = min([baseline, *(float(v.min()) for v in finite if v.size)])
    high = max([baseline, *(float(v.max()) for v in finite if v.size)])
    size = (high - low) / 30 or 1e-6  # 30 bins across the data and the line: bars as wide as the axis shows them
    for name, v in series.items():
        fig.add_trace(go.Histogram(x=np.asarray(v).tolist(), xbins=dict(start=low, end=high + size, size=size),
                                   name=name, opacity=0.6 if name else 1.0,
                                   hovertemplate=f"{name} %{{x}}<br>%{{y}} trials<extra></extra>"))
    fig.update_layout(barmode="overlay", showlegend=len(series) > 1)
    fig.add_vline(x=baseline, line=dict(color="#555", dash="dash"), annotation_text=line_label)
    fig.update_layout(title=title, height=280, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="trials")
    return fig


def offset_figure(profile, *, baseline: float, title: str = "",
                  x_title: str = "offset from the previous instance") -> go.Figure:
    """Mean attention at previous-instance + k, k in -5..+5; `profile`: one array, or name -> array."""
    series = profile if isinstance(profile, dict) else {"": profile}
    fig = go.Figure()
    for name, p in series.items():
        fig.add_trace(go.Bar(x=list(OFFSETS), y=np.nan_to_num(p).tolist(), name=name,
                             hovertemplate=f"{name} offset %{{x:+d}}<br>attention %{{y:.4f}}<extra></extra>"))
    fig.update_layout(barmode="group", showlegend=len(series) > 1)
    fig.add_hline(y=baseline, line=dict(color="#555", dash="dash"), annotation_text="uniform",
                  annotation_position="top right")
    fig.update_layout(title=title, height=280, margin=dict(l=50, r=20, t=40, b=40))
    # every other offset labelled: eleven ticks crowd a half-width panel at 800 pixels
    fig.update_xaxes(title=x_title, tickvals=list(OFFSETS)[::2], tickfont=dict(size=10))
    fig.update_yaxes(title="attention", rangemode="tozero")
    return fig


def curve_figure(x: Sequence[float], series: dict[str, tuple[Sequence[float], Sequence[float]]], *,
                 x_title: str, y_title: str, title: str = "", x_dtick: float | None = None) -> go.Figure:
    """Lines with error bars: name -> (values, errors)."""
    fig = go.Figure()
    for name, (y, err) in series.items():
        fig.add_trace(go.Scatter(x=list(x), y=list(y), name=name, mode="lines+markers",
                                 error_y=dict(type="data", array=list(err), visible=True)))
    fig.update_layout(title=title, height=320, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title=x_title, dtick=x_dtick)
    fig.update_yaxes(title=y_title)
    return fig



def dynamics_figure(rows: list[dict], appears: dict[int, int | None], *, head_name: str | None,
                    title: str = "") -> go.Figure:
    """Score against training step, one line per training seed: the best head (solid) and the chosen head
    (dotted); a dashed line marks the step at which each seed's induction heads appear."""
    fig = go.Figure()
    for seed in sorted({r["seed"] for r in rows}):
        mine = [r for r in rows if r["seed"] == seed]
        steps = [r["step"] for r in mine]
        fig.add_trace(go.Scatter(x=steps, y=[r["best"] for r in mine], mode="lines+markers", name=f"seed {seed}: best",
                                 customdata=[r["best_head"] for r in mine],
                                 hovertemplate="step %{x}<br>best head %{customdata} %{y:.4f}<extra></extra>"))
        if head_name and any(r["head"] is not None for r in mine):
            fig.add_trace(go.Scatter(x=steps, y=[r["head"] for r in mine], mode="lines+markers", line=dict(dash="dot"),
                                     name=f"seed {seed}: {head_name}"))
        if appears.get(seed) is not None:
            fig.add_vline(x=appears[seed], line=dict(color="#888", dash="dash"),
                          annotation_text=f"seed {seed}: heads appear", annotation_position="top left")
    fig.update_layout(title=title, height=380, margin=dict(l=50, r=20, t=40, b=40))
    fig.update_xaxes(title="training step")
    fig.update_yaxes(title="induction score", rangemode="tozero")
    return fig


def cross_figure(cross: np.ndarray, *, title: str = "") -> go.Figure:
    """[K, K] attention of one head from mask i (rows) to the earlier instance of mask j's token (columns)."""
    k = cross.shape[0]
    labels = [f"mask {i + 1}" for i in range(k)]
    places = decimals(0.0, None, np.asarray(cross, dtype=float))  # values of 0.002-0.004 must not read 0.00
    fig = go.Figure(go.Heatmap(z=cross, x=labels, y=labels, colorscale=MAP_COLORS, zmin=0,
                               texttemplate=f"%{{z:.{places}f}}",
                               colorbar=dict(title="attention", tickformat=f".{places}f"),
                               hovertemplate="from %{y} to the earlier instance of %{x}: %{z:.4f}<extra></extra>"))
    fig.update_layout(title=title, height=140 + 45 * k, margin=dict(l=60, r=20, t=40, b=40))
    fig.update_xaxes(title="earlier instance of")
    fig.update_yaxes(title="from", autorange="reversed")
    return fig


def tokens_figure(windows: list[list[str]], occurrences: list[dict], selected: int | None, *,
                  per_row: int = 16, most: int = 640) -> go.Figure:
    """The text's tokens as clickable chips (a scatter of squares: Streamlit reports clicks on points):
    repeated tokens orange (a click masks that occurrence), their earlier occurrences light orange, the
    masked one red. customdata = [occurrence index or -1, window, position]."""
    index = {(o["window"], o["position"]): k for k, o in enumerate(occurrences)}
    earlier = {(o["window"], o["earlier"]) for o in occurrences}
    chosen = (occurrences[selected]["window"], occurrences[selected]["position"]) if selected is not None else None
    cells = [(w, i, "?" if t is None else str(t)) for w, window in enumerate(windows)
             for i, t in enumerate(window)][:most]
    colours = ["#d62728" if (w, i) == chosen else "#ff9f40" if (w, i) in index else "#ffd9a8" if (w, i) in earlier
               else "#ececec" for w, i, _ in cells]
    ink = ["white" if (w, i) == chosen else "#222" for w, i, _ in cells]  # the masked chip: white on red
    fig = go.Figure(go.Scatter(
        x=[n % per_row for n in range(len(cells))], y=[n // per_row for n in range(len(cells))], mode="markers+text",
        text=[t if len(t) <= CHIP_CHARS else t[:CHIP_CHARS - 1] + "…" for _, _, t in cells],  # fits its chip
        textfont=dict(size=11, family="monospace", color=ink),
        marker=dict(symbol="square", size=34, color=colours, line=dict(width=0)),
        customdata=[[index.get((w, i), -1), w, i, t] for w, i, t in cells], showlegend=False,
        hovertemplate="window %{customdata[1]}, position %{customdata[2]}: %{customdata[3]}<extra></extra>"))
    rows = max(1, -(-len(cells) // per_row))
    fig.update_layout(height=40 + 30 * rows, margin=dict(l=10, r=10, t=10, b=10), dragmode=False,
                      clickmode="event+select", plot_bgcolor="white")
    fig.update_xaxes(visible=False, range=[-0.6, per_row - 0.4])
    fig.update_yaxes(visible=False, range=[rows - 0.5, -0.5])
    return fig


def compare_figure(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str], zmin: float, zmax: float,
                   diff: np.ndarray | None = None) -> go.Figure:
    """A and B on one colour scale (and B - A on a diverging one when the shapes match), in one figure: what a
    paper prints of a comparison (the page shows the panels apart, each clickable)."""
    from plotly.subplots import make_subplots

    panels = [(a, "A"), (b, "B")] + ([(diff, "B − A")] if diff is not None else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[1] for p in panels], horizontal_spacing=0.07)
    for col, (z, _) in enumerate(panels, start=1):
        is_diff = diff is not None and col == 3
        fig.add_trace(go.Heatmap(z=np.asarray(z).tolist(), coloraxis="coloraxis2" if is_diff else "coloraxis",
                                 xgap=1, ygap=1, hovertemplate="layer %{y}, head %{x}: %{z:.4f}<extra></extra>"),
                      row=1, col=col)
        fig.update_yaxes(autorange="reversed", title="layer" if col == 1 else None,
                         dtick=1 if z.shape[0] <= 24 else 2, row=1, col=col)
        fig.update_xaxes(title="head", dtick=1 if z.shape[1] <= 12 else 2, row=1, col=col)
    if diff is not None:
        bound = float(max(np.nanmax(np.abs(diff)), 1e-3))
        fig.update_layout(coloraxis2=dict(colorscale=DIFF_COLORS, cmin=-bound, cmax=bound,
                                          colorbar=dict(title="B − A", x=1.1, len=0.9)))
    names_note = dict(text=f"A = {names[0]}<br>B = {names[1]}", xref="paper", yref="paper", x=0, y=1.12,
                      xanchor="left", yanchor="bottom", showarrow=False, align="left", font=dict(size=12))
    fig.update_layout(coloraxis=dict(colorscale=MAP_COLORS, cmin=zmin, cmax=zmax,
                                     colorbar=dict(title="score", x=1.01, len=0.9)),
                      height=_height(max(a.shape[0], b.shape[0])) + 60, width=400 * len(panels) + 160,
                      margin=dict(l=50, r=140, t=110, b=40), plot_bgcolor="#d9d9d9",
                      annotations=[*fig.layout.annotations, names_note])
    return fig


def sweep_figure(rows: list[dict], *, loss: str, title: str = "") -> go.Figure:
    """The cumulative ablation sweep: the loss (nats, left axis) and the best remaining head's attention score
    (right axis) against k, apart because they are different units; each tick names the head added at that k
    and the hover every head ablated."""
    from plotly.subplots import make_subplots

    fig = make_subplots(specs=[[{"secondary_y": True}]])
    ks = [r["k"] for r in rows]
    ablated = [", ".join(r["ablated"]) for r in rows]
    if any(r.get("loss") is not None for r in rows):
        fig.add_trace(go.Scatter(x=ks, y=[r.get("loss") for r in rows], name=f"{loss} (nats)", mode="lines+markers",
                                 customdata=ablated, hovertemplate=f"k=%{{x}}: {loss} %{{y:.3f}} nats<br>ablated: "
                                                                   "%{customdata}<extra></extra>"), secondary_y=False)
    fig.add_trace(go.Scatter(x=ks, y=[r["best_remaining_score"] for r in rows], name="best remaining head's score",
                             mode="lines+markers", line=dict(dash="dot"),
                             customdata=[[a, r["best_remaining"]] for a, r in zip(ablated, rows, strict=True)],
                             hovertemplate="k=%{x}: best remaining %{customdata[1]} %{y:.4f}<br>ablated: "
                                           "%{customdata[0]}<extra></extra>"), secondary_y=True)
    fig.update_layout(title=title, height=340, margin=dict(l=50, r=50, t=40, b=60),
                      legend=dict(orientation="h", y=-0.35))
    fig.update_xaxes(title="heads ablated (top k; the tick names the head added)", tickvals=ks,
                     ticktext=[f"{r['k']}: +{r['ablated'][-1]}" for r in rows])
    fig.update_yaxes(title=f"{loss} (nats)", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title="attention score", secondary_y=True, rangemode="tozero")
    return fig
