"""The ``diagnostic`` job: sleeps through N reported steps with a falling "loss".

The queue's own check that a worker runs and that progress, curves and cancel
reach the pages; it loads no model and touches no domain.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import ConfigDict, Field
from sqlalchemy.orm import Session

from app.inputs import RequestModel
from app.jobs import service
from app.jobs.context import JobContext
from app.models import Job, JobKind, User


class DiagnosticParams(RequestModel):
    model_config = ConfigDict(extra="forbid")
    steps: int = Field(5, ge=1, le=10_000)
    step_seconds: float = Field(0.1, ge=0.0, le=60.0)
    fail_at: int | None = Field(default=None, ge=1, le=10_000, description="raise at this step")


class DiagnosticJobIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal[JobKind.diagnostic]
    params: DiagnosticParams = Field(default_factory=DiagnosticParams)


def submit(db: Session, actor: User, body: DiagnosticJobIn) -> Job:
    return service.enqueue(db, JobKind.diagnostic, body.params.model_dump(mode="json"),
                           actor=actor)


def run(ctx: JobContext) -> dict[str, Any]:
    params = DiagnosticParams.model_validate(ctx.params)
    for step in range(1, params.steps + 1):
        time.sleep(params.step_seconds)
        if params.fail_at is not None and step == params.fail_at:
            raise RuntimeError(f"diagnostic failure requested at step {step}")
        ctx.log(f"step {step}/{params.steps}")
        ctx.progress(step, params.steps, metrics={"loss": round(1.0 / step, 6)},
                     stage="diagnostic")
        ctx.check_stop({"stopped_at_step": step})
    return {"steps": params.steps}
