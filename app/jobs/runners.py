"""One function per job kind, run inside the job's child process.

Every runner takes a :class:`JobContext` and returns the job's result (a JSON
object). torch, transformers and the trainer are imported inside the runners
that need them, so importing this module (the web process does, to validate a
job's kind) stays cheap.

Kinds:

* ``train``    — SFT / reward model / PPO / DPO / best-of-K on an export, then the
  output folder is registered as a new model version (its ``rankwise.json``).
* ``sample``   — K completions per prompt from a model version into a project's
  ranking queue.
* ``evaluation-sample`` — one reply per prompt from each of two models, paired blind
  (app/jobs/evaluation.py; queued by app/evaluations).
* ``export``   — write a dataset export (app/exports).
* ``model-test`` — one reply from a local model (the registry's "test" button).
* ``suggest``  — a draft reply for a demonstration task (app/labeling/suggest.py).
* ``diagnostic`` — sleeps through N reported steps; checks a worker end to end.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.errors import InvalidInput
from app.jobs.context import JobCancelled, JobContext

Runner = Callable[[JobContext], dict[str, Any]]

# stage -> (trainer module, config class module, config class name)
STAGES: dict[str, tuple[str, str, str]] = {
    "sft": ("trainer.sft", "trainer.sft_config", "SFTConfig"),
    "rm": ("trainer.reward", "trainer.reward_config", "RewardConfig"),
    "dpo": ("trainer.dpo", "trainer.dpo_config", "DPOConfig"),
    "ppo": ("trainer.ppo", "trainer.ppo_config", "PPOConfig"),
    "best-of-k": ("trainer.best_of_k", "trainer.best_of_k_config", "BestOfKConfig"),
}
# Config fields the runner fills from the registry and the export; not hyper-parameters.
MANAGED_FIELDS = frozenset(
    {"data", "model", "out", "reward_model", "ref_model", "value_model", "safety_reward_model",
     "resume"}
)


# ---------------------------------------------------------------- diagnostic


def run_diagnostic(ctx: JobContext) -> dict[str, Any]:
    steps = int(ctx.params.get("steps", 5))
    pause = float(ctx.params.get("step_seconds", 0.1))
    fail_at = ctx.params.get("fail_at")
    for step in range(1, steps + 1):
        time.sleep(pause)
        if fail_at is not None and step == int(fail_at):
            raise RuntimeError(f"diagnostic failure requested at step {step}")
        ctx.log(f"step {step}/{steps}")
        ctx.progress(step, steps, metrics={"loss": round(1.0 / step, 6)}, stage="diagnostic")
        ctx.check_stop({"stopped_at_step": step})
    return {"steps": steps}


# ---------------------------------------------------------------- train


def _config_class(stage: str) -> tuple[Any, Any]:
    from importlib import import_module

    module, cfg_module, cfg_name = STAGES[stage]
    return import_module(module), getattr(import_module(cfg_module), cfg_name)


def build_train_config(
    config_cls: Any, hyper: dict[str, Any], managed: dict[str, Any]
) -> Any:
    """The stage's config dataclass from the job's hyper-parameters plus the paths the
    runner resolved; unknown or managed names are refused with the list of valid ones."""
    names = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(hyper) - names)
    if unknown:
        valid = ", ".join(sorted(names - MANAGED_FIELDS))
        raise InvalidInput(f"Unknown hyper-parameters {unknown}; this stage takes: {valid}.")
    clash = sorted(set(hyper) & MANAGED_FIELDS)
    if clash:
        raise InvalidInput(f"{clash} are chosen from the registry and the export, not set by hand.")
    values = {k: v for k, v in managed.items() if k in names and v is not None}
    return config_cls(**values, **hyper)


def _wait_for_export(ctx: JobContext, export_id: str, poll_seconds: float = 1.0) -> None:
    """A run started with "export now" waits here for its export job (queued just before
    it, so a single worker has already run it; with several workers this one may get here
    first). Cancelling the run ends the wait."""
    from app.models import Export

    waited = False
    while True:
        with ctx.session() as db:
            status = db.query(Export.status).filter(Export.public_id == export_id).scalar()
        if status not in ("pending", "running"):
            if waited:
                ctx.log(f"export {export_id} is {status}")
            return
        if not waited:
            ctx.log(f"waiting for export {export_id} (job {ctx.params.get('after_job')})")
            ctx.progress(0, 0, stage="waiting", message="waiting for the export")
            waited = True
        ctx.check_stop({"waiting_for_export": export_id})
        time.sleep(poll_seconds)


def _resolve_train_inputs(ctx: JobContext) -> dict[str, Any]:
    from app.models import Export
    from app.registry import service as registry

    params = ctx.params
    _wait_for_export(ctx, str(params["export_id"]))
    with ctx.session() as db:
        export = db.query(Export).filter(Export.public_id == params["export_id"]).one_or_none()
        if export is None or not export.path:
            raise InvalidInput("The chosen export does not exist or has no files.")
        if export.status != "succeeded":
            raise InvalidInput(f"The chosen export is {export.status}, not finished.")
        base = registry.local_model(db, params["model_id"])
        resolved: dict[str, Any] = {
            "export": {"id": export.public_id, "path": export.path,
                       "manifest_sha256": export.manifest_sha256},
            "model": {"id": base.public_id, "name": base.name, "path": base.path, "db_id": base.id},
        }
        for key in ("reward_model_id", "ref_model_id", "value_model_id"):
            if params.get(key):
                mv = registry.local_model(db, params[key])
                resolved[key.removesuffix("_id")] = {"id": mv.public_id, "path": mv.path}
    return resolved


def _accelerate_command(ctx: JobContext, stage: str, config_path: Path) -> list[str] | None:
    acc = ctx.params.get("accelerate")
    if not acc:
        return None
    cmd = [sys.executable, "-m", "accelerate.commands.launch",
           "--num_processes", str(int(acc.get("num_processes", 1)))]
    if acc.get("config_file"):
        cmd += ["--config_file", str(acc["config_file"])]
    return [*cmd, "-m", "trainer", stage, "--config", str(config_path)]


def _run_launched(ctx: JobContext, cmd: list[str], out: Path, total: int) -> None:
    """Run ``accelerate launch`` and forward its metrics.jsonl as progress. Cancelling sends
    SIGINT to the launcher's process group; the run keeps its last periodic checkpoint."""
    proc = subprocess.Popen(cmd, start_new_session=True)
    seen = 0
    metrics_file = out / "metrics.jsonl"
    while proc.poll() is None:
        time.sleep(1.0)
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


