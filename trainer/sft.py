"""Supervised fine-tuning on demonstrations (training.md §1, InstructGPT §3.5).

The loop:

    for each batch of demonstrations (prompt tokens labelled -100):
        loss = cross-entropy of the next token, on assistant tokens only
        step
    every epoch: validation loss (token-weighted over the whole split)

InstructGPT picked its SFT checkpoint by validation reward-model score, not by
validation loss (which kept rising while the RM score improved); we report the
loss and leave the choice to the user.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.chat import IGNORE_INDEX
from trainer.collate import collate_sft, pad_token_id
from trainer.contract import ContractError, load_export
from trainer.data import build_sft_examples
from trainer.losses import sft_loss
from trainer.runtime import (
    ProgressCallback,
    Run,
    lineage,
    make_accelerator,
    make_loader,
    make_optimizer,
    make_scheduler,
    prepare_model,
)
from trainer.sft_config import SFTConfig

__all__ = ["SFTConfig", "evaluate", "train"]


def evaluate(model: nn.Module, loader: Any, accelerator: Accelerator) -> dict[str, float]:
    """Validation loss: Σ token losses / Σ assistant tokens over the whole split."""
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


def train(
    config: SFTConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """Fine-tune ``config.model`` on the export's demonstrations; returns final metrics."""
    accelerator = make_accelerator(config.mixed_precision, config.gradient_accumulation_steps)
    set_seed(config.seed)
    export = load_export(config.data)
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    train_set = build_sft_examples(export.sft.get("train", []), tokenizer, config.max_length)
    val_set = build_sft_examples(export.sft.get("validation", []), tokenizer, config.max_length)
    if not train_set:
        raise ContractError("sft.train.jsonl", None, "no demonstrations to train on")

    model: nn.Module = AutoModelForCausalLM.from_pretrained(config.model)
    model = prepare_model(model, gradient_checkpointing=config.gradient_checkpointing,
                          lora=config.lora, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
                          lora_dropout=config.lora_dropout)
    optimizer = make_optimizer(model, config.learning_rate, config.weight_decay)
    collate = partial(collate_sft, pad_id=pad_token_id(tokenizer))
    train_loader = make_loader(train_set, config.batch_size, collate, seed=config.seed)
    val_loader = make_loader(val_set, config.batch_size, collate, shuffle=False)
    model, optimizer, train_loader, val_loader = accelerator.prepare(
        model, optimizer, train_loader, val_loader)
    steps_per_epoch = -(-len(train_loader) // config.gradient_accumulation_steps)
    total_steps = steps_per_epoch * config.epochs
    scheduler = accelerator.prepare(make_scheduler(optimizer, accelerator, total_steps,
                                                   config.warmup_ratio, config.lr_scheduler))
    run = Run(config.out, "sft", accelerator, total_steps, callback=callback,
              should_stop=should_stop, save_every=config.save_steps)
    if config.resume:
        run.resume()

    metrics: dict[str, float] = {}
    model.train()
    for _, batch in run.iterate(train_loader, config.epochs):
        with accelerator.accumulate(model):
            logits = model(input_ids=batch["input_ids"],
                           attention_mask=batch["attention_mask"]).logits  # [B, T, V]
            loss = sft_loss(logits, batch["labels"])
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if accelerator.sync_gradients:
            train_loss = accelerator.reduce(loss.detach(), "mean").item()
            metrics["train_loss"] = train_loss
            run.finish_step({"loss": train_loss, "lr": scheduler.get_last_lr()[0]})
            if run.step % steps_per_epoch == 0 and val_set:  # end of an epoch
                metrics.update(evaluate(model, val_loader, accelerator))
                run.log({"val_loss": metrics["val_loss"]})

    if val_set and "val_loss" not in metrics:
        metrics.update(evaluate(model, val_loader, accelerator))
    base_model, parent = lineage(config.model)
    run.save_final(model, tokenizer, kind="sft", base_model=base_model,
                   manifest_sha256=export.manifest_sha256, config=config, metrics=metrics,
                   parent=parent)
    return metrics
