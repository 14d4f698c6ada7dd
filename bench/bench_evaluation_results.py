"""Time of the evaluation results (app/evaluations/results.py) against the number of
verdicts and of models, and how well the bootstrap intervals cover simulated truth.

    python bench/bench_evaluation_results.py            # timings and coverage
    python bench/bench_evaluation_results.py --quick    # fewer repetitions

The figures are computed from simulated comparisons with known Bradley–Terry
strengths (labelers who ignore the order). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from app.evaluations.results import Comparison, leaderboard, results
from app.models import Winner


def simulate(truth: dict[str, float], verdicts: int, rng: random.Random) -> list[Comparison]:
    names = list(truth)
    rows = []
    for _ in range(verdicts):
        x, y = rng.sample(names, 2)
        p = 1 / (1 + 10 ** ((truth[y] - truth[x]) / 400))
        outcome = Winner.tie if rng.random() < 0.1 else (Winner.a if rng.random() < p else Winner.b)
        rows.append(Comparison(x, y, outcome, rng.random() < 0.5))
    return rows


def timings(repeat: int) -> None:
    print("verdicts  models  results() median s  slowest s")
    rng = random.Random(1)
    for models in (2, 5, 12):
        truth = {f"m{i}": 1000 + 40 * i for i in range(models)}
        for verdicts in (100, 10_000, 100_000):
            rows = simulate(truth, verdicts, rng)
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                results(rows, list(truth))
                times.append(time.perf_counter() - started)
            print(f"{verdicts:>8}  {models:>6}  {statistics.median(times):>18.3f}  {max(times):>9.3f}")


def coverage(trials: int) -> None:
    """Share of simulated evaluations (no ties) whose 95 % interval holds the true rating."""
    truth = {"ref": 1000.0, "a": 1080.0, "b": 950.0, "c": 1150.0}
    held = total = 0
    for t in range(trials):
        rng = random.Random(100 + t)
        names = list(truth)
        rows = []
        for _ in range(600):
            x, y = rng.sample(names, 2)
            p = 1 / (1 + 10 ** ((truth[y] - truth[x]) / 400))
            rows.append(Comparison(x, y, Winner.a if rng.random() < p else Winner.b, rng.random() < 0.5))
        board = leaderboard(rows, names, seed=t)
        for r in board.ratings:
            if r.model == "ref":
                continue
            total += 1
            held += r.low <= truth[r.model] <= r.high
    print(f"coverage of the 95 % intervals over {trials} simulated evaluations of 600 verdicts, "
          f"3 rated models: {held}/{total} = {held / total:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.2f}")
    timings(1 if args.quick else 3)
    coverage(20 if args.quick else 100)


if __name__ == "__main__":
    main()
