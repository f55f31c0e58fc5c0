"""Figures: the map's clickable layer carries plain-list customdata; ablated heads have no score."""

from __future__ import annotations

import numpy as np

from induction.figures.plots import diff_figure, map_figure


def test_map_cells_are_clickable_points_with_plain_customdata():
    mean = np.arange(6, dtype=float).reshape(2, 3) / 10
    fig = map_figure(mean, mean / 10, selected=[(1, 2)])
    heat, points = fig.data[0], fig.data[1]
    assert heat.type == "heatmap" and heat.hoverinfo == "skip"
    assert points.type == "scatter" and points.marker.opacity == 0
    assert points.selected.marker.opacity == 0 and points.unselected.marker.opacity == 0
    cd = points.customdata
    assert isinstance(cd, tuple) and isinstance(cd[0], (list, tuple))  # plain lists, not numpy arrays
    assert [list(c)[:2] for c in cd] == [[l, h] for l in range(2) for h in range(3)]
    assert cd[5][2] == 0.5 and fig.layout.shapes[0].x0 == 1.5  # the selected head is outlined
    assert fig.layout.yaxis.range == (1.5, -0.5)  # layer 0 on top


def test_ablated_heads_are_blank_and_the_difference_is_centred():
    diff = np.array([[0.2, -0.5], [0.1, 0.0]])
    fig = diff_figure(diff, ablated=[(0, 1)])
    z = np.array(fig.data[0].z, dtype=float)
    assert np.isnan(z[0, 1]) and fig.data[0].zmin == -fig.data[0].zmax == -0.2
    assert fig.data[2].name == "ablated"


def test_the_full_pattern_fills_its_axes_and_its_lines_are_labelled():
    from induction.analyses.head_detail import HeadDetail
    from induction.figures.plots import offset_figure, pattern_figure

    seq = 40
    detail = HeadDetail(layer=0, head=0, trial=0, tokens=["t"] * seq, original_tokens=["t"] * seq, mask_index=30,
                        anchor_index=9, target_index={"prev": 9}, row=np.full(seq, 1 / seq),
                        pattern=np.full((seq, seq), 1 / seq))
    fig = pattern_figure(detail)
    assert fig.layout.xaxis.range == (-0.5, seq - 0.5) and fig.layout.yaxis.range == (seq - 0.5, -0.5)
    assert fig.layout.yaxis.scaleanchor is None  # not squeezed into half the width
    assert [a.text for a in fig.layout.annotations] == ["[MASK] query row"]
    assert [a.text for a in offset_figure(np.zeros(11), baseline=0.1).layout.annotations] == ["uniform"]


def test_small_maps_print_their_values_and_mark_the_baseline():
    fig = map_figure(np.full((2, 2), 0.02), zmin=0.0, zmax=0.05, baseline=0.025)
    assert fig.data[0].texttemplate == "%{z:.2f}"
    assert "— uniform" in fig.data[0].colorbar.ticktext and 0.025 in fig.data[0].colorbar.tickvals
    assert map_figure(np.zeros((24, 16))).data[0].texttemplate is None  # BERT-large: too many cells for text
