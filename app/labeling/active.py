"""Active selection: which items people should judge next, by the reward model's
uncertainty.

An item's *uncertainty score* is the margin between the two best reward-model scores of
its answers: the smaller it is, the less the current reward model can tell its best
answers apart, and the more a person's judgement of it teaches the next reward model.
A queue ordered by uncertainty (``QueueOrder.uncertainty``) hands out the open items
with the smallest margin first; items not scored yet come after them in the default
order. The margins are computed outside the web process by the ``score-uncertainty``
job (app/ai_labeling/scoring.py) and stored on the items.
"""

from __future__ import annotations

from collections.abc import Sequence


def score_margin(scores: Sequence[float]) -> float:
    """The gap between the best and the second-best score (0 for fewer than two)."""
    if len(scores) < 2:
        return 0.0
    top, second = sorted(scores, reverse=True)[:2]
    return float(top - second)
