"""Reward model training (training.md §2).

The loop, as in InstructGPT §3.5 and Llama 2 §3.2.2:

    for each batch of B preference groups (a ranking of K, or a pair with margin m):
        r = r_θ(x, y) for every completion of every group   # one forward per completion
        loss = mean over groups of  −mean_(w,l) log σ(r_w − r_l − m)
             (+ c · mean (r_w + r_l)²)                       # optional centring term
        step
    offset = mean r_θ over the training demonstrations      # InstructGPT: demos score 0

``listwise=False`` makes every pair of a ranking its own group (TRL's way; the
benchmark bench/bench_reward_listwise.py compares the two). With
``objective="both"`` the trunk carries two heads, helpfulness and safety
(Llama 2), each trained on its own comparisons in the same batches.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import Tensor, nn
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from trainer.chat import encode_prompt_completion
from trainer.collate import MARGIN_LABELS, collate_groups, pad_token_id, right_pad
from trainer.contract import ContractError, Export, load_export
from trainer.data import PreferenceGroup, build_preference_groups
from trainer.losses import center_rewards_penalty, grouped_ranking_loss
from trainer.reward_config import RewardConfig
from trainer.reward_model import load_reward_model, score, set_reward_offset
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

__all__ = ["RewardConfig", "demonstration_offset", "evaluate", "train"]

HEADS_BY_OBJECTIVE = {"helpful": ["helpful"], "safety": ["safety"], "both": ["helpful", "safety"]}


def _groups(export: Export, split: str, tokenizer: PreTrainedTokenizerBase,
            config: RewardConfig, heads: list[str]) -> list[tuple[PreferenceGroup, int]]:
    """(group, head index) for every head's comparisons in ``split``."""
    out: list[tuple[PreferenceGroup, int]] = []
    for h, name in enumerate(heads):
        groups = build_preference_groups(
            export, split, tokenizer, config.max_length,  # type: ignore[arg-type]
            listwise=config.listwise, margin_scale=config.margin_scale,
            margin_mapping=config.margin_mapping, objective=name,  # type: ignore[arg-type]
        )
        out.extend((g, h) for g in groups)
    return out


