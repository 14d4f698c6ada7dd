"""Direct Preference Optimization (docs/training.md §4; Rafailov et al. 2023, arXiv:2305.18290).

The loop (the machinery — evaluation, best checkpoint, saving — is trainer/loop.py):

    π_ref = frozen copy of the starting policy (or config.ref_model)
    for each batch of pairs (y_w ≻ y_l | x), rankings expanded to their untied pairs:
        log π_θ(y|x), log π_ref(y|x) summed over completion tokens   # one forward each, 2B rows
        loss = −log σ(β[log π_θ(y_w) − log π_ref(y_w)] − β[log π_θ(y_l) − log π_ref(y_l)])
        step
    log TRL's names: rewards/{chosen,rejected,margins,accuracies}, logps/{chosen,rejected}
    (the implicit rewards are β·log(π_θ/π_ref))
    evaluate before the first step and every eval_steps: the same on the validation
    pairs, and val_kl = KL(π_θ‖π_ref) in nats per response on samples from π_θ for
    the validation prompts (the metrics above cannot show the policy drifting away;
    this can). With target_kl, the best checkpoint is chosen among evaluations within
    the budget and training stops at the first evaluation beyond it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from accelerate import Accelerator
from torch import Tensor, nn
from transformers import AutoModelForCausalLM

from trainer.chat import encode_prompt
from trainer.collate import collate_pairs
from trainer.contract import ContractError
from trainer.data import build_pairs, held_out_prompts
from trainer.dpo_config import DPOConfig
from trainer.generation import sampled_kl
from trainer.loop import fit, load_pretrained, open_session
from trainer.losses import dpo_loss, sequence_logprobs
from trainer.runtime import ProgressCallback

__all__ = ["DPOConfig", "evaluate", "train"]

# The per-pair statistics, under TRL's DPOTrainer names.
STATS = ("rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
         "logps/chosen", "logps/rejected")


def _logps(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
    """(chosen, rejected) sequence log-probs [B] from one forward over the [2B, T] batch."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logps = sequence_logprobs(logits, batch["input_ids"], batch["completion_mask"])  # [2B]
    half = logps.size(0) // 2
    return logps[:half], logps[half:]


def _dpo_step(policy: nn.Module, ref: nn.Module, batch: dict[str, Tensor], beta: float,
              accelerator: Accelerator) -> tuple[Tensor, dict[str, Tensor]]:
    """The loss and the per-pair statistics [B] of one batch."""
    policy_chosen, policy_rejected = _logps(policy, batch)
    with torch.no_grad(), accelerator.autocast():
        ref_chosen, ref_rejected = _logps(ref, batch)
    loss, chosen, rejected = dpo_loss(policy_chosen, policy_rejected, ref_chosen,
                                      ref_rejected, beta)
    stats = [chosen, rejected, chosen - rejected, (chosen > rejected).float(),
             policy_chosen.detach(), policy_rejected.detach()]
    return loss, dict(zip(STATS, stats, strict=True))


def evaluate(policy: nn.Module, ref: nn.Module, loader: Any, accelerator: Accelerator,
             beta: float) -> dict[str, float]:
    """``val_loss`` (mean DPO loss over every validation pair) and ``val_<stat>`` means."""
    totals = torch.zeros(len(STATS) + 2, device=accelerator.device)  # Σ loss·B, Σ stats, B
    policy.eval()
    with torch.no_grad():
        for batch in loader:
            loss, stats = _dpo_step(policy, ref, batch, beta, accelerator)
            n = stats["rewards/chosen"].numel()
            totals += torch.stack([loss * n, *(stats[k].sum() for k in STATS),
                                   torch.tensor(float(n), device=loss.device)])
    policy.train()
    totals = accelerator.reduce(totals, "sum")
    n = totals[-1].clamp(min=1)
    return {"val_loss": (totals[0] / n).item(),
            **{f"val_{k}": (totals[i + 1] / n).item() for i, k in enumerate(STATS)}}


def train(
    config: DPOConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict[str, float]:
    """DPO on the export's pairs (and expanded rankings); returns final metrics."""
    session = open_session(config)
    acc, tokenizer = session.accelerator, session.tokenizer
    train_set = build_pairs(session.export, "train", tokenizer, config.max_length,
                            expand_rankings=config.expand_rankings)
    val_set = build_pairs(session.export, "validation", tokenizer, config.max_length,
                          expand_rankings=config.expand_rankings)
    if not train_set:
        raise ContractError("pairs.train.jsonl", None,
                            "no preference pairs (nor rankings.train.jsonl to expand)")
    policy: nn.Module = load_pretrained(AutoModelForCausalLM, config.model)
    # The reference is a separate frozen copy, never passed to accelerator.prepare:
    # no optimizer state, no DDP wrapper, not in checkpoints (it never changes).
    ref: nn.Module = load_pretrained(AutoModelForCausalLM, config.ref_model or config.model,
                                     "ref_model" if config.ref_model else "model")
    ref.requires_grad_(False)
    ref.eval()
    ref.to(acc.device)
    kl_prompts = [encode_prompt(tokenizer, p.prompt, config.max_length).input_ids
                  for p in held_out_prompts(session.export, [])[:config.kl_samples]]

    def evaluate_all(model: nn.Module, loader: Any) -> dict[str, float]:
        metrics = evaluate(model, ref, loader, acc, config.beta)
        if kl_prompts:
            unwrapped: Any = acc.unwrap_model(model)
            batches = sampled_kl(unwrapped, ref, tokenizer,  # type: ignore[arg-type]
                                 kl_prompts, max_new_tokens=config.kl_max_new_tokens,
                                 batch_size=config.batch_size, seed=config.seed)
            kl = torch.cat([k for _, k in batches])
            metrics["val_kl"] = acc.reduce(kl.mean().to(acc.device), "mean").item()
            model.train()
        return metrics

    def over_budget(metrics: dict[str, float]) -> str | None:
        kl = metrics.get("val_kl")
        if config.target_kl is None or kl is None or kl <= config.target_kl:
            return None
        return f"val_kl {kl:.3g} exceeded the KL budget target_kl={config.target_kl:g}"

    budget = config.target_kl
    fitted = fit(session, "dpo", policy, train_set, val_set,
                 partial(collate_pairs, pad_id=session.pad_id),
                 lambda model, batch: _dpo_step(model, ref, batch, config.beta, acc),
                 evaluate_all, kind="dpo", best_metric="val_loss", callback=callback,
                 should_stop=should_stop, stop_after_eval=over_budget,
                 eligible_for_best=(lambda m: m.get("val_kl", 0.0) <= budget)
                 if budget is not None else None,
                 manifest={"reference_model": config.ref_model or config.model},
                 counts={**train_set.counts("train"), **val_set.counts("val")})
    return fitted.metrics
