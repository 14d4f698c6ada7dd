"""Active selection: reward-model accuracy against the number of human labels, for a
queue ordered by the reward model's uncertainty and for a queue in random order.

A simulated pairwise task with a known utility: every answer is a feature vector x, its
true utility u(x) = w*·x. A simulated person prefers answer a over b with probability
sigmoid(β·(u_a − u_b)) (Bradley–Terry; β sets how noisy people are). The reward model
is a linear Bradley–Terry model r(x) = w·x fit by L2-regularised logistic regression on
the labelled pairs (Newton's method; exact for this convex loss). Accuracy: the share of
fresh test pairs the reward model orders as the true utility does.

Both queues start with the same random first batch; after each batch of labels the
reward model is refit and

* **random** takes the next batch in random order (the default queue: oldest first,
  and the items' order says nothing about them);
* **uncertainty** takes the items whose two answers the current reward model scores
  closest (``app.labeling.active.score_margin``, the rule the queue's "uncertainty" order
  uses: the smallest margin between the two best-scored answers first).

Prints both learning curves (mean over seeds, with the standard error), the labels
each queue needs to reach the target accuracy, and draws the curves to
``bench/results/active_selection.png``.

    .venv/bin/python bench/bench_active_selection.py            # about a minute
    .venv/bin/python bench/bench_active_selection.py --quick    # fewer seeds
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.labeling.active import score_margin

Array = npt.NDArray[np.float64]
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Task:
    dim: int = 16
    pool: int = 4000  # unlabelled items (two answers each) the queue can hand out
    test: int = 5000
    beta: float = 2.0  # people's sharpness: P(agree with the utility) ≈ 0.8 on average
    batch: int = 25  # labels between two refits of the reward model
    budget: int = 1000  # labels in all
    l2: float = 1.0


def fit(diff: Array, y: Array, l2: float, iters: int = 25) -> Array:
    """w minimising Σ log(1 + exp(−s·w·Δx)) + l2/2·|w|², s = ±1 (Newton's method)."""
    w = np.zeros(diff.shape[1])
    for _ in range(iters):
        z = diff @ w
        p = 1.0 / (1.0 + np.exp(-z))
        grad = diff.T @ (p - y) + l2 * w
        hess = (diff * (p * (1 - p))[:, None]).T @ diff + l2 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def run(task: Task, seed: int, order: str) -> list[float]:
    rng = np.random.default_rng(seed)
    w_true = rng.normal(size=task.dim)
    w_true /= np.linalg.norm(w_true)
    a, b = rng.normal(size=(2, task.pool, task.dim))
    ta, tb = rng.normal(size=(2, task.test, task.dim))
    test_sign = np.sign((ta - tb) @ w_true)
    # The person's label for every pool item, drawn once: both queues see the same people.
    p_a = 1.0 / (1.0 + np.exp(-task.beta * ((a - b) @ w_true)))
    labels = (rng.random(task.pool) < p_a).astype(np.float64)
    first = np.random.default_rng(seed + 10_000).permutation(task.pool)
    taken: list[int] = list(first[:task.batch])
    left = np.ones(task.pool, dtype=bool)
    left[taken] = False
    curve = []
    while True:
        w = fit(a[taken] - b[taken], labels[taken], task.l2)
        curve.append(float(np.mean(np.sign((ta - tb) @ w) == test_sign)))
        if len(taken) >= task.budget:
            return curve
        candidates = np.flatnonzero(left)
        if order == "random":
            pick = [i for i in first if left[i]][:task.batch]
        else:
            margins = np.array([score_margin([float(a[i] @ w), float(b[i] @ w)]) for i in candidates])
            pick = list(candidates[np.argsort(margins, kind="stable")[:task.batch]])
        taken.extend(int(i) for i in pick)
        left[pick] = False


def labels_to_reach(xs: list[int], curve: Array, target: float) -> int | None:
    for x, y in zip(xs, curve, strict=True):
        if y >= target:
            return x
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 seeds")
    parser.add_argument("--target", type=float, default=0.95, help="accuracy to reach")
    parser.add_argument("--beta", type=float, default=Task.beta)
    args = parser.parse_args()
    task = Task(beta=args.beta)
    seeds = 5 if args.quick else args.seeds
    xs = list(range(task.batch, task.budget + 1, task.batch))
    curves: dict[str, Array] = {}
    errors: dict[str, Array] = {}
    for order in ("random", "uncertainty"):
        runs = np.array([run(task, seed, order) for seed in range(seeds)])
        curves[order] = runs.mean(axis=0)
        errors[order] = runs.std(axis=0, ddof=1) / np.sqrt(seeds)
    print(f"simulated pairwise task: {task.dim} features, pool {task.pool}, people's beta {task.beta}, "
          f"refit every {task.batch} labels, {seeds} seeds; accuracy on {task.test} fresh pairs (mean ± s.e.)")
    print(f"{'labels':>7}  {'random':>15}  {'uncertainty':>15}")
    for i, x in enumerate(xs):
        if x in (25, 50, 100, 150, 200, 300, 400, 500, 600, 800, 1000) or i == len(xs) - 1:
            print(f"{x:>7}  {curves['random'][i]:>8.3f} ± {errors['random'][i]:.3f}"
                  f"  {curves['uncertainty'][i]:>8.3f} ± {errors['uncertainty'][i]:.3f}")
    needed = {order: labels_to_reach(xs, curves[order], args.target) for order in curves}
    for order, n in needed.items():
        print(f"labels to reach {args.target:.0%} accuracy, {order} order: {n if n is not None else f'> {task.budget}'}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "active_selection.json").write_text(json.dumps({
        "task": task.__dict__, "seeds": seeds, "labels": xs, "target": args.target, "labels_needed": needed,
        "random": curves["random"].tolist(), "uncertainty": curves["uncertainty"].tolist(),
        "random_se": errors["random"].tolist(), "uncertainty_se": errors["uncertainty"].tolist(),
    }, indent=1) + "\n")
    draw(xs, curves, errors, args.target, needed, task, seeds)


def draw(xs: list[int], curves: dict[str, Array], errors: dict[str, Array], target: float,
         needed: dict[str, int | None], task: Task, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for order, colour in (("random", "#888888"), ("uncertainty", "#1f5fbf")):
        m, e = curves[order], errors[order]
        label = f"{order} order" + (f" ({needed[order]} labels to {target:.0%})" if needed[order] else "")
        ax.plot(xs, m, color=colour, label=label)
        ax.fill_between(xs, m - 2 * e, m + 2 * e, color=colour, alpha=0.2, linewidth=0)
    ax.axhline(target, color="#c03030", linestyle="--", linewidth=1)
    ax.set_xlabel("human labels")
    ax.set_ylabel("reward-model accuracy on fresh pairs")
    ax.set_title(f"Active selection: uncertainty vs random queue (β={task.beta}, {seeds} seeds, ±2 s.e.)")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "active_selection.png")
    print(f"figure: {RESULTS / 'active_selection.png'}")


if __name__ == "__main__":
    main()
