"""Rejection-sampling fine-tuning: best-of-K (Llama 2 §3.2.3, arXiv:2307.09288) and
ReST's rising threshold (Gulcehre et al. 2023, arXiv:2308.08998).

One round (docs/training.md §5):

    1. sample     K completions y_1..y_K ∼ π(·|x) for every prompt x (KV cache)
    2. score      r_φ(x, y_k) with the frozen reward model(s)
    3. select     "best":      keep argmax_k r_φ(x, y_k)             (Llama 2)
                  "threshold": keep every y_k with r_φ ≥ τ_n, τ rising per round (ReST)
    4. write      the kept samples as SFT records to out/round_N.jsonl
    5. fine-tune  π on the kept set (plus every earlier round's, if pool_rounds —
                  Llama 2 did so from RLHF-V4 on to stop forgetting) with the SFT loss

repeated for ``rounds`` rounds, each starting from the previous round's policy.
The per-round metric to watch is the mean best reward: how good best-of-K is
under the current policy.

Checkpoints: one per round (rounds are few and long), so a cancelled run
resumes at the start of the interrupted round from that round's starting
weights; the round's samples are re-read from round_N.jsonl if they were
already written, so it fine-tunes on the same set.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, cast

import torch
from accelerate.utils import gather_object, set_seed
from torch import Tensor, nn
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from trainer.best_of_k_config import BestOfKConfig, Selection
from trainer.chat import Message, encode_prompt, pad_token_id
from trainer.collate import collate_sft
from trainer.contract import Demonstration, PromptRecord, load_export
from trainer.data import build_prompts, build_sft_examples
from trainer.generation import decode_responses, generate
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
from trainer.scoring import RewardFunction, Samples, scorer_from_options

__all__ = ["BestOfKConfig", "round_threshold", "select_above", "select_best", "train"]

# ---------------------------------------------------------------- selection rules


def select_best(scores: Tensor) -> Tensor:
    """scores [N, K] -> [N]: index of the highest-scored sample of each prompt
    (the first one on ties)."""
    return scores.argmax(dim=-1)


def select_above(scores: Tensor, threshold: float) -> list[tuple[int, int]]:
    """scores [N, K] -> every (prompt, sample) with score ≥ threshold, prompt-major."""
    return [(int(i), int(j)) for i, j in (scores >= threshold).nonzero().tolist()]


def round_threshold(config: BestOfKConfig, round_number: int) -> float:
    """τ_n = τ_1 + (n − 1)·step for round n = 1, 2, …"""
    return config.threshold + (round_number - 1) * config.threshold_step


# ---------------------------------------------------------------- round files


def _round_path(out: Path, round_number: int) -> Path:
    return out / f"round_{round_number}.jsonl"


def _write_jsonl_atomic(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _sft_record(round_number: int, prompt: PromptRecord, sample: int, text: str,
                score: float) -> dict[str, Any]:
    """A kept sample as a data-contract SFT record (extra fields are ignored by readers)."""
    messages: list[Message] = [*prompt.prompt, {"role": "assistant", "content": text}]
    return {"id": f"bok{round_number}_{prompt.id}_{sample}", "messages": messages,
            "category": prompt.category, "score": score, "round": round_number,
            "prompt_id": prompt.id}


# ---------------------------------------------------------------- the loop


@torch.no_grad()
def sample_and_score(
    policy: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[PromptRecord],
    reward_fn: RewardFunction,
    config: BestOfKConfig,
    check_cancelled: Callable[[], None] | None = None,
) -> tuple[list[list[str]], Tensor]:
    """K completions per prompt and their scores -> (texts [N][K], scores [N, K])."""
    encoded = [encode_prompt(tokenizer, p.prompt, config.max_length).input_ids for p in prompts]
    rows = [i for i in range(len(prompts)) for _ in range(config.k)]  # K copies, prompt-major
    texts: list[str] = []
    scores: list[Tensor] = []
    for start in range(0, len(rows), config.sample_batch_size):
        chunk = rows[start:start + config.sample_batch_size]
        gen = generate(cast(Any, policy), tokenizer, [encoded[i] for i in chunk],
                       max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                       top_p=config.top_p)
        samples = Samples([prompts[i] for i in chunk], gen, decode_responses(tokenizer, gen))
        texts.extend(samples.texts)
        scores.append(reward_fn(samples).float().cpu())
        if check_cancelled is not None:
            check_cancelled()
    k = config.k
    return [texts[i * k:(i + 1) * k] for i in range(len(prompts))], torch.cat(scores).view(-1, k)


def train(
    config: BestOfKConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    reward_fn: RewardFunction | None = None,
) -> dict[str, float]:
    """Run ``config.rounds`` rounds of best-of-K (or ReST) fine-tuning; returns the last
    round's metrics. ``reward_fn`` replaces the reward model(s)."""
    cfg = config
    if not cfg.data or not cfg.model or not cfg.out:
        raise ValueError("best-of-K needs data, model and out")
    if reward_fn is None and not cfg.reward_model:
        raise ValueError("best-of-K needs a reward_model (or a reward function)")
    acc = make_accelerator(cast(Any, cfg.mixed_precision), cfg.gradient_accumulation_steps)
    set_seed(cfg.seed)
    export = load_export(cfg.data)
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    all_prompts = build_prompts(export)
    if not all_prompts:
        raise ValueError(f"{cfg.data}: the export has no prompts")
    if cfg.max_prompts:
        all_prompts = all_prompts[:cfg.max_prompts]
    # Each process samples its own share of the prompts; the kept sets are gathered.
    my_prompts = all_prompts[acc.process_index::acc.num_processes]

    policy: nn.Module = AutoModelForCausalLM.from_pretrained(cfg.model)
    policy = prepare_model(policy, gradient_checkpointing=cfg.gradient_checkpointing,
                           lora=cfg.lora, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                           lora_dropout=cfg.lora_dropout)
    optimizer = make_optimizer(policy, cfg.learning_rate, cfg.weight_decay)
    # Updates per round for the LR schedule: exact for "best" without pooling,
    # an upper bound otherwise (a threshold may keep up to K per prompt).
    per_prompt = 1 if cfg.selection is Selection.best else cfg.k
    biggest_set = len(all_prompts) * per_prompt * (cfg.rounds if cfg.pool_rounds else 1)
    per_round = cfg.epochs * math.ceil(
        math.ceil(biggest_set / (cfg.batch_size * acc.num_processes))
        / cfg.gradient_accumulation_steps)
    scheduler = make_scheduler(optimizer, acc, per_round * cfg.rounds, cfg.warmup_ratio,
                               cfg.lr_scheduler)
    policy, optimizer, scheduler = acc.prepare(policy, optimizer, scheduler)
    scorer = reward_fn or scorer_from_options(cfg, cfg.max_length + cfg.max_new_tokens,
                                              acc.device)
    run = Run(cfg.out, "best_of_k", acc, cfg.rounds, callback=callback, config=cfg,
              should_stop=should_stop, save_every=1)
    if cfg.resume:
        run.resume()
    if should_stop is not None and run.step == 0:
        run.save_checkpoint()  # the weights a cancelled first round restarts from
    collate = partial(collate_sft, pad_id=pad_token_id(tokenizer))
    metrics: dict[str, float] = {}

    while run.step < cfg.rounds:
        rnd = run.step + 1
        path = _round_path(run.out_dir, rnd)
        round_stats: dict[str, float] = {"round": float(rnd)}
        if cfg.resume and path.is_file():
            kept = _read_jsonl(path)  # this round's samples were written before a cancel
        else:
            # 1–2. K samples per prompt from the current policy, scored by r_φ.
            set_seed(cfg.seed + 1009 * rnd + acc.process_index)
            texts, scores = sample_and_score(acc.unwrap_model(policy), tokenizer, my_prompts,
                                             scorer, cfg, run.check_cancelled)
            # 3. Selection: the argmax per prompt, or everything above τ_round.
            if cfg.selection is Selection.best:
                chosen = [(i, int(j)) for i, j in enumerate(select_best(scores).tolist())]
            else:
                tau = round_threshold(cfg, rnd)
                chosen = select_above(scores, tau)
                round_stats["threshold"] = tau
            mine = [_sft_record(rnd, my_prompts[i], j, texts[i][j], float(scores[i, j]))
                    for i, j in chosen]
            kept = gather_object(mine) if acc.num_processes > 1 else mine
            stats = torch.tensor([scores.max(-1).values.sum().item(), scores.sum().item(),
                                  float(scores.shape[0]), float(scores.numel())],
                                 device=acc.device)
            stats = acc.reduce(stats, "sum") if acc.num_processes > 1 else stats
            round_stats["mean_best_score"] = (stats[0] / stats[2]).item()
            round_stats["mean_score"] = (stats[1] / stats[3]).item()
            # 4. The kept set, as SFT records, before any training on it.
            if acc.is_main_process:
                _write_jsonl_atomic(path, kept)
        round_stats["kept"] = float(len(kept))
        if kept:
            round_stats["kept_mean_score"] = sum(r["score"] for r in kept) / len(kept)

        # 5. Fine-tune on this round's winners (and, pooled, on every earlier round's).
        pool = list(kept)
        if cfg.pool_rounds:
            for earlier in range(1, rnd):
                pool.extend(_read_jsonl(_round_path(run.out_dir, earlier)))
        demos = [Demonstration(r["id"], r["messages"], r.get("category")) for r in pool]
        examples = build_sft_examples(demos, tokenizer, cfg.max_length + cfg.max_new_tokens)
        round_stats["train_examples"] = float(len(examples))
        if examples:
            round_stats["sft_loss"] = _fine_tune(policy, optimizer, scheduler, examples,
                                                 collate, cfg, rnd, run)
        metrics = round_stats
        run.finish_step(round_stats)

    base, parent = lineage(cfg.model)
    run.save_model(policy, tokenizer, kind="best_of_k", base_model=base, final=True,
                   manifest_sha256=export.manifest_sha256, config=asdict(cfg),
                   metrics=metrics, parent=parent,
                   extra={"reward_model": cfg.reward_model or None,
                          "safety_reward_model": cfg.safety_reward_model})
    return metrics


