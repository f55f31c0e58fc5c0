"""One head on one trial: what the drill-down shows.

Why separate from the map: a map keeps only the few numbers per trial it scores;
the drill-down needs one full attention pattern, which is one extra forward pass
of one trial, cheap enough to compute on demand.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from induction.config import ConfigError, MapConfig
from induction.engine import make_trials, model_for
from induction.runs import Run, resolve_run


@dataclass(repr=False)
class HeadDetail:
    """One head's attention on one trial of a map's run: the tokens, where the query (the [MASK], or a repeat
    query) and its targets are, the query's attention row [S] and the whole pattern [S, S]."""

    layer: int
    head: int
    trial: int
    tokens: list[str]  # one per position, as the model sees them ([MASK] included)
    original_tokens: list[str]
    mask_index: int
    anchor_index: int
    target_index: dict[str, int]
    row: np.ndarray  # [S] attention of the [MASK] over every position
    pattern: np.ndarray  # [S, S] query x key
    query_label: str = "[MASK]"  # the repeat setup masks nothing: its row is an ordinary token's ("query")

    def __repr__(self) -> str:
        return (f"HeadDetail(L{self.layer}H{self.head}, trial {self.trial}, {len(self.tokens)} positions, query at "
                f"{self.mask_index}, targets {self.target_index})")

    def to_json(self) -> dict:
        """The head's row as JSON: tokens, query and target positions, attention."""
        return {"layer": self.layer, "head": self.head, "trial": self.trial, "tokens": self.tokens,
                "mask_index": self.mask_index, "target_index": self.target_index, "row": self.row.tolist()}


def head_detail(config: MapConfig | Run, layer: int, head: int, *, trial: int = 0) -> HeadDetail:
    """The attention of head (layer, head) on trial `trial` of the map's run."""
    import torch

    from induction.capture.eager import run_pattern as run_fallback_pattern
    from induction.capture.interface import run_pattern

    run = resolve_run(config)
    run.check_head(layer, head)
    if not 0 <= trial < run.config.trials:
        raise ConfigError(f"trial must be between 0 and {run.config.trials - 1}")
    model = model_for(run)
    batch = make_trials(run, model, start=trial, count=1)
    ids = torch.from_numpy(batch.input_ids).to(model.device)
    read = run_fallback_pattern if model.capture_path == "fallback" else run_pattern
    pattern = read(model.encoder, ids, layer)[0, head].cpu().numpy()  # [S, S]
    queries = np.ravel(batch.mask_index[0])
    pick = len(queries) // 2 if run.config.setup == "repeat" else 0  # repeat: a query mid-way through the copy;
    m = int(queries[pick])  # several masks: the drill-down reads the first
    tok = model.tokenizer.convert_ids_to_tokens
    return HeadDetail(layer=layer, head=head, trial=trial, tokens=tok(batch.input_ids[0].tolist()),
                      original_tokens=tok(batch.original_ids[0].tolist()), mask_index=m,
                      anchor_index=int(np.ravel(batch.anchor_index[0])[pick]),
                      target_index={k: int(np.ravel(v[0])[pick]) for k, v in batch.target_index.items()},
                      row=pattern[m].copy(), pattern=pattern,
                      query_label="query" if run.config.setup == "repeat" else "[MASK]")
