"""Direct Preference Optimization (training.md §4; Rafailov et al. 2023, arXiv:2305.18290).

The loop:

    π_ref = frozen copy of the starting policy (or config.ref_model)
    for each batch of pairs (y_w ≻ y_l | x), rankings expanded to their untied pairs:
        log π_θ(y|x), log π_ref(y|x) summed over completion tokens   # one forward each, 2B rows
        loss = −log σ(β[log π_θ(y_w) − log π_ref(y_w)] − β[log π_θ(y_l) − log π_ref(y_l)])
        step
    report the implicit rewards β·log(π_θ/π_ref): accuracy (chosen > rejected) and margin
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import Tensor, nn
from transformers import AutoModelForCausalLM, AutoTokenizer

from trainer.collate import collate_pairs, pad_token_id
from trainer.contract import ContractError, load_export
from trainer.data import build_pairs
from trainer.dpo_config import DPOConfig
from trainer.losses import dpo_loss, sequence_logprobs
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

__all__ = ["DPOConfig", "evaluate", "train"]


def _logps(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(chosen, rejected) sequence log-probs [B] from one forward over the [2B, T] batch."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logps = sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"])  # [2B]
    half = logps.size(0) // 2
    return logps[:half], logps[half:]


def _dpo_step(policy: nn.Module, ref: nn.Module, batch: dict[str, Tensor], beta: float,
              accelerator: Accelerator) -> tuple[Tensor, Tensor, Tensor]:
    policy_chosen, policy_rejected = _logps(policy, batch)
    with torch.no_grad(), accelerator.autocast():
        ref_chosen, ref_rejected = _logps(ref, batch)
    return dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta)


def evaluate(policy: nn.Module, ref: nn.Module, loader: Any, accelerator: Accelerator,
             beta: float) -> dict[str, float]:
    """Validation loss, implicit-reward accuracy and mean margin over every pair."""
    totals = torch.zeros(4, device=accelerator.device)  # Σ loss·B, Σ correct, Σ margin, B
    policy.eval()
    with torch.no_grad():
        for batch in loader:
            loss, chosen, rejected = _dpo_step(policy, ref, batch, beta, accelerator)
            n = chosen.numel()
            totals += torch.stack([loss * n, (chosen > rejected).float().sum(),
                                   (chosen - rejected).sum(), torch.tensor(float(n),
                                                                           device=loss.device)])
    policy.train()
    totals = accelerator.reduce(totals, "sum")
    n = totals[3].clamp(min=1)
    return {"val_loss": (totals[0] / n).item(), "val_reward_accuracy": (totals[1] / n).item(),
            "val_reward_margin": (totals[2] / n).item()}


def train(
    config: DPOConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """DPO on the export's pairs (and expanded rankings); returns final metrics."""
    accelerator = make_accelerator(config.mixed_precision, config.gradient_accumulation_steps)
    set_seed(config.seed)
    export = load_export(config.data)
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    train_set = build_pairs(export, "train", tokenizer, config.max_length,
                            expand_rankings=config.expand_rankings)
    val_set = build_pairs(export, "validation", tokenizer, config.max_length,
                          expand_rankings=config.expand_rankings)
    if not train_set:
        raise ContractError("pairs.train.jsonl", None,
                            "no preference pairs (nor rankings.train.jsonl to expand)")

    policy: nn.Module = AutoModelForCausalLM.from_pretrained(config.model)
    # The reference is a separate frozen copy, never passed to accelerator.prepare:
    # no optimizer state, no DDP wrapper, not in checkpoints (it never changes).
    ref: nn.Module = AutoModelForCausalLM.from_pretrained(config.ref_model or config.model)
    ref.requires_grad_(False)
    ref.eval()
    ref.to(accelerator.device)
    policy = prepare_model(policy, gradient_checkpointing=config.gradient_checkpointing,
                           lora=config.lora, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
                           lora_dropout=config.lora_dropout)
    optimizer = make_optimizer(policy, config.learning_rate, config.weight_decay)
    collate = partial(collate_pairs, pad_id=pad_token_id(tokenizer))
    train_loader = make_loader(train_set, config.batch_size, collate, seed=config.seed)
    val_loader = make_loader(val_set, config.batch_size, collate, shuffle=False)
    policy, optimizer, train_loader, val_loader = accelerator.prepare(
        policy, optimizer, train_loader, val_loader)
    steps_per_epoch = -(-len(train_loader) // config.gradient_accumulation_steps)
    total_steps = steps_per_epoch * config.epochs
    scheduler = accelerator.prepare(make_scheduler(optimizer, accelerator, total_steps,
                                                   config.warmup_ratio, config.lr_scheduler))
    run = Run(config.out, "dpo", accelerator, total_steps, callback=callback,
              should_stop=should_stop, save_every=config.save_steps)
    if config.resume:
        run.resume()

    metrics: dict[str, float] = {}
    policy.train()
    for _, batch in run.iterate(train_loader, config.epochs):
        with accelerator.accumulate(policy):
            loss, chosen, rejected = _dpo_step(policy, ref, batch, config.beta, accelerator)
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm:
                accelerator.clip_grad_norm_(policy.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if accelerator.sync_gradients:
            run.finish_step({
                "loss": accelerator.reduce(loss.detach(), "mean").item(),
                "reward_accuracy": accelerator.reduce((chosen > rejected).float().mean(),
                                                      "mean").item(),
                "reward_margin": accelerator.reduce((chosen - rejected).mean(), "mean").item(),
                "lr": scheduler.get_last_lr()[0],
            })
            if run.step % steps_per_epoch == 0 and val_set:  # end of an epoch
                metrics = evaluate(policy, ref, val_loader, accelerator, config.beta)
                run.log(metrics)

    if val_set and not metrics:
        metrics = evaluate(policy, ref, val_loader, accelerator, config.beta)
    base_model, parent = lineage(config.model)
    run.save_final(policy, tokenizer, kind="dpo", base_model=base_model,
                   manifest_sha256=export.manifest_sha256, config=config, metrics=metrics,
                   parent=parent, extra={"reference_model": config.ref_model or config.model})
    return metrics
