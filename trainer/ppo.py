"""RLHF with PPO: InstructGPT §3.5 (Ouyang et al. 2022, arXiv:2203.02155), after
Ziegler et al. 2019 (arXiv:1909.08593) and Stiennon et al. 2020 (arXiv:2009.01325).

Four models:

    π_θ     policy, initialised from the SFT model            trainable
    π_ref   reference, a frozen copy of the SFT model          frozen
    r_φ     reward model (or Llama 2's helpful + safety pair)  frozen
    V_ψ     value model, initialised from the reward model     trainable

Objective maximised (docs/training.md §3):

    E_{x∼D, y∼π_θ}[ r_φ(x, y) − β·log(π_θ(y|x) / π_ref(y|x)) ]  + γ_ptx·E_{demos}[log π_θ]

One iteration of the loop in :meth:`PPOTrainer.train` (the algorithm box):

    1. roll out   y ∼ π_θ(·|x) for a batch of prompts (sampling, KV cache)
    2. score      r_φ(x, y), one number per sample
    3. evaluate   log π_θ_old(y_t), log π_ref(y_t), V_old(s_t) on every response token
    4. reward     r_t = −β·(log π_old − log π_ref), plus r_φ at the last token
    5. advantage  GAE(γ, λ) on V_old, whitened over the batch
    6. learn      ppo_epochs passes of minibatch updates: clipped surrogate + clipped
                  value loss (− entropy bonus) (+ γ_ptx · SFT loss on demonstrations)
    7. adapt β    toward the target KL (Ziegler et al. 2019), if asked

Layout of a rollout: generation left-pads prompts (generation.py); for every
forward pass after that the batch is re-packed *right*-padded — prompt tokens,
then response tokens, then padding — so positions are plain 0..L−1 and every
model (policy, reference, value, reward) reads it as it would one unpadded
sequence. ``positions[b, t]`` is where response token t of row b sits; its
log-probability and value are read from the logits/hidden state at
``positions − 1``, the state *before* the token was chosen.

A "step" of the run (``Run.step``, progress, checkpoints) is one PPO iteration:
a rollout and all the updates made on it; checkpoints fall between iterations
so a resumed run continues with the next prompt batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, cast

import torch
from accelerate.utils import set_seed
from torch import Tensor, nn
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedTokenizerBase,
)

from trainer.chat import encode_prompt, pad_token_id
from trainer.collate import collate_sft
from trainer.contract import PromptRecord, load_export
from trainer.data import build_prompts, build_sft_examples, held_out_prompts
from trainer.generation import (
    decode_responses,
    gather_steps,
    generate,
    pack_right,
    sampled_kl,
)
from trainer.loop import BestTracker
from trainer.losses import sft_loss
from trainer.ppo_config import PPOConfig
from trainer.reward_model import load_reward_model, per_token_values
from trainer.rl_math import (
    AdaptiveKLController,
    FixedKLController,
    KLController,
    entropy_from_logits,
    gae,
    kl_penalized_rewards,
    logprobs_from_logits,
    masked_mean,
    masked_whiten,
    policy_loss,
    value_loss,
)
from trainer.runtime import (
    BEST_DIR,
    ProgressCallback,
    Run,
    lineage,
    make_accelerator,
    make_scheduler,
    prepare_model,
)
from trainer.scoring import RewardFunction, Samples, freeze, scorer_from_options

VALUE_DIR = "value_model"  # out/value_model/ with save_value_model

__all__ = [
    "VALUE_DIR",
    "Experience",
    "PPOConfig",
    "PPOTrainer",
    "train",
]


# ---------------------------------------------------------------- rollouts


@dataclass
class Experience:
    """A scored rollout, packed right-padded. B rows, L = P + R columns, R response slots."""

    input_ids: Tensor       # [B, L] prompt ⊕ response ⊕ padding
    attention_mask: Tensor  # [B, L]
    positions: Tensor       # [B, R] column of response token t in input_ids
    response_ids: Tensor    # [B, R]
    mask: Tensor            # [B, R] 1 on real response tokens (through the first EOS)
    old_logprobs: Tensor    # [B, R] log π_old(y_t), the sampling policy
    ref_logprobs: Tensor    # [B, R] log π_ref(y_t)
    old_values: Tensor      # [B, R] V_old(s_t)
    advantages: Tensor      # [B, R] whitened GAE
    returns: Tensor         # [B, R] value targets

    def rows(self, index: Tensor) -> Experience:
        return Experience(**{k: v[index] for k, v in self.__dict__.items()})


def _disable_dropout(model: nn.Module) -> None:
    """Dropout would make π_θ ≠ π_old on the very first minibatch (ratio ≠ 1 for
    no reason) and makes values noisy; RLHF implementations turn it off
    (Huang et al. 2024, arXiv:2403.17031)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
        for name, value in list(vars(module).items()):
            if "dropout" in name and isinstance(value, float):
                setattr(module, name, 0.0)


