"""Figures: the map's clickable layer carries plain-list customdata; ablated heads have no score."""

from __future__ import annotations

import numpy as np

from induction.plots import diff_figure, map_figure


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
