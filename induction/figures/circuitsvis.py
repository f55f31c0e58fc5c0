"""One layer's heads on one trial in CircuitsVis's format, so a head found here is shown where researchers already
show attention.

CircuitsVis (`circuitsvis.attention.attention_heads`) takes the tokens and a [heads, queries, keys] pattern; this
export is that pair (with the heads' names), read from the head drill-down's pattern (`head_detail`), as a plain
dict that serializes to JSON; `html=True` also renders it with CircuitsVis where that package is installed.
"""

from __future__ import annotations

from induction.config import ConfigError, head_name


def circuitsvis_attention(config, layer: int, heads: int | list[int], *, trial: int = 0,
                          html: bool = False) -> dict:
    """The attention of `heads` (one head or several) of `layer` on trial `trial` of a map's run, as CircuitsVis
    takes it: {"tokens": [S], "attention": [heads][S][S] (query x key), "head_names": ["L1H0", ...], "query": the
    drill-down's query position, "trial": trial}. `config` is a MapConfig, a Run or a result with a `.config`
    (an InductionMap). With `html=True` the dict gains "html": CircuitsVis's attention_heads view (needs
    `pip install circuitsvis`)."""
    from induction.analyses.head_detail import head_detail

    config = getattr(config, "config", config)
    heads = [heads] if isinstance(heads, int) else list(heads)
    if not heads:
        raise ConfigError("name at least one head, for example heads=0")
    details = [head_detail(config, layer, h, trial=trial) for h in heads]
    out = {"tokens": list(details[0].tokens), "attention": [d.pattern.tolist() for d in details],
           "head_names": [head_name(layer, h) for h in heads], "query": details[0].mask_index, "trial": trial}
    if html:
        out["html"] = _render(out)
    return out


def _render(data: dict) -> str:
    try:
        import numpy as np
        from circuitsvis.attention import attention_heads
    except ImportError as exc:
        raise ConfigError("html=True renders with CircuitsVis: install it (pip install circuitsvis), or pass the "
                          "dict's tokens and attention to CircuitsVis yourself") from exc
    return str(attention_heads(attention=np.asarray(data["attention"]), tokens=data["tokens"],
                               attention_head_names=data["head_names"]))


__all__ = ["circuitsvis_attention"]
