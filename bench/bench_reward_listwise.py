"""Listwise (InstructGPT) vs pairs-as-separate-examples (TRL's RewardTrainer) reward training.

One epoch on the same synthetic ranking data (tests/trainer/export_factory.py: answers
of 'a'/'z' bytes, more 'a' is better, labels noise-free) at K = 4 and K = 9, on the
offline tiny Llama. Listwise forwards each completion once per epoch (K forwards
per ranking); the naive way forwards both sides of every pair (2·C(K,2) = K(K−1)),
so it costs about K−1 times more compute, and sees each completion K−1 times per
epoch, which InstructGPT found over-fits. Prints a table of wall time and final
validation pairwise accuracy / loss.

    .venv/bin/python bench/bench_reward_listwise.py [--rankings 64] [--lr 1e-3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.trainer.export_factory import synthetic_export
from trainer.reward import train
from trainer.reward_config import RewardConfig
from trainer.tiny import build_tiny_model


def run_one(export: Path, model: Path, out: Path, listwise: bool, lr: float,
            batch_size: int) -> tuple[float, dict[str, float]]:
    config = RewardConfig(data=str(export), model=str(model), out=str(out), epochs=1,
                          learning_rate=lr, batch_size=batch_size, max_length=64,
                          listwise=listwise, compute_offset=False, seed=0)
    start = time.perf_counter()
    metrics = train(config)
    return time.perf_counter() - start, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rankings", type=int, default=64, help="training rankings")
    parser.add_argument("--val", type=int, default=32, help="validation rankings")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=8,
                        help="rankings (listwise) or pairs (naive) per batch")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model = build_tiny_model(root / "model", "llama")
        for k in (4, 9):
            export = synthetic_export(root / f"export-k{k}", n_train=args.rankings,
                                      n_val=args.val, k=k, kinds=("rankings",), seed=k)
            result = {}
            for listwise in (True, False):
                name = "listwise" if listwise else "naive"
                result[name] = run_one(export, model, root / f"rm-k{k}-{name}", listwise,
                                       args.lr, args.batch_size)
            rows.append((k, result))

    print(f"\nreward model, 1 epoch, {args.rankings} rankings, tiny llama, "
          f"batch {args.batch_size}, lr {args.lr}, {args.threads} thread(s)")
    print(f"{'K':>2} | {'pairs/rank':>10} | {'fwd/rank L:N':>12} | {'time L (s)':>10} | "
          f"{'time N (s)':>10} | {'N/L time':>8} | {'val acc L':>9} | {'val acc N':>9} | "
          f"{'val loss L':>10} | {'val loss N':>10}")
    for k, result in rows:
        (tl, ml), (tn, mn) = result["listwise"], result["naive"]
        pairs = k * (k - 1) // 2
        print(f"{k:>2} | {pairs:>10} | {f'{k}:{2 * pairs}':>12} | {tl:>10.2f} | {tn:>10.2f} | "
              f"{tn / tl:>8.2f} | {ml['val_accuracy']:>9.3f} | {mn['val_accuracy']:>9.3f} | "
              f"{ml['val_loss']:>10.4f} | {mn['val_loss']:>10.4f}")


if __name__ == "__main__":
    main()
