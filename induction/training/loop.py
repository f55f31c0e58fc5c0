"""Train a recipe on CPU, one thread, deterministically: `step_N/` checkpoint folders and `training_log.json`.

Why one thread and deterministic algorithms: the shipped series must be regenerable bit for bit by
`induction train`, and CPU kernels can reduce in a different order with more threads.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from induction.training.data import IGNORE, make_batch
from induction.training.recipes import Recipe
from induction.training.vocabulary import CLS, PAD, SEP, VOCAB_SIZE, save_tokenizer

logger = logging.getLogger(__name__)
LOG_NOTE = ("loss: mean cross-entropy over every trained target (a decoder's next tokens, an encoder's masked "
            "tokens); late_loss: over the targets only the other instance of a copied span predicts (in the "
            "random-character rows: a decoder's copy tokens after the copy's first, an encoder's masked tokens in a "
            "span or its copy); each entry averages the "
            "log_every steps ending at `step`")


def build_model(recipe: Recipe) -> torch.nn.Module:
    """The recipe's freshly initialised model (seeded), eager attention so its weights can be read."""
    torch.manual_seed(recipe.seed)
    if recipe.architecture == "LlamaForCausalLM":
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(vocab_size=VOCAB_SIZE, hidden_size=recipe.hidden, intermediate_size=recipe.inner,
                             num_hidden_layers=recipe.layers, num_attention_heads=recipe.heads,
                             num_key_value_heads=recipe.heads, max_position_embeddings=recipe.positions,
                             bos_token_id=CLS, eos_token_id=SEP, pad_token_id=PAD, tie_word_embeddings=True)
        return LlamaForCausalLM(config)
    if recipe.architecture == "RoFormerForMaskedLM":
        from transformers import RoFormerConfig, RoFormerForMaskedLM

        config = RoFormerConfig(vocab_size=VOCAB_SIZE, embedding_size=recipe.hidden, hidden_size=recipe.hidden,
                                num_hidden_layers=recipe.layers, num_attention_heads=recipe.heads,
                                intermediate_size=recipe.inner, max_position_embeddings=recipe.positions,
                                hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, pad_token_id=PAD,
                                type_vocab_size=1, tie_word_embeddings=True)
        return RoFormerForMaskedLM(config)
    raise ValueError(f"recipe {recipe.name!r}: no builder for {recipe.architecture}")


def lr_at(recipe: Recipe, step: int) -> float:
    """Linear warm-up over `warmup` steps, then a cosine from lr down to lr * min_lr_ratio at the last step."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    frac = (step - recipe.warmup) / max(1, recipe.final - recipe.warmup)
    return recipe.lr * (recipe.min_lr_ratio + (1 - recipe.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def batch_losses(model: torch.nn.Module, input_ids: np.ndarray, labels: np.ndarray,
                 late: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss over every target, mean loss over the late targets) of one batch."""
    logits = model(input_ids=torch.from_numpy(input_ids)).logits  # [B, S, V]
    target = torch.from_numpy(labels)  # [B, S]
    tok = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none",
                                            ignore_index=IGNORE)  # [B, S]
    return tok[target != IGNORE].mean(), tok[torch.from_numpy(late)].mean()


@contextmanager
def _deterministic_cpu():
    """One thread and deterministic kernels for the run, the caller's settings restored after."""
    threads, strict = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(strict)


def save_checkpoint(model: torch.nn.Module, recipe: Recipe, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [recipe.architecture]
    model.save_pretrained(out, safe_serialization=True)
    save_tokenizer(out, recipe.kind)


def train(recipe: Recipe, out_dir: Path | str, *, until: int | None = None,
          on_log: Callable[[dict], None] | None = None) -> dict:
    """Train `recipe` from scratch, writing out_dir/step_N/ at every checkpoint step and
    out_dir/training_log.json (the recipe, the per-`log_every` losses, the wall time). Returns the log.

    `until`: stop after that step (its checkpoints are the full run's, bit for bit: the schedule is the recipe's)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _deterministic_cpu():
        model = build_model(recipe).train()
        opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, betas=(0.9, 0.98), weight_decay=0.0, foreach=False)
        log: list[dict] = []
        start, run = time.perf_counter(), np.zeros(4)  # running sums: loss, steps, late loss, steps with late targets
        last = recipe.last_step(until)
        for step in range(last + 1):
            if step in recipe.checkpoints:
                model.eval()
                save_checkpoint(model, recipe, out_dir / f"step_{step}")
                model.train()
            if step == last:
                break
            for group in opt.param_groups:
                group["lr"] = lr_at(recipe, step)
            batch = make_batch(recipe, step)
            loss, late = batch_losses(model, batch.input_ids, batch.labels, batch.late)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            has_late = bool(batch.late.any())
            run += (loss.item(), 1, late.item() if has_late else 0.0, has_late)
            if (step + 1) % recipe.log_every == 0:
                entry = {"step": step + 1, "loss": float(run[0] / run[1]),
                         "late_loss": float(run[2] / run[3]) if run[3] else None, "lr": lr_at(recipe, step)}
                log.append(entry)
                run[:] = 0
                if on_log:
                    on_log(entry)
    wall = round(time.perf_counter() - start, 1)
    result = {"recipe": asdict(recipe), "steps_run": last, "note": LOG_NOTE, "wall_s": wall,
              "log": log}
    (out_dir / "training_log.json").write_text(json.dumps(result, indent=1))
    logger.info("trained %s: %d steps in %.0f s", recipe.name, last, result["wall_s"])
    return result
