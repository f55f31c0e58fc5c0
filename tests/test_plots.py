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
    assert fig.data[0].texttemplate == "%{z:.4f}"  # a 0..0.05 scale: four decimals tell its cells apart
    assert "— uniform 0.0250" in fig.data[0].colorbar.ticktext and 0.025 in fig.data[0].colorbar.tickvals
    assert 0.025 not in fig.data[0].colorbar.tickvals[:-1]  # the regular tick at the baseline gave way
    toy = map_figure(np.full((2, 2), 0.5), zmin=0.0, zmax=1.0, baseline=0.0294).data[0].colorbar
    assert 0.0 not in toy.tickvals and toy.tickvals[-1] == 0.0294  # "0.00" and the baseline never overlap
    assert map_figure(np.full((2, 2), 0.5)).data[0].texttemplate == "%{z:.2f}"  # the 0..1 scale: two
    assert map_figure(np.zeros((24, 16))).data[0].texttemplate is None  # BERT-large: too many cells for text


def test_a_narrow_rescaled_scale_reads_its_cells_apart_and_plainly():
    """toy prev_before: cells 0.0008 and 0.0026 under a baseline 0.0294 used to both read "0.00", ticks "800μ"."""
    from dashboard.maps import colour_range

    mean = np.array([[0.0008, 0.0026], [0.0001, 0.0012]])
    zmin, zmax, null = colour_range(mean, 0.0294, rescale=False)
    assert null and zmin <= 0.0294 <= zmax  # the baseline lies on the bar the notice points to
    heat = map_figure(mean, zmin=zmin, zmax=zmax, baseline=0.0294).data[0]
    assert heat.colorbar.tickformat == ".4f" and heat.texttemplate == "%{z:.4f}"
    assert f"{0.0008:.4f}" != f"{0.0026:.4f}" and "— uniform 0.0294" in heat.colorbar.ticktext
    assert not any("μ" in t or "e-" in t for t in heat.colorbar.ticktext)


def test_a_head_ablated_first_is_crossed_out_not_drawn_at_zero():
    from induction.figures.plots import attention_vs_effect, effect_figure

    score, effect, sem = np.array([[0.9, 0.1], [0.5, 0.2]]), np.array([[0.0, 0.3], [1.2, 0.0]]), np.zeros((2, 2))
    fig = effect_figure(effect, sem, ablated=[(0, 0)])
    assert np.isnan(fig.data[0].z[0][0]) and any(t.name == "ablated" for t in fig.data)
    scatter = attention_vs_effect(score, effect, sem, baseline=0.25, used=0.1, ablated=[(0, 0)],
                                  loss="next-token loss on the second copy")
    heads = scatter.data[0]
    assert "L0H0" not in heads.text and len(heads.x) == 3  # not a point in "attends, not used"
    assert scatter.data[1].text == ("L0H0 (ablated)",) and scatter.data[1].marker.symbol == "x-thin"
    assert scatter.layout.yaxis.title.text == "effect on the next-token loss on the second copy (nats)"


def test_the_pattern_row_is_never_a_query_query_row():
    from induction.figures.plots import row_label

    assert row_label("query") == "query row" and row_label("[MASK]") == "[MASK] query row"


def test_a_map_without_standard_errors_hovers_no_plus_minus():
    assert "±" not in map_figure(np.full((2, 2), 0.5), None).data[1].hovertemplate  # K masks: one map a mask
    assert "±" in map_figure(np.full((2, 2), 0.5), np.zeros((2, 2))).data[1].hovertemplate


def test_the_sweep_has_nats_and_attention_on_two_axes_and_names_the_heads():
    from induction.figures.plots import sweep_figure

    rows = [{"k": 1, "ablated": ["L1H0"], "loss": 2.0, "best_remaining": "L1H1", "best_remaining_score": 0.8},
            {"k": 2, "ablated": ["L1H0", "L1H1"], "loss": 3.5, "best_remaining": "L0H0", "best_remaining_score": 0.1}]
    fig = sweep_figure(rows, loss="masked-token loss")
    loss, score = fig.data
    assert loss.yaxis == "y" and score.yaxis == "y2"  # nats and attention never share an axis
    assert fig.layout.yaxis.title.text == "masked-token loss (nats)"
    assert fig.layout.yaxis2.title.text == "attention score"
    assert list(fig.layout.xaxis.ticktext) == ["1: +L1H0", "2: +L1H1"]
    assert list(loss.customdata) == ["L1H0", "L1H0, L1H1"]
    no_loss = sweep_figure([{**r, "loss": None} for r in rows], loss="next-token loss")
    assert len(no_loss.data) == 1  # nothing drawn as a loss of 0
