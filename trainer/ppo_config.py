"""PPOConfig: RLHF with PPO (loop: trainer/ppo.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from trainer.config import (
    CommonConfig,
    ConfigError,
    EvaluationOptions,
    RewardModelOptions,
    check_at_least,
)

__all__ = ["PPOConfig"]


@dataclass
class PPOConfig(RewardModelOptions, EvaluationOptions, CommonConfig):
    """PPO on the export's prompts (``prompts.jsonl``, else the prompts of its training
    records). ``model`` is the SFT policy; ``batch_size`` is the PPO minibatch."""

    value_model: str | None = field(
        default=None,
        metadata={"help": "Initial value model (default: the reward model, as OpenRLHF and "
                          "InstructGPT do). Any causal-LM folder works: a fresh scalar head is "
                          "added. Must share the policy's tokenizer."},
    )
    steps: int = field(
        default=0,
        metadata={"help": "PPO iterations (rollout + updates); 0 = epochs × ⌈prompts / "
                          "(rollout_batch_size × processes)⌉."},
    )
    rollout_batch_size: int = field(
        default=16,
        metadata={"help": "Prompts sampled per iteration per process (one response each)."},
    )
    batch_size: int = field(
        default=4,
        metadata={"help": "PPO minibatch: rollout rows per device per micro-batch."},
    )
    ppo_epochs: int = field(
        default=4,
        metadata={"help": "Passes of minibatch updates over each rollout batch (TRL: 4)."},
    )
    learning_rate: float = field(
        default=3e-6,
        metadata={"help": "Policy learning rate (InstructGPT: 9.65e-6 at 1.3B; TRL 3e-6).",
                  "aliases": ["--lr"]},
    )
    value_learning_rate: float | None = field(
        default=None,
        metadata={"help": "Value-model learning rate (default: learning_rate)."},
    )
    lr_scheduler: str = field(
        default="constant",
        metadata={"help": "transformers schedule over all PPO updates."},
    )
    max_length: int = field(
        default=256,
        metadata={"help": "Longest prompt in tokens (a longer one loses its oldest tokens, "
                          "keeping its head and the answer header); the reward model reads at "
                          "most max_length + max_new_tokens."},
    )
    max_new_tokens: int = field(
        default=64,
        metadata={"help": "Longest sampled response."},
    )
    temperature: float = field(
        default=1.0,
        metadata={"help": "Sampling temperature; log-probs are computed at the same "
                          "temperature so the importance ratio is exact."},
    )
    kl_coef: float = field(
        default=0.02,
        metadata={"help": "β, weight of the per-token KL penalty (InstructGPT 0.02, Llama 2 "
                          "0.01, DeepSpeed-Chat 0.1); the start value when adaptive_kl."},
    )
    adaptive_kl: bool = field(
        default=False,
        metadata={"help": "Adapt β toward target_kl (Ziegler et al. 2019 §2.2)."},
    )
    target_kl: float = field(
        default=6.0,
        metadata={"help": "Target KL(π‖π_ref) per response, in nats (Ziegler et al.: 6–10)."},
    )
    kl_horizon: float = field(
        default=10_000,
        metadata={"help": "Adaptive controller horizon in episodes: K_β = rollout size / "
                          "horizon."},
    )
    gamma: float = field(
        default=1.0,
        metadata={"help": "Discount γ of GAE (InstructGPT: 1, no discount)."},
    )
    lam: float = field(
        default=0.95,
        metadata={"help": "GAE λ (TRL, OpenRLHF: 0.95)."},
    )
    clip_range: float = field(
        default=0.2,
        metadata={"help": "PPO ε: the ratio π_θ/π_old is clipped to [1−ε, 1+ε]."},
    )
    clip_range_value: float = field(
        default=0.2,
        metadata={"help": "Value clip: V may move ±this from V_old per rollout."},
    )
    vf_coef: float = field(
        default=0.1,
        metadata={"help": "Weight of the value loss in the joint loss (TRL: 0.1)."},
    )
    entropy_coef: float = field(
        default=0.0,
        metadata={"help": "Weight of the entropy bonus (0 = off, as in InstructGPT)."},
    )
    score_clip: float | None = field(
        default=None,
        metadata={"help": "Clip r_φ to ±this before adding it (DeepSpeed-Chat: 5)."},
    )
    whiten_scores: bool = field(
        default=False,
        metadata={"help": "Whiten r_φ over each rollout batch (Llama 2's WHITEN; the paper "
                          "does not say which statistics, we use the batch's)."},
    )
    missing_eos_penalty: float | None = field(
        default=None,
        metadata={"help": "Subtract this from the score of responses cut at max_new_tokens "
                          "(no EOS), so the policy learns to finish (TRL)."},
    )
    ptx_coef: float = field(
        default=0.0,
        metadata={"help": "γ of PPO-ptx: weight of the SFT loss on the export's "
                          "demonstrations mixed into each update (InstructGPT: 27.8; 0 = off)."},
    )
    ptx_batch_size: int = field(
        default=4,
        metadata={"help": "Demonstrations per PPO-ptx micro-batch."},
    )
    save_value_model: bool = field(
        default=False,
        metadata={"help": "Also save the trained value model to out/value_model."},
    )
    eval_steps: int = field(
        default=0,
        metadata={"help": "Evaluate on held-out prompts (the export's validation prompts not "
                          "used for rollouts) before the first iteration, every N iterations "
                          "and after the last (0 = only before the first and after the last): "
                          "val_score, val_kl, val_rlhf_reward = val_score − β·val_kl."},
    )
    eval_prompts: int = field(
        default=64,
        metadata={"help": "Held-out prompts sampled per evaluation (0 = no evaluation)."},
    )
    log_samples: int = field(
        default=2,
        metadata={"help": "Sample (prompt, response, score) triples written to "
                          "out/samples.jsonl per iteration (0 = none)."},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        check_at_least(self, ("rollout_batch_size", "ppo_epochs", "max_new_tokens",
                              "ptx_batch_size"))
        check_at_least(self, ("eval_prompts",), 0)
        if self.temperature <= 0:
            raise ConfigError("temperature", "must be positive (PPO needs a sampling policy)")
        if not 0 < self.clip_range < 1:
            raise ConfigError("clip_range", "must be in (0, 1)")
