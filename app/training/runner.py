"""The ``train`` job, inside its child process: resolve the export and the models,
write the stage's config, train (in this process, or under ``accelerate launch``),
and register the output folder as a new model version.

The job is claimed only once its export exists (a run started with "export
now" is queued after the export job), so it never waits here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InvalidInput
from app.exports import service as exports
from app.jobs.context import JobCancelled, JobContext
from app.models import ExportStatus
from app.registry import service as registry
from app.training import stages
from app.training.schemas import TrainRun
from app.training.service import OUTPUT_DIR, output_folder
from trainer.run_folder import METRICS_FILE, copy_for_resume

LAUNCH_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class _Inputs:
    export_id: str
    export_path: str
    base_id: int
    base_path: str
    paths: dict[str, str]  # reward_model / ref_model / value_model → folder


def _resolve(ctx: JobContext, run: TrainRun) -> _Inputs:
    with ctx.session() as db:
        export = exports.get_export(db, run.export_id)
        if export.status != ExportStatus.succeeded or not export.path:
            raise InvalidInput(f"The chosen export is {export.status}, not finished.")
        base = registry.local_model(db, run.model_id)
        paths = {}
        for key in ("reward_model_id", "ref_model_id", "value_model_id"):
            ref = getattr(run, key)
            if ref is not None:
                paths[key.removesuffix("_id")] = str(registry.local_model(db, ref).path)
        return _Inputs(export.public_id, export.path, base.id, str(base.path), paths)


def _run_launched(ctx: JobContext, cmd: list[str], out: Path, total: int) -> None:
    """Run ``accelerate launch`` and forward its metrics.jsonl as progress. Cancelling sends
    SIGINT to the launcher's process group; the run keeps its last periodic checkpoint."""
    metrics_file = out / METRICS_FILE
    # A resumed run's folder starts with the lines up to its checkpoint; the job has them.
    seen = (len(metrics_file.read_text(encoding="utf-8").splitlines())
            if metrics_file.exists() else 0)
    proc = subprocess.Popen(cmd, start_new_session=True)
    while proc.poll() is None:
        time.sleep(LAUNCH_POLL_SECONDS)
        if metrics_file.exists():
            lines = metrics_file.read_text(encoding="utf-8").splitlines()
            for line in lines[seen:]:
                row = json.loads(line)
                step = int(row.pop("step", 0))
                values = {k: float(v) for k, v in row.items() if isinstance(v, int | float)
                          and k not in ("epoch", "time")}
                ctx.progress(step, total, metrics=values, stage=str(row.get("stage", "train")))
            seen = len(lines)
        if ctx.should_stop():
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            raise JobCancelled({"command": shlex.join(cmd)})
    if proc.returncode != 0:
        raise RuntimeError(f"accelerate launch exited with code {proc.returncode}; see the log")


def run(ctx: JobContext) -> dict[str, Any]:
    params = TrainRun.model_validate(ctx.params)
    inputs = _resolve(ctx, params)
    stage = stages.load(params.stage)
    out = ctx.job_dir / OUTPUT_DIR
    if params.resume_from is not None:
        source = output_folder(ctx.settings, params.resume_from)
        checkpoint = copy_for_resume(source, out)
        if checkpoint is None:
            raise InvalidInput(f"Run {params.resume_from} has no checkpoint left in {source}.")
        ctx.log(f"resuming run {params.resume_from} from {checkpoint.path.name} "
                f"(step {checkpoint.step})")
    managed = {"data": inputs.export_path, "model": inputs.base_path, "out": str(out),
               "resume": params.resume or params.resume_from is not None, **inputs.paths}
    config = stages.build_config(stage.config_cls, params.hyperparameters, managed)
    config_path = ctx.job_dir / "config.json"
    config_path.write_text(json.dumps(dataclasses.asdict(config), indent=2), encoding="utf-8")
    acc = params.accelerate
    launched = (stages.accelerate_command(params.stage, config_path, acc.num_processes,
                                          acc.config_file) if acc else None)
    cmd = launched or stages.cli_command(params.stage, config_path)
    ctx.record("command", shlex.join(cmd))
    ctx.log(f"$ {shlex.join(cmd)}")

    def on_progress(event: Any) -> None:
        ctx.progress(event.step, event.total_steps, metrics=dict(event.metrics),
                     stage=event.stage, eta_seconds=event.eta_seconds)

    metrics: dict[str, Any] = {}
    if launched:
        _run_launched(ctx, launched, out, total=0)
    else:
        try:
            metrics = stage.train(config, on_progress, ctx.should_stop)
        except stage.cancelled as exc:
            raise JobCancelled({"command": shlex.join(cmd),
                                "checkpoint": str(getattr(exc, "checkpoint", "")),
                                "step": getattr(exc, "step", None)}) from exc
    name = params.name or f"{params.stage}-{ctx.spec.public_id[:8]}"
    with ctx.session() as db:
        version = registry.register_trained(
            db, name=name, path=out, parent_id=inputs.base_id,
            extra={"job": ctx.spec.public_id, "export": inputs.export_id, "stage": params.stage},
        )
        model_id, model_name = version.public_id, version.name
    # Non-finite metrics are spelled out by the queue when the result is stored.
    return {"command": shlex.join(cmd), "model_id": model_id, "model_name": model_name,
            "output": str(out), "metrics": metrics}
