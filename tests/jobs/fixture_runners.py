"""Runners for kinds that only tests queue, handed to a worker beside the real table.

They are module-level functions because the worker passes a runner to the job's
child process by reference (the child imports this module).
"""

from __future__ import annotations

import time
from typing import Any

from app.jobs.context import JobContext


def non_finite_metrics(ctx: JobContext) -> dict[str, Any]:
    """What a diverging training run reports: NaN and infinite losses."""
    ctx.progress(1, 3, metrics={"loss": 0.5, "grad_norm": 1.0})
    ctx.progress(2, 3, metrics={"loss": float("nan"), "grad_norm": float("inf")})
    ctx.progress(3, 3, metrics={"loss": float("-inf"), "grad_norm": float("nan")})
    return {"final_loss": float("nan"), "best": {"loss": 0.5, "kl": float("inf")}}


def unstorable_result(ctx: JobContext) -> dict[str, Any]:
    """A result JSON cannot hold (a set): the worker cannot record how the job ended."""
    ctx.progress(1, 1, metrics={"loss": 1.0})
    return {"labels": {"a", "b"}}


def unstorable_progress(ctx: JobContext) -> dict[str, Any]:
    """Reports a metric JSON cannot hold, then runs on until it is told to stop."""
    ctx.progress(1, 1000, metrics={"loss": {"not", "a", "number"}})  # type: ignore[dict-item]
    for step in range(2, 1000):
        time.sleep(0.05)
        ctx.check_stop({"stopped_at_step": step})
    return {"finished": True}