def _pair_scores(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(r_w, r_l) [P] for every pair of the batch, from one forward of all N sequences."""
    scores = score(model, batch["input_ids"], batch["attention_mask"], raw=True)  # [N, H]
    return scores[batch["better"], batch["head"]], scores[batch["worse"], batch["head"]]


def evaluate(model: nn.Module, loader: Any, accelerator: Accelerator, heads: list[str]
             ) -> dict[str, float]:
    """Pairwise accuracy (overall and per margin label), mean margin r_w − r_l and loss,
    per head. Metric names: ``val_accuracy`` … for the first head, ``val_<head>_…`` after."""
    n_heads, n_labels = len(heads), len(MARGIN_LABELS)
    correct = torch.zeros(n_heads, n_labels, device=accelerator.device)
    count = torch.zeros(n_heads, n_labels, device=accelerator.device)
    margin_sum = torch.zeros(n_heads, device=accelerator.device)
    loss_sum = torch.zeros(n_heads, device=accelerator.device)  # Σ over groups of group loss
    group_count = torch.zeros(n_heads, device=accelerator.device)
    model.eval()
    with torch.no_grad():
        for batch in loader:
            r_w, r_l = _pair_scores(model, batch)
            diff = r_w - r_l
            for h in range(n_heads):
                sel = batch["head"] == h
                if not sel.any():
                    continue
                _, group = torch.unique(batch["group"][sel], return_inverse=True)
                n_groups = int(group.max().item()) + 1
                loss = grouped_ranking_loss(r_w[sel], r_l[sel], group, batch["margin"][sel])
                loss_sum[h] += loss * n_groups
                group_count[h] += n_groups
                margin_sum[h] += diff[sel].sum()
                labels = batch["label"][sel]
                correct[h].index_add_(0, labels, (diff[sel] > 0).float())
                count[h].index_add_(0, labels, torch.ones_like(diff[sel]))
    model.train()
    correct, count, margin_sum, loss_sum, group_count = (
        accelerator.reduce(t, "sum")
        for t in (correct, count, margin_sum, loss_sum, group_count)
    )
    metrics: dict[str, float] = {}
    for h, name in enumerate(heads):
        total = count[h].sum().item()
        if total == 0:
            continue
        prefix = "val_" if h == 0 else f"val_{name}_"
        metrics[f"{prefix}accuracy"] = correct[h].sum().item() / total
        metrics[f"{prefix}mean_margin"] = margin_sum[h].item() / total
        metrics[f"{prefix}loss"] = loss_sum[h].item() / max(group_count[h].item(), 1.0)
        for j, label in enumerate(MARGIN_LABELS):
            if count[h, j] > 0:
                metrics[f"{prefix}accuracy/{label}"] = (correct[h, j] / count[h, j]).item()
    return metrics


def demonstration_offset(model: nn.Module, export: Export, tokenizer: PreTrainedTokenizerBase,
                         accelerator: Accelerator, max_length: int, batch_size: int,
                         head: int = 0) -> float:
    """Mean raw score of the training demonstrations (prompt ⊕ its last assistant turn).
    InstructGPT subtracts this so that demonstrations score 0 on average."""
    demos = export.sft.get("train", [])
    seqs = [encode_prompt_completion(tokenizer, d.messages[:-1], d.messages[-1:],
                                     max_length).input_ids for d in demos]
    seqs = seqs[accelerator.process_index::accelerator.num_processes]
    total = torch.zeros(2, device=accelerator.device)  # (Σ score, count)
    pad = pad_token_id(tokenizer)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(seqs), batch_size):
            chunk = seqs[i:i + batch_size]
            ids = right_pad(chunk, pad).to(accelerator.device)
            mask = right_pad([[1] * len(s) for s in chunk], 0).to(accelerator.device)
            total[0] += score(model, ids, mask, raw=True)[:, head].sum()
            total[1] += len(chunk)
    model.train()
    total = accelerator.reduce(total, "sum")
    return (total[0] / total[1]).item() if total[1] > 0 else 0.0


def train(
    config: RewardConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """Train a reward model on ``config.data``; returns the final validation metrics."""
    accelerator = make_accelerator(config.mixed_precision, config.gradient_accumulation_steps)
    set_seed(config.seed)
    export = load_export(config.data)
    tokenizer = AutoTokenizer.from_pretrained(config.model)
    heads = HEADS_BY_OBJECTIVE[config.objective]
    train_items = _groups(export, "train", tokenizer, config, heads)
    val_items = _groups(export, "validation", tokenizer, config, heads)
    if not train_items:
        raise ContractError("rankings.train.jsonl", None, "no comparisons (nor pairs.train.jsonl)"
                            f" for the {config.objective!r} objective")

    model: nn.Module = load_reward_model(config.model, heads)
    model = prepare_model(model, gradient_checkpointing=config.gradient_checkpointing,
                          lora=config.lora, lora_r=config.lora_r, lora_alpha=config.lora_alpha,
                          lora_dropout=config.lora_dropout, lora_task_type="SEQ_CLS",
                          lora_modules_to_save=["score"])
    optimizer = make_optimizer(model, config.learning_rate, config.weight_decay)
    collate = partial(collate_groups, pad_id=pad_token_id(tokenizer))
    train_loader = make_loader(train_items, config.batch_size, collate, seed=config.seed)
    val_loader = make_loader(val_items, config.batch_size, collate, shuffle=False)
    model, optimizer, train_loader, val_loader = accelerator.prepare(
        model, optimizer, train_loader, val_loader)
    steps_per_epoch = -(-len(train_loader) // config.gradient_accumulation_steps)
    total_steps = steps_per_epoch * config.epochs
    scheduler = accelerator.prepare(make_scheduler(optimizer, accelerator, total_steps,
                                                   config.warmup_ratio, config.lr_scheduler))
    run = Run(config.out, "rm", accelerator, total_steps, callback=callback,
              should_stop=should_stop, save_every=config.save_steps)
    if config.resume:
        run.resume()

    metrics: dict[str, float] = {}
    model.train()
    for _, batch in run.iterate(train_loader, config.epochs):
        with accelerator.accumulate(model):
            r_w, r_l = _pair_scores(model, batch)  # [P] each
            loss = grouped_ranking_loss(r_w, r_l, batch["group"], batch["margin"])
            if config.center_rewards_coefficient:
                loss = loss + center_rewards_penalty(r_w, r_l, config.center_rewards_coefficient)
            accelerator.backward(loss)
            if accelerator.sync_gradients and config.max_grad_norm:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if accelerator.sync_gradients:
            accuracy = ((r_w - r_l) > 0).float().mean()
            run.finish_step({
                "loss": accelerator.reduce(loss.detach(), "mean").item(),
                "accuracy": accelerator.reduce(accuracy, "mean").item(),
                "lr": scheduler.get_last_lr()[0],
            })
            if run.step % steps_per_epoch == 0 and val_items:  # end of an epoch
                metrics = evaluate(model, val_loader, accelerator, heads)
                run.log(metrics)

    if val_items and not metrics:  # resumed after the last epoch ended
        metrics = evaluate(model, val_loader, accelerator, heads)
    offsets = [0.0] * len(heads)
    if config.compute_offset and "helpful" in heads and export.sft.get("train"):
        # Only the helpfulness head: the demonstrations are helpful answers, and the
        # safety head's 0.15 threshold (Llama 2) is defined on its uncorrected scale.
        offsets[heads.index("helpful")] = demonstration_offset(
            model, export, tokenizer, accelerator, config.max_length, config.batch_size,
            head=heads.index("helpful"))
        metrics["reward_offset"] = offsets[heads.index("helpful")]
    set_reward_offset(accelerator.unwrap_model(model), offsets)
    base_model, parent = lineage(config.model)
    run.save_final(model, tokenizer, kind="reward_model", base_model=base_model,
                   manifest_sha256=export.manifest_sha256, config=config, metrics=metrics,
                   parent=parent, extra={"reward_heads": heads, "reward_offset": offsets})
    return metrics
