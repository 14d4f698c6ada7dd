"""PPO rollout throughput: sampled response tokens per second, generation + scoring.

One PPO rollout (trainer/ppo.py) is: sample a response per prompt with the KV
cache, score it with the reward model, then forward the packed batch through
the policy, the frozen reference and the value model (log-probs and values per
token). This prints, per rollout batch size, the response tokens produced per
second for generation alone, for scoring alone (RM + three forwards), and for
the whole rollout, on the offline tiny model (CPU by default)::

    python bench/bench_ppo_rollout.py --batch-sizes 4 16 64 --threads 1 2>/dev/null

(figures go to stdout; model-loading chatter to stderr).

Tokens are counted from the response mask (real tokens up to and including
EOS), so early-stopping rows do not inflate the figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def _export(root: Path, n: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"id": f"q{i}", "prompt": [
        {"role": "user", "content": f"Question {i}: write something about item {i % 13}."}]})
        for i in range(n)]
    (root / "prompts.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "manifest.json").write_text(json.dumps(
        {"schema_version": 1, "files": {"prompts.jsonl": {"records": n}}}), encoding="utf-8")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from trainer.ppo import PPOConfig, PPOTrainer
    from trainer.reward_model import load_reward_model
    from trainer.tiny import build_tiny_model

    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_model(root / "policy", args.arch)
        rm = load_reward_model(model)
        rm.save_pretrained(root / "rm")  # type: ignore[operator]
        AutoTokenizer.from_pretrained(model).save_pretrained(root / "rm")
        data = _export(root / "export", max(args.batch_sizes) * (args.repeats + 1))
        device = "cuda" if torch.cuda.is_available() else "cpu"
        print(f"tiny {args.arch}, {device}, torch threads {torch.get_num_threads()}, "
              f"max_new_tokens {args.max_new_tokens}, {args.repeats} timed rollouts each")
        print(f"{'batch':>6} {'tokens':>8} {'gen tok/s':>10} {'score tok/s':>12} "
              f"{'rollout tok/s':>14}")
        for bs in args.batch_sizes:
            cfg = PPOConfig(data=str(data), model=str(model), out=str(root / f"out{bs}"),
                            reward_model=str(root / "rm"), rollout_batch_size=bs,
                            max_new_tokens=args.max_new_tokens, steps=args.repeats + 1,
                            log_samples=0)
            trainer = PPOTrainer(cfg)
            trainer.run.close()  # the run's progress bar would only show 0/N here
            gen_s = score_s = 0.0
            tokens = 0
            for step in range(args.repeats + 1):  # the first is a warm-up
                indices = trainer._prompt_batch(step)
                t0 = time.perf_counter()
                samples, scores = trainer.rollout(indices)  # sample + reward model
                t1 = time.perf_counter()
                trainer.make_experience(samples, scores)   # policy, reference, value
                t2 = time.perf_counter()
                if step == 0:
                    continue
                # rollout() holds generation and RM scoring; time the RM separately.
                t_rm = time.perf_counter()
                trainer.reward_fn(samples)
                rm_s = time.perf_counter() - t_rm
                gen_s += (t1 - t0) - rm_s
                score_s += rm_s + (t2 - t1)
                tokens += int(samples.generation.response_mask.sum())
            print(f"{bs:>6} {tokens:>8} {tokens / gen_s:>10.0f} {tokens / score_s:>12.0f} "
                  f"{tokens / (gen_s + score_s):>14.0f}")


if __name__ == "__main__":
    main()