def _fine_tune(policy: nn.Module, optimizer: Any, scheduler: Any, examples: list[Any],
               collate: Callable[[list[Any]], dict[str, Tensor]], cfg: BestOfKConfig,
               rnd: int, run: Run) -> float:
    """``cfg.epochs`` passes of the SFT loss over the kept samples; mean loss of the round."""
    acc = run.accelerator
    loader = acc.prepare(make_loader(examples, cfg.batch_size, collate, seed=cfg.seed + rnd))
    policy.train()
    total, n = 0.0, 0
    for epoch in range(cfg.epochs):
        loader.set_epoch(epoch)
        for batch in loader:
            with acc.accumulate(policy):
                logits = policy(input_ids=batch["input_ids"],
                                attention_mask=batch["attention_mask"]).logits  # [B, T, V]
                loss = sft_loss(logits, batch["labels"])
                acc.backward(loss)
                grad_norm = torch.zeros(())
                if acc.sync_gradients:
                    grad_norm = acc.clip_grad_norm_(
                        policy.parameters(),
                        cfg.max_grad_norm if cfg.max_grad_norm > 0 else math.inf)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            total += loss.item()
            n += 1
            if acc.sync_gradients:
                run.log({"sft_loss": loss.item(), "grad_norm": float(grad_norm),
                         "learning_rate": scheduler.get_last_lr()[0]}, stage="best_of_k/sft")
                run.check_cancelled()
    return total / max(1, n)
