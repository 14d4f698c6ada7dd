"""Supervised fine-tuning on demonstrations (docs/training.md §1, InstructGPT §3.5).

The loop (the machinery — evaluation, best checkpoint, saving — is trainer/loop.py):

    for each batch of demonstrations (prompt tokens labelled -100):
        loss = cross-entropy of the next token, on assistant tokens only
        step
    before the first step and every eval_steps: validation loss (token-weighted over
    the whole split); the best model by val_loss is kept in out/best/

InstructGPT picked its SFT checkpoint by validation reward-model score, not by
validation loss (which kept rising while the RM score improved); we report the
loss and leave the choice to the user (``metric_for_best_model``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from accelerate import Accelerator
from torch import Tensor, nn
from transformers import AutoModelForCausalLM

from trainer.chat import IGNORE_INDEX
from trainer.collate import collate_sft
from trainer.contract import ContractError
from trainer.data import build_sft_examples
from trainer.loop import fit, load_pretrained, open_session
from trainer.losses import sft_loss
from trainer.runtime import ProgressCallback
from trainer.sft_config import SFTConfig

__all__ = ["SFTConfig", "evaluate", "train"]


def evaluate(model: nn.Module, loader: Any, accelerator: Accelerator) -> dict[str, float]:
    """``val_loss``: Σ token losses / Σ assistant tokens over the whole split."""
    totals = torch.zeros(2, device=accelerator.device)  # (Σ loss·tokens, Σ tokens)
    model.eval()
    with torch.no_grad():
        for batch in loader:
            logits = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).logits
            n_tokens = (batch["labels"][:, 1:] != IGNORE_INDEX).sum()
            if n_tokens > 0:
                totals[0] += sft_loss(logits, batch["labels"]) * n_tokens
                totals[1] += n_tokens
    model.train()
    totals = accelerator.reduce(totals, "sum")
    return {"val_loss": (totals[0] / totals[1].clamp(min=1)).item()}


def _step(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    logits = model(input_ids=batch["input_ids"],
                   attention_mask=batch["attention_mask"]).logits  # [B, T, V]
    return sft_loss(logits, batch["labels"]), {}


def train(
    config: SFTConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """Fine-tune ``config.model`` on the export's demonstrations; returns final metrics."""
    session = open_session(config)
    train_set = build_sft_examples(session.export.sft.get("train", []), session.tokenizer,
                                   config.max_length)
    val_set = build_sft_examples(session.export.sft.get("validation", []), session.tokenizer,
                                 config.max_length)
    if not train_set:
        why = (f"all {train_set.dropped} demonstrations lost every answer token at max_length "
               f"{config.max_length}; raise --max-length" if train_set.dropped
               else "no demonstrations to train on")
        raise ContractError("sft.train.jsonl", None, why)
    model: nn.Module = load_pretrained(AutoModelForCausalLM, config.model)
    fitted = fit(session, "sft", model, train_set, val_set,
                 partial(collate_sft, pad_id=session.pad_id), _step,
                 partial(evaluate, accelerator=session.accelerator),
                 kind="sft", best_metric="val_loss", callback=callback,
                 should_stop=should_stop,
                 counts={**train_set.counts("train"), **val_set.counts("val")})
    return fitted.metrics