def run_train(ctx: JobContext) -> dict[str, Any]:
    from app.registry import service as registry

    stage = str(ctx.params["stage"])
    if stage not in STAGES:
        raise InvalidInput(f"Unknown stage {stage!r}; use one of {sorted(STAGES)}.")
    inputs = _resolve_train_inputs(ctx)
    module, config_cls = _config_class(stage)
    out = ctx.job_dir / "model"
    managed = {
        "data": inputs["export"]["path"],
        "model": inputs["model"]["path"],
        "out": str(out),
        "reward_model": inputs.get("reward_model", {}).get("path"),
        "ref_model": inputs.get("ref_model", {}).get("path"),
        "value_model": inputs.get("value_model", {}).get("path"),
        "resume": bool(ctx.params.get("resume", False)),
    }
    config = build_train_config(config_cls, dict(ctx.params.get("hyperparameters") or {}), managed)
    config_path = ctx.job_dir / "config.json"
    config_path.write_text(json.dumps(dataclasses.asdict(config), indent=2), encoding="utf-8")
    launched = _accelerate_command(ctx, stage, config_path)
    cmd = launched or ["rankwise", "train", stage, "--config", str(config_path)]
    ctx.record("command", shlex.join(cmd))
    ctx.log(f"$ {shlex.join(cmd)}")

    def on_progress(event: Any) -> None:
        ctx.progress(event.step, event.total_steps, metrics=dict(event.metrics),
                     stage=event.stage, eta_seconds=event.eta_seconds)

    if launched:
        _run_launched(ctx, launched, out, total=0)
        metrics: dict[str, Any] = {}
    else:
        from trainer.runtime import TrainingCancelled

        try:
            metrics = dict(module.train(config, callback=on_progress, should_stop=ctx.should_stop))
        except TrainingCancelled as exc:
            raise JobCancelled({"command": shlex.join(cmd), "checkpoint": str(exc.checkpoint),
                                "step": exc.step}) from exc
    name = str(ctx.params.get("name") or f"{stage}-{ctx.spec.public_id[:8]}")
    with ctx.session() as db:
        version = registry.register_trained(
            db, name=name, path=out, parent_id=inputs["model"]["db_id"],
            extra={"job": ctx.spec.public_id, "export": inputs["export"]["id"], "stage": stage},
        )
        model_id = version.public_id
    return {"command": shlex.join(cmd), "model_id": model_id, "model_name": name,
            "output": str(out), "metrics": _finite(metrics)}


def _finite(metrics: dict[str, Any]) -> dict[str, Any]:
    import math

    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None)
            for k, v in metrics.items()}


# ---------------------------------------------------------------- sample


def run_sample(ctx: JobContext) -> dict[str, Any]:
    from app.jobs import sampling

    return sampling.run(ctx)


def run_evaluation_sample(ctx: JobContext) -> dict[str, Any]:
    from app.jobs import evaluation

    return evaluation.run(ctx)


def run_model_test(ctx: JobContext) -> dict[str, Any]:
    from app.jobs import sampling

    return sampling.test_local_model(ctx)


def run_suggest(ctx: JobContext) -> dict[str, Any]:
    from app.jobs import sampling

    return sampling.suggest_local(ctx)


# ---------------------------------------------------------------- export


def run_export(ctx: JobContext) -> dict[str, Any]:
    from app.exports import service as exports

    def progress(done: int, total: int) -> None:
        ctx.progress(done, total, stage="export")
        ctx.check_stop()

    export_id = str(ctx.params["export_id"])
    exports.run_export(ctx.session_factory(), ctx.settings, export_id, progress)
    with ctx.session() as db:
        export = exports.get_export(db, export_id)
        return {"export_id": export.public_id, "path": export.path, "counts": export.counts,
                "manifest_sha256": export.manifest_sha256}


RUNNERS: dict[str, Runner] = {
    "train": run_train,
    "sample": run_sample,
    "evaluation-sample": run_evaluation_sample,
    "export": run_export,
    "model-test": run_model_test,
    "suggest": run_suggest,
    "diagnostic": run_diagnostic,
}
