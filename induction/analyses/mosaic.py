"""The mosaic: one small induction map per model, encoders and decoders side by side, on one scale.

Why: the Induction Mosaic compares about 40 decoders and the study compares BERT sizes; neither shows
encoders beside decoders. With the `repeat` setup both kinds are scored the same way (every token of
a repeated segment a query), so one figure can hold them: a row per model, grouped by family and
sorted by size, the layer axis as relative depth (0 to 1) so models of different depth line up, and
one colour scale. Maps come from the cache: drawing the mosaic never runs a model (`compute=True`,
the CLI's `--compute`, fills in what is missing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from induction.config import InductionError, MapConfig, check_target
from induction.models.registry import DEPTH_MODELS

# The offline known answers, the models trained here (the depth series too) and real weights, then BERT's sizes
# beside GPT-2, Pythia and OPT.
MOSAIC_MODELS = ("toy", "toy-gpt", "trained-gpt", "trained-bert", *DEPTH_MODELS, "minilm", "tiny", "small", "medium",
                 "base", "large", "gpt2", "gpt2-medium", "pythia-70m", "pythia-160m", "pythia-410m", "opt-125m")
MOSAIC_SETUP, MOSAIC_TARGET = "repeat", "induction"


@dataclass(frozen=True)
class Tile:
    """One model's row of the mosaic."""

    model: str
    family: str  # transformers' model_type: bert, gpt2, gpt_neox, ...
    kind: str  # encoder or causal
    size: int  # parameters of the attention and feed-forward blocks, estimated from the config (for sorting)
    mean: np.ndarray  # [L, H] the target's mean score
    baseline: float
    trials: int

    @property
    def layers(self) -> int:
        return int(self.mean.shape[0])

    @property
    def heads(self) -> int:
        return int(self.mean.shape[1])

    @property
    def best(self) -> tuple[int, int, float]:
        layer, head = np.unravel_index(int(np.argmax(self.mean)), self.mean.shape)
        return int(layer), int(head), float(self.mean[layer, head])


def block_parameters(config) -> int:
    """About 12 x layers x hidden^2: what orders models of a family by size without loading weights."""
    hidden = int(getattr(config, "hidden_size", 0) or 0)
    return 12 * int(config.num_hidden_layers) * hidden * hidden


def tile(config: MapConfig, target: str, *, compute: bool = False, progress=None) -> Tile:
    """The model's tile from its cached map (computed only when `compute`); an InductionError says why not."""
    from induction.engine import cached_map, compute_map
    from induction.runs import resolve_run

    check_target(config.setup, target)
    run = resolve_run(config)
    result = compute_map(run, progress=progress) if compute else cached_map(run)
    if result is None:
        raise InductionError(f"no cached {config.setup} map of {config.model!r} ({config.trials} trials, seed "
                             f"{config.seed}): run `python -m induction map --model {config.model} --setup "
                             f"{config.setup} --trials {config.trials}` or open its map once")
    return Tile(model=config.model, family=str(run.info.config.model_type), kind=run.info.kind,
                size=block_parameters(run.info.config), mean=result.mean(target), baseline=result.baseline,
                trials=result.trials)


def collect(models, *, setup: str = MOSAIC_SETUP, target: str = MOSAIC_TARGET, trials: int = 50, seed: int = 0,
            compute_missing: bool = False, progress: Callable[[int, int], None] | None = None
            ) -> tuple[list[Tile], dict[str, str]]:
    """(tiles in mosaic order, {model: why it is missing}) for the models asked for."""
    tiles, missing = [], {}
    models = list(dict.fromkeys(models))
    for i, name in enumerate(models):
        try:
            config = MapConfig(model=name, setup=setup, trials=trials, seed=seed)
            tiles.append(tile(config, target, compute=compute_missing))
        except InductionError as exc:
            missing[name] = str(exc)
        if progress:
            progress(i + 1, len(models))
    return ordered(tiles), missing


def ordered(tiles: list[Tile]) -> list[Tile]:
    """Encoders first, then decoders; within a kind by family (its smallest model first), then by size."""
    smallest: dict[str, int] = {}
    for t in tiles:
        smallest[t.family] = min(smallest.get(t.family, t.size), t.size)
    return sorted(tiles, key=lambda t: (t.kind != "encoder", smallest[t.family], t.family, t.size, t.model))


def mosaic_figure(tiles: list[Tile], *, target: str, title: str = ""):
    """A row per model (heads stacked), x = relative depth (layer + 0.5) / layers, one colour scale from 0 to 1.
    Every head is a point whose customdata is (row, layer, head): hover names it, a click selects it."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from induction.figures.plots import HIT_SIZE, whole_cells

    if not tiles:
        raise InductionError("the mosaic has no model to show: no map of the chosen setup is cached")
    weights = [max(t.heads, 2) for t in tiles]
    fig = make_subplots(rows=len(tiles), cols=1, shared_xaxes=True, vertical_spacing=min(0.02, 0.3 / len(tiles)),
                        row_heights=weights)
    for row, t in enumerate(tiles, start=1):
        depth = (np.arange(t.layers) + 0.5) / t.layers  # [L]
        fig.add_trace(go.Heatmap(z=t.mean.T, x=depth, y=np.arange(t.heads), coloraxis="coloraxis", hoverinfo="skip"),
                      row=row, col=1)
        layer, head = np.meshgrid(np.arange(t.layers), np.arange(t.heads), indexing="ij")  # [L, H]
        text = [f"{t.model} L{l}H{h}: {t.mean[l, h]:.3f} ({t.mean[l, h] / t.baseline:.1f}x baseline)"
                for l, h in zip(layer.ravel(), head.ravel(), strict=True)]
        custom = np.stack([np.full(layer.size, row - 1), layer.ravel(), head.ravel()], axis=1)  # [L*H, 3]
        # lists, not arrays: Plotly would send arrays as typed buffers, and a click's customdata with them
        fig.add_trace(go.Scatter(x=depth[layer.ravel()].tolist(), y=head.ravel().tolist(), mode="markers",
                                 marker=dict(symbol="square", size=HIT_SIZE, opacity=0.0), hovertext=text,
                                 hoverinfo="text", customdata=custom.tolist(), name=t.model, showlegend=False,
                                 selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0))),
                      row=row, col=1)
        fig.update_yaxes(showticklabels=False, range=[-0.5, t.heads - 0.5], row=row, col=1)
        domain = fig.layout[f"yaxis{'' if row == 1 else row}"].domain
        fig.add_annotation(text=f"{t.model} <span style='color:#888'>{t.family} {t.layers}×{t.heads}</span>",
                           xref="paper", yref="paper", x=-0.01, y=(domain[0] + domain[1]) / 2, xanchor="right",
                           showarrow=False, font=dict(size=11))
    fig.update_xaxes(range=[0, 1], row=len(tiles), col=1, title_text="relative depth (layer + 0.5) / layers")
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=0.0, cmax=1.0, colorbar=dict(title=target)),
                      height=max(320, 120 + sum(max(60, 10 * w) for w in weights)),  # one tile keeps a bar
                      margin=dict(l=230, r=20, t=50, b=50),
                      title=title or f"Mosaic · {target}", clickmode="event+select", dragmode=False)
    return whole_cells(fig)  # a click anywhere in a head's cell
