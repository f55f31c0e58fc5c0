"""Masked-token losses with heads ablated, one row per (trial, head): the engine of per-head effects.

Why a suffix: ablating a head of layer l leaves every layer below l as it was, so the hidden
states entering layer l (kept from one clean pass per chunk) are re-run through layers l.. only,
and the MLM head reads only the masked position of each row. That needs the encoder's layer list
and the MLM head as modules of their own; where they cannot be found, or re-running them does not
reproduce the full forward (checked once, on the first chunk), every row runs a full forward.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from induction.capture.interface import run_ablated, run_hidden, run_suffix
from induction.losses import loss_rows, place_loss
from induction.trials.rrt import TrialBatch

if TYPE_CHECKING:  # the loaded model is passed in; capture sits below models and never imports it
    from induction.models.loading import LoadedModel

_LAYER_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers", "h", "decoder.layers")
_FINAL_NORMS = ("ln_f", "norm", "final_layer_norm", "final_layernorm", "decoder.final_layer_norm")

log = logging.getLogger(__name__)


def encoder_layers(encoder) -> torch.nn.ModuleList | None:
    """The encoder's list of layers, in order, when it has one of the usual names."""
    n = int(encoder.config.num_hidden_layers)
    for path in _LAYER_PATHS:
        module = encoder
        for part in path.split("."):
            module = getattr(module, part, None)
        if isinstance(module, torch.nn.ModuleList) and len(module) == n:
            return module
    return None


def mlm_head(mlm, kind: str = "encoder"):
    """The position-wise map from the last hidden state to vocabulary logits, or None. A causal model's
    base model ends in a final norm (GPT-2's ln_f, Llama's norm) that its last hidden state has passed."""
    if kind == "causal":
        return _causal_head(mlm)
    for name in ("cls", "lm_head", "predictions"):  # BERT; RoBERTa and its kin; ALBERT
        if isinstance(getattr(mlm, name, None), torch.nn.Module):
            return getattr(mlm, name)
    if hasattr(mlm, "generator_lm_head"):  # ELECTRA's generator
        return lambda h: mlm.generator_lm_head(mlm.generator_predictions(h))
    if hasattr(mlm, "vocab_projector"):  # DistilBERT
        return lambda h: mlm.vocab_projector(mlm.vocab_layer_norm(mlm.activation(mlm.vocab_transform(h))))
    return None


def _causal_head(lm):
    head = getattr(lm, "lm_head", None)
    for path in _FINAL_NORMS:
        norm = lm.base_model
        for part in path.split("."):
            norm = getattr(norm, part, None)
        if isinstance(head, torch.nn.Module) and isinstance(norm, torch.nn.Module):
            return lambda h: head(norm(h))
    return None


class MaskedLoss:
    """Per-row losses of one chunk of trials with head `h` of layer `l` ablated in each row: masked-token
    losses, or a causal model's next-token loss on the second copy (`kinds.loss_rows`)."""

    def __init__(self, model: LoadedModel, *, mode: str, pair: dict[int, tuple[int, ...]],
                 means: dict[int, torch.Tensor] | None):
        self.model, self.mode, self.pair, self.means = model, mode, pair, means
        self.layers, self.head = encoder_layers(model.encoder), mlm_head(model.mlm, model.kind)
        self.path = "suffix" if self.layers is not None and self.head is not None else "full"
        self._checked = False

    def start_chunk(self, part: TrialBatch) -> None:
        device = self.model.device
        self.ids = torch.from_numpy(part.input_ids).to(device)  # [b, S]
        self.mask, self.target = (torch.from_numpy(a).to(device) for a in loss_rows(part, self.model.kind))  # [b, P]
        if self.path == "suffix":
            self.hidden = run_hidden(self.model.encoder, self.ids, ablate=self.pair, mode=self.mode,
                                     means=self.means)[0]  # L+1 x [b, S, D]
            if not self._checked:
                self._check()

    def _check(self) -> None:
        """Re-running every layer from the embeddings must give the full forward's loss, else use full forwards."""
        none = torch.full((self.ids.shape[0],), -1, device=self.model.device)
        self._checked, self.path = True, "full"
        try:  # some families' layers need arguments only their encoder passes (relative positions, masks)
            suffix = self._suffix_logits(0, none, 1)
        except Exception as exc:  # any failure means: not this family's layers; the full path is always right
            log.warning("%s: re-running the layers above a head failed (%s: %s); every head's effect uses a full "
                        "forward pass instead (right, but slower)", self.model.name, type(exc).__name__, exc)
            return
        full = self._full_logits(0, none, 1)
        a, b = suffix.float().log_softmax(-1), full.float().log_softmax(-1)
        self.path = "suffix" if torch.allclose(a, b, atol=1e-4, rtol=1e-4) else "full"
        if self.path == "full":
            gap = (a - b).abs().max().item()
            log.warning("%s: re-running the layers above a head differs from the full forward pass by %.2g in "
                        "log-probability; every head's effect uses a full forward pass instead (right, but slower)",
                        self.model.name, gap)

    def _suffix_logits(self, layer: int, row_heads: torch.Tensor, k: int) -> torch.Tensor:
        x = self.hidden[layer].repeat(k, 1, 1)  # [k*b, S, D]
        above = {l: h for l, h in self.pair.items() if l >= layer}  # a pair below `layer` is in `hidden`
        final = run_suffix(self.layers, x, layer, row_heads=row_heads, ablate=above, mode=self.mode,
                           means=self.means)
        rows = torch.arange(final.shape[0], device=final.device)[:, None]
        with torch.inference_mode():
            return self.head(final[rows, self.mask.repeat(k, 1)])  # [k*b, P, V]

    def _full_logits(self, layer: int, row_heads: torch.Tensor, k: int) -> torch.Tensor:
        out, _ = run_ablated(self.model.mlm, ablate=self.pair, mode=self.mode, means=self.means, row_layer=layer,
                             row_heads=row_heads, input_ids=self.ids.repeat(k, 1))
        rows = torch.arange(out.logits.shape[0], device=out.logits.device)[:, None]
        return out.logits[rows, self.mask.repeat(k, 1)]  # [k*b, P, V]

    def losses(self, layer: int, heads: list[int]) -> np.ndarray:
        """[k, b]: row (i, t) is trial t's loss (mean over its P places) with head heads[i] of `layer` ablated."""
        k, b = len(heads), self.ids.shape[0]
        row_heads = torch.tensor(heads, device=self.model.device).repeat_interleave(b)
        logits = (self._suffix_logits if self.path == "suffix" else self._full_logits)(layer, row_heads, k)
        return place_loss(logits, self.target.repeat(k, 1)).reshape(k, b).double().cpu().numpy()