# ---------------------------------------------------------------- the trainer


class PPOTrainer:
    """Holds the four models and runs the loop. ``reward_fn`` replaces the reward
    models (``config.reward_model`` may then be empty)."""

    def __init__(
        self,
        config: PPOConfig,
        *,
        reward_fn: RewardFunction | None = None,
        callback: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        if not config.data or not config.model or not config.out:
            raise ValueError("PPO needs data, model and out")
        if reward_fn is None and not config.reward_model:
            raise ValueError("PPO needs a reward_model (or a reward function)")
        self.config = cfg = config
        set_seed(cfg.seed)
        self.accelerator = acc = make_accelerator(cast(Any, cfg.mixed_precision),
                                                  cfg.gradient_accumulation_steps)

        # Data: the prompt set, and the demonstrations for PPO-ptx.
        self.export = load_export(cfg.data)
        self.tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(cfg.model)
        self.pad_id = pad_token_id(self.tokenizer)
        self.prompts = build_prompts(self.export)
        if not self.prompts:
            raise ValueError(f"{cfg.data}: the export has no prompts to train PPO on")
        self.prompts_truncated = 0
        self.prompt_ids = [self._encode_prompt(p) for p in self.prompts]
        # Held-out prompts for evaluation: validation prompts never used for rollouts.
        self.eval_records = held_out_prompts(self.export, self.prompts)[:cfg.eval_prompts]
        self.eval_ids = [encode_prompt(self.tokenizer, p.prompt, cfg.max_length).input_ids
                         for p in self.eval_records]
        self.demos = (build_sft_examples(self.export.sft.get("train", []), self.tokenizer,
                                         cfg.max_length + cfg.max_new_tokens)
                      if cfg.ptx_coef > 0 else [])
        if cfg.ptx_coef > 0 and not self.demos:
            raise ValueError("ptx_coef > 0 needs demonstrations (sft.train.jsonl) in the export")

        # Models. The reference is a second, frozen load of the SFT weights.
        policy: nn.Module = AutoModelForCausalLM.from_pretrained(cfg.model)
        self.ref_policy: nn.Module = freeze(AutoModelForCausalLM.from_pretrained(cfg.model))
        value_path = cfg.value_model or cfg.reward_model or cfg.model
        # The value head starts from the RM's helpfulness head (a fresh one on a plain LM).
        value: Any = load_reward_model(value_path)
        if value.config.vocab_size != cast(Any, policy).config.vocab_size:
            raise ValueError(f"value model {value_path} does not share the policy's vocabulary; "
                             "set value_model to a folder with the policy's tokenizer")
        for m in (policy, value, self.ref_policy):
            _disable_dropout(m)
        lora_kwargs: dict[str, Any] = dict(lora=cfg.lora, lora_r=cfg.lora_r,
                                           lora_alpha=cfg.lora_alpha,
                                           lora_dropout=cfg.lora_dropout)
        policy = prepare_model(policy, gradient_checkpointing=cfg.gradient_checkpointing,
                               **lora_kwargs)
        value = prepare_model(value, gradient_checkpointing=cfg.gradient_checkpointing,
                              lora_task_type="SEQ_CLS", lora_modules_to_save=["score"],
                              **lora_kwargs)
        self.reward_fn: RewardFunction = reward_fn or scorer_from_options(
            cfg, cfg.max_length + cfg.max_new_tokens, acc.device)

        # One AdamW over both trainable models (eps 1e-5: Huang et al. 2024, detail 3).
        optimizer = torch.optim.AdamW(
            [{"params": [p for p in policy.parameters() if p.requires_grad],
              "lr": cfg.learning_rate},
             {"params": [p for p in value.parameters() if p.requires_grad],
              "lr": cfg.value_learning_rate or cfg.learning_rate}],
            eps=1e-5, weight_decay=cfg.weight_decay,
        )
        world = acc.num_processes
        self.total_steps = cfg.steps or cfg.epochs * math.ceil(
            len(self.prompts) / (cfg.rollout_batch_size * world))
        micro = math.ceil(cfg.rollout_batch_size / cfg.batch_size)
        updates = self.total_steps * cfg.ppo_epochs * math.ceil(micro / cfg.gradient_accumulation_steps)
        scheduler = make_scheduler(optimizer, acc, updates, cfg.warmup_ratio, cfg.lr_scheduler)
        self.policy, self.value_model, self.optimizer, self.scheduler = acc.prepare(
            policy, value, optimizer, scheduler)
        self.ref_policy.to(acc.device)

        self.kl_ctl: KLController = (
            AdaptiveKLController(cfg.kl_coef, cfg.target_kl, cfg.kl_horizon)
            if cfg.adaptive_kl else FixedKLController(cfg.kl_coef))
        acc.register_for_checkpointing(self.kl_ctl)  # β is part of the resumable state
        self.run = Run(cfg.out, "ppo", acc, self.total_steps, callback=callback, config=cfg,
                       should_stop=should_stop, save_every=cfg.save_steps)
        self._perms: dict[int, list[int]] = {}

    # ------------------------------------------------------------ data

    def _encode_prompt(self, record: PromptRecord) -> list[int]:
        encoded = encode_prompt(self.tokenizer, record.prompt, self.config.max_length)
        self.prompts_truncated += encoded.truncated
        return encoded.input_ids

    def _prompt_batch(self, step: int) -> list[int]:
        """This process's prompt indices for iteration ``step``: a stream of per-epoch
        permutations (seeded, so a resumed run picks up the same order), cut into
        global batches, each split across processes."""
        n, world = len(self.prompts), self.accelerator.num_processes
        size = self.config.rollout_batch_size * world
        picked = []
        for q in range(step * size, (step + 1) * size):
            epoch, i = divmod(q, n)
            if epoch not in self._perms:
                g = torch.Generator().manual_seed(self.config.seed + epoch)
                self._perms = {epoch: torch.randperm(n, generator=g).tolist()}
            picked.append(self._perms[epoch][i])
        return picked[self.accelerator.process_index::world]

    def _ptx_batch(self, draw: int) -> dict[str, Tensor]:
        """A micro-batch of demonstrations, drawn with replacement (a seeded draw, so a
        resumed run sees the same ones): input_ids, attention_mask, labels [B, T]."""
        cfg = self.config
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + draw)
        idx = torch.randint(len(self.demos), (cfg.ptx_batch_size,), generator=g).tolist()
        batch = collate_sft([self.demos[i] for i in idx], self.pad_id)
        return {k: v.to(self.accelerator.device) for k, v in batch.items()}

    # ------------------------------------------------------------ model passes

    def _response_logits(self, model: nn.Module, exp_ids: Tensor, exp_mask: Tensor,
                         positions: Tensor) -> Tensor:
        """Logits that chose each response token, at the sampling temperature. [B, R, V]."""
        logits = model(input_ids=exp_ids, attention_mask=exp_mask, use_cache=False).logits
        return gather_steps(logits, positions).float() / self.config.temperature

    def _response_values(self, exp_ids: Tensor, exp_mask: Tensor, positions: Tensor) -> Tensor:
        """V(s_t) for each response token: the value head on the state before it. [B, R]."""
        values = per_token_values(self.value_model, exp_ids, exp_mask)  # [B, L]
        return gather_steps(values.float(), positions)

    # ------------------------------------------------------------ 1–5: rollout to advantages

    @torch.no_grad()
    def rollout(self, indices: list[int]) -> tuple[Samples, Tensor]:
        """Sample one response per prompt with the current policy and score it -> (samples, r [B])."""
        cfg = self.config
        policy = self.accelerator.unwrap_model(self.policy)
        generation = generate(policy, self.tokenizer, [self.prompt_ids[i] for i in indices],
                              max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature)
        samples = Samples([self.prompts[i] for i in indices], generation,
                          decode_responses(self.tokenizer, generation))
        scores = self.reward_fn(samples).float().cpu()  # [B]
        if cfg.missing_eos_penalty is not None:
            scores = torch.where(generation.ended, scores, scores - cfg.missing_eos_penalty)
        return samples, scores

    @torch.no_grad()
    def make_experience(self, samples: Samples, scores: Tensor) -> tuple[Experience, dict[str, float]]:
        """log-probs, values, KL-shaped rewards and GAE advantages for a scored rollout."""
        cfg, dev = self.config, self.accelerator.device
        ids, attn, positions = pack_right(samples.generation, self.pad_id)
        ids, attn, positions = ids.to(dev), attn.to(dev), positions.to(dev)
        response_ids = samples.generation.response_ids.to(dev)
        mask = samples.generation.response_mask.to(dev).float()
        self.policy.eval()
        self.value_model.eval()
        with self.accelerator.autocast():
            logits = self._response_logits(self.policy, ids, attn, positions)
            old_logprobs = logprobs_from_logits(logits, response_ids)
            entropy = masked_mean(entropy_from_logits(logits), mask)
            del logits
            ref_logits = self._response_logits(self.ref_policy, ids, attn, positions)
            ref_logprobs = logprobs_from_logits(ref_logits, response_ids)
            del ref_logits
            old_values = self._response_values(ids, attn, positions) * mask
        scores = scores.to(dev)
        raw_scores = scores
        if cfg.whiten_scores and scores.numel() > 1:
            scores = (scores - scores.mean()) / (scores.std() + 1e-8)
        # r_t = −β·(log π_old − log π_ref) per token, + r_φ at the last token.
        rewards, kl = kl_penalized_rewards(scores, old_logprobs, ref_logprobs, mask,
                                           self.kl_ctl.value, cfg.score_clip)
        advantages, returns = gae(rewards, old_values, mask, cfg.gamma, cfg.lam)
        advantages = masked_whiten(advantages, mask)
        exp = Experience(ids, attn, positions, response_ids, mask, old_logprobs * mask,
                         ref_logprobs * mask, old_values, advantages, returns)
        non_score = (-self.kl_ctl.value * kl.sum(-1)).mean().item()
        # TRL's PPOTrainer names, so the curves read as TRL users expect.
        stats = {
            "objective/scores": raw_scores.mean().item(),
            "objective/kl": kl.sum(-1).mean().item(),  # per response, nats: Σ_t log π_old/π_ref
            "objective/non_score_reward": non_score,
            "objective/rlhf_reward": scores.mean().item() + non_score,
            "objective/entropy": entropy.item(),
            "eos_fraction": samples.generation.ended.float().mean().item(),
            "response_length": mask.sum(-1).mean().item(),
            "val/value_mean": masked_mean(old_values, mask).item(),
            "val/return_mean": masked_mean(returns, mask).item(),
        }
        return exp, stats

    # ------------------------------------------------------------ 6: PPO updates

    def learn(self, exp: Experience, step: int) -> dict[str, float]:
        """``ppo_epochs`` passes of shuffled minibatch updates on one experience batch."""
        cfg, acc = self.config, self.accelerator
        self.policy.train()
        self.value_model.train()
        totals: dict[str, float] = {}
        n_minibatches = 0
        B = exp.input_ids.shape[0]
        g = torch.Generator().manual_seed(cfg.seed * 7919 + step)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(B, generator=g).to(exp.input_ids.device)
            for start in range(0, B, cfg.batch_size):
                mb = exp.rows(order[start:start + cfg.batch_size])
                with acc.accumulate(self.policy, self.value_model):
                    logits = self._response_logits(self.policy, mb.input_ids,
                                                   mb.attention_mask, mb.positions)
                    logprobs = logprobs_from_logits(logits, mb.response_ids)
                    pg = policy_loss(logprobs, mb.old_logprobs, mb.advantages, mb.mask,
                                     cfg.clip_range)
                    entropy = masked_mean(entropy_from_logits(logits), mb.mask)
                    del logits
                    values = self._response_values(mb.input_ids, mb.attention_mask,
                                                   mb.positions)
                    vf = value_loss(values, mb.old_values, mb.returns, mb.mask,
                                    cfg.clip_range_value)
                    loss = pg.loss + cfg.vf_coef * vf.loss - cfg.entropy_coef * entropy
                    ptx = torch.zeros((), device=loss.device)
                    if cfg.ptx_coef > 0:
                        # PPO-ptx (InstructGPT eq. 2): keep the likelihood of human
                        # demonstrations up, against the "alignment tax".
                        demos = self._ptx_batch(step * 10_007 + n_minibatches)
                        logits = self.policy(input_ids=demos["input_ids"],
                                             attention_mask=demos["attention_mask"],
                                             use_cache=False).logits
                        ptx = sft_loss(logits, demos["labels"])
                        loss = loss + cfg.ptx_coef * ptx
                    acc.backward(loss)
                    grad_norm = torch.zeros(())
                    if acc.sync_gradients:
                        grad_norm = acc.clip_grad_norm_(
                            list(self.policy.parameters()) + list(self.value_model.parameters()),
                            cfg.max_grad_norm if cfg.max_grad_norm > 0 else math.inf)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad(set_to_none=True)
                batch_stats = {
                    "loss/policy_avg": pg.loss.item(), "loss/value_avg": vf.loss.item(),
                    "policy/clipfrac_avg": pg.clip_fraction.item(),
                    "policy/approxkl_avg": pg.approx_kl.item(),
                    "val/clipfrac_avg": vf.clip_fraction.item(),
                    "loss/ptx_avg": ptx.item(), "policy/entropy_avg": entropy.item(),
                    "grad_norm": float(grad_norm),
                }
                for k, v in batch_stats.items():
                    totals[k] = totals.get(k, 0.0) + v
                n_minibatches += 1
        out = {k: v / max(1, n_minibatches) for k, v in totals.items()}
        if cfg.ptx_coef <= 0:
            out.pop("loss/ptx_avg")
        return out

    # ------------------------------------------------------------ the loop

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """The policy on the held-out prompts: one sample each (seeded, at the training
        temperature), its reward-model score and KL(π‖π_ref) in nats per response.
        Every process evaluates the same prompts, so all take the same decisions."""
        cfg = self.config
        if not self.eval_ids:
            return {}
        policy: Any = self.accelerator.unwrap_model(self.policy)
        batches = sampled_kl(policy, cast(Any, self.ref_policy), self.tokenizer, self.eval_ids,
                             max_new_tokens=cfg.max_new_tokens,
                             batch_size=cfg.rollout_batch_size, seed=cfg.seed + 7919,
                             temperature=cfg.temperature)
        scores, kls, ended, lengths = [], [], [], []
        done = 0
        for gen, kl in batches:
            records = self.eval_records[done:done + len(kl)]
            done += len(kl)
            samples = Samples(records, gen, decode_responses(self.tokenizer, gen))
            scores.append(self.reward_fn(samples).float().cpu())
            kls.append(kl)
            ended.append(gen.ended.float())
            lengths.append(gen.response_lengths.float())
        score, kl_mean = torch.cat(scores).mean().item(), torch.cat(kls).mean().item()
        policy.train()
        return {"val_score": score, "val_kl": kl_mean,
                "val_rlhf_reward": score - self.kl_ctl.value * kl_mean,
                "val_eos_fraction": torch.cat(ended).mean().item(),
                "val_response_length": torch.cat(lengths).mean().item()}

    def _reduce(self, stats: dict[str, float]) -> dict[str, float]:
        if self.accelerator.num_processes == 1:
            return stats
        keys = sorted(stats)
        t = torch.tensor([stats[k] for k in keys], device=self.accelerator.device)
        t = self.accelerator.reduce(t, reduction="mean")
        return dict(zip(keys, t.tolist(), strict=True))

    def train(self) -> dict[str, float]:
        """Run the PPO iterations, save the policy, return the last iteration's metrics."""
        cfg, run = self.config, self.run
        if cfg.resume:
            run.resume()
        metrics: dict[str, float] = {}
        evaluation: dict[str, float] = {}
        best = BestTracker(cfg.metric_for_best_model or "val_rlhf_reward", run)

        def evaluate_now() -> None:
            nonlocal evaluation
            evaluation = self.evaluate()
            if not evaluation:
                return
            run.log(evaluation)
            # With a KL budget only checkpoints within it compete for best.
            within = not cfg.adaptive_kl or evaluation["val_kl"] <= cfg.target_kl
            if cfg.save_best and within and best.improves(evaluation):
                best.record(evaluation)
                run.save_model(self.policy, self.tokenizer, subdir=BEST_DIR, kind="ppo",
                               **self._save_fields(evaluation, {"role": "best",
                                                                "step": run.step}))

        if run.step == 0:
            evaluate_now()  # the baseline: π = π_ref, KL 0
        evaluated_at = run.step if run.step == 0 else -1  # a resumed run evaluates at its end
        while run.step < self.total_steps:
            step = run.step
            indices = self._prompt_batch(step)
            # 1–2. Sample y ∼ π_θ(·|x) and score it with the reward model.
            samples, scores = self.rollout(indices)
            # 3–5. Log-probs of π_old and π_ref, values, KL-shaped rewards, GAE.
            exp, rollout_stats = self.make_experience(samples, scores)
            # 6. Several epochs of clipped-surrogate minibatch updates on this batch.
            learn_stats = self.learn(exp, step)
            metrics = self._reduce({**rollout_stats, **learn_stats,
                                    "beta": self.kl_ctl.value,
                                    "learning_rate": self.scheduler.get_last_lr()[0]})
            # 7. Move β toward the target KL with this batch's measured KL.
            self.kl_ctl.update(metrics["objective/kl"],
                               cfg.rollout_batch_size * self.accelerator.num_processes)
            if cfg.log_samples and self.accelerator.is_main_process:
                self._log_samples(step, samples, scores)
            run.finish_step(metrics)
            if cfg.eval_steps and run.step % cfg.eval_steps == 0:
                evaluate_now()
                evaluated_at = run.step
        if evaluated_at != run.step:
            evaluate_now()
        # value_model/ first: rankwise.json, written last, marks the folder complete.
        if cfg.save_value_model and self.accelerator.is_main_process:
            value = self.accelerator.unwrap_model(self.value_model)
            if hasattr(value, "merge_and_unload"):
                value = value.merge_and_unload()
            value.save_pretrained(run.out_dir / VALUE_DIR)
            self.tokenizer.save_pretrained(run.out_dir / VALUE_DIR)
        self.accelerator.wait_for_everyone()
        metrics = {**metrics, **evaluation, "prompts": float(len(self.prompts)),
                   "prompts_truncated": float(self.prompts_truncated),
                   "eval_prompts": float(len(self.eval_ids)), **self._scoring_counts()}
        summary: dict[str, Any] = {"role": "last", "step": run.step, "best": run.best,
                                   "last": {"step": run.step, "path": "."},
                                   "value_model": VALUE_DIR if cfg.save_value_model else None}
        if cfg.adaptive_kl:
            # The reward reached at the KL budget: the best evaluation within it.
            summary["at_budget"] = {"target_kl": cfg.target_kl, **(run.best or {})}
        if not self.eval_ids:
            summary["validation"] = "none: the export has no held-out (validation) prompts"
        run.save_model(self.policy, self.tokenizer, kind="ppo", final=True,
                       **self._save_fields(metrics, summary))
        return metrics

    def _save_fields(self, metrics: dict[str, float], extra: dict[str, Any]) -> dict[str, Any]:
        """What every saved policy's rankwise.json holds besides ``kind``."""
        cfg = self.config
        base, parent = lineage(cfg.model)
        return {"base_model": base, "manifest_sha256": self.export.manifest_sha256,
                "config": asdict(cfg), "metrics": metrics, "parent": parent,
                "extra": {"reward_model": cfg.reward_model or None,
                          "safety_reward_model": cfg.safety_reward_model, **extra}}

    def _scoring_counts(self) -> dict[str, float]:
        """Sequences the reward model scored and how many were cut to its max length."""
        scored = getattr(self.reward_fn, "scored", None)
        truncated = getattr(self.reward_fn, "truncated", None)
        if scored is None or truncated is None:
            return {}
        return {"scored": float(scored), "scored_truncated": float(truncated)}

    def _log_samples(self, step: int, samples: Samples, scores: Tensor) -> None:
        import json

        with (self.run.out_dir / "samples.jsonl").open("a", encoding="utf-8") as fh:
            for i in range(min(self.config.log_samples, len(samples.texts))):
                fh.write(json.dumps({"step": step, "prompt_id": samples.prompts[i].id,
                                     "prompt": samples.prompts[i].prompt,
                                     "response": samples.texts[i],
                                     "score": float(scores[i])}) + "\n")


def train(
    config: PPOConfig,
    *,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    reward_fn: RewardFunction | None = None,
) -> dict[str, float]:
    """Train a policy with PPO against the reward model(s); see :class:`PPOConfig`."""
    return PPOTrainer(config, reward_fn=reward_fn, callback=callback,
                      should_stop=should_stop).train()
