"""The clickable map (a click selects a head) and the ablation picker (a click toggles a head)."""

from __future__ import annotations

import streamlit as st

from induction.config import ABLATION_MODES, PAPER_SEGMENT, SIGNAL_RATIO, head_name, parse_head

from .state import copy_to, select_head


def colour_range(mean, baseline: float, rescale: bool) -> tuple[float, float, bool]:
    """(zmin, zmax, null): the fixed 0..1 scale, or the data's range when asked for or when no head reaches
    SIGNAL_RATIO x the uniform baseline (a null result would be a flat block on 0..1)."""
    null = float(mean.max()) < SIGNAL_RATIO * baseline
    if rescale or null:  # the baseline lies on the bar, so the notice's "the colour bar marks it" holds
        low, high = float(min(mean.min(), baseline)), float(max(mean.max(), baseline))
        return low, max(high, low + 1e-9), null
    return 0.0, 1.0, null


def null_notice(best, baseline: float, target: str) -> None:
    """Say the map is null; a null map is drawn rescaled, so the "Rescale colours" box is ticked to say so."""
    s = st.session_state
    if not s.rescale:
        s.rescale, s.auto_rescaled, s._rescale_auto = True, True, True  # the app's, not the user's: a model
        # switch gives it back (sidebar._on_model_change)
        s.notices = [*s.get("_shown", []), *s.get("notices", [])]  # this run's notices are shown again
        st.rerun()  # the sidebar, drawn already, shows the box ticked
    ticked = " (the app ticked “Rescale colours to the data”)" if s.pop("auto_rescaled", False) else ""
    st.info(f"No induction head for `{target}`: the best head, {best.name}, scores {best.score:.4f}, "
            f"{best.ratio:.1f}x the uniform baseline {baseline:.4f} (a head needs {SIGNAL_RATIO:g}x to count). "
            f"The colours are rescaled to the data{ticked}; the colour bar marks the baseline.")


def map_masks(state) -> dict:
    """The K masks a map page runs with (set on Several masks; the setups that mask tokens, token unit only)."""
    masks = state.masks if state.setup != "repeat" and state.unit == "token" else 1
    return dict(masks=masks, mask_span=state.span) if masks > 1 else {}


def run_caption(result, state) -> str:
    """The run a map shows, said before it: model, setup, protocol, target, trials, seed, segment, K masks."""
    c = result.config
    segment = f"segment {c.segment}" + (" (the default)" if state.segment is None else "")
    if c.paper_segment_cut():
        segment = (f"segment {c.segment} (the paper's {PAPER_SEGMENT[c.setup]} cut to the longest that fits "
                   f"{c.model}'s positions)")
    masks = f" · **{result.masks} masks** per trial, {c.mask_span} (set on Several masks)" if result.masks > 1 else ""
    return (f"{c.model} · {c.setup} setup · {c.protocol} protocol · target **{state.target}** · {result.trials} "
            f"trials · seed {c.seed} · {segment}{masks}")


CAPTURE_PATHS = {"interface": "read inside the model's attention function",
                 "fallback": "read from the attention weights the model returns (output_attentions)"}


def timing(result) -> str:
    """Where a map came from, in words: the cache (no time spent now) or a computation and its time; and how the
    attention was read (the capture path)."""
    how = CAPTURE_PATHS.get(result.capture_path, result.capture_path)
    where = "from the cache" if result.cached else f"computed in {result.elapsed_s:.2f}s"
    return f"{where} · attention {how} (the {result.capture_path} capture path)"


def clicked_data(chart_key: str) -> list | None:
    """The customdata of the point a click on `chart_key` selected, if any."""
    points = (st.session_state.get(chart_key) or {}).get("selection", {}).get("points", [])
    return (points[0].get("customdata") or None) if points else None


def clicked(chart_key: str) -> tuple[int, int] | None:
    """(layer, head) of the point a click on `chart_key` selected, if any."""
    data = clicked_data(chart_key)
    if data:
        layer, head = data[:2]
        return int(layer), int(head)
    return None


def _on_map_click() -> None:
    head = clicked("map_chart")
    if head:
        select_head(*head)
        st.session_state._scroll_to_drilldown = True  # the drill-down opens below the fold: go there


def scroll_here(anchor: str) -> None:
    """Scroll the page to the element with id `anchor` once it is drawn (after a click that opened it)."""
    st.html(f"""<script>
      (function go(n) {{
        const el = window.parent.document.getElementById("{anchor}") || document.getElementById("{anchor}");
        if (el) {{ el.scrollIntoView({{block: "start"}}); }}
        else if (n > 0) {{ setTimeout(() => go(n - 1), 100); }}
      }})(50);
    </script>""", unsafe_allow_javascript=True, width="content")


def clickable_map(fig, key: str = "map_chart", on_select=_on_map_click) -> None:
    st.plotly_chart(fig, key=key, on_select=on_select, selection_mode="points", width="stretch",
                    config={"toImageButtonOptions": {"format": "png", "filename": "induction_map", "scale": 2}})


def _toggle_ablated(layer: int, head: int) -> None:
    heads = list(st.session_state.ablate)
    if (layer, head) in heads:
        heads.remove((layer, head))
    else:
        heads.append((layer, head))
    st.session_state.ablate = tuple(heads)


def on_ablate_click() -> None:
    head = clicked("ablate_chart")
    if head:
        _toggle_ablated(*head)


def ablation_picker(result, target: str) -> None:
    """A multiselect of heads, in sync with clicks on the clean map; plus 'top k'."""
    s = st.session_state
    names = [head_name(l, h) for l in range(result.layers) for h in range(result.heads)]
    s.w_ablate = [head_name(l, h) for l, h in s.ablate if l < result.layers and h < result.heads]

    def changed() -> None:
        s.ablate = tuple(parse_head(n) for n in s.w_ablate)

    def top_k() -> None:
        s.ablate = tuple((h.layer, h.head) for h in result.top_heads(target, int(s.w_top_k)))

    s.w_mode = s.mode
    st.radio("Mode", ABLATION_MODES, horizontal=True, key="w_mode", on_change=copy_to("mode", "w_mode"))
    a, b, c = st.columns([3, 1, 2])
    a.multiselect("Heads to ablate", names, key="w_ablate", on_change=changed)
    b.number_input("k", 1, len(names), 1, key="w_top_k")
    c.button("Ablate top k", on_click=top_k)
