"""What SFT, reward-model and DPO training share: the set-up and the update loop.

A supervised stage is then its data, its model, one ``step`` and one
``evaluate`` function (trainer/sft.py is the shortest example)::

    session = open_session(config)                 # accelerator, seed, export, tokenizer
    train_set, val_set = ...                       # tokenized examples
    model = load_pretrained(AutoModelForCausalLM, config.model)
    fitted = fit(session, "sft", model, train_set, val_set, collate, step, evaluate,
                 best_metric="val_loss", callback=callback, should_stop=should_stop)

``fit`` evaluates before the first update (every curve gets a baseline) and every
``eval_steps`` updates (or at the end of every epoch), logs ``loss``,
``grad_norm`` and ``learning_rate`` per update, keeps the best evaluated model in
``out/best/`` (by ``metric_for_best_model``) and the last one in ``out/``, and
writes both ``rankwise.json`` files; the last one says which is which.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import Tensor, nn
from torch.utils.data import DataLoader
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from trainer.chat import pad_token_id
from trainer.config import ConfigError, TrainConfig
from trainer.contract import Export, load_export
from trainer.runtime import (
    BEST_DIR,
    ProgressCallback,
    Run,
    lineage,
    make_accelerator,
    make_loader,
    make_optimizer,
    make_scheduler,
    prepare_model,
)

__all__ = [
    "BestTracker",
    "Fitted",
    "SaveExtras",
    "Session",
    "fit",
    "higher_is_better",
    "load_pretrained",
    "load_tokenizer",
    "open_session",
]

T = TypeVar("T")
Batch = dict[str, Tensor]
# One micro-batch: (loss to backpropagate, per-batch statistics to log, already means).
StepFn = Callable[[nn.Module, Batch], tuple[Tensor, dict[str, Tensor]]]
# The whole validation split: metrics reduced across processes.
EvalFn = Callable[[nn.Module, Any], dict[str, float]]


def load_tokenizer(path: str, field_name: str = "model") -> PreTrainedTokenizerBase:
    """The tokenizer of a model folder; ``ConfigError`` naming the field if it cannot load."""
    try:
        tokenizer: PreTrainedTokenizerBase = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(field_name, f"cannot load a tokenizer from {path}: {exc}") from None
    return tokenizer


def load_pretrained(loader: Any, path: str, field_name: str = "model", **kwargs: Any) -> Any:
    """``loader.from_pretrained(path)``; ``ConfigError`` naming the field if it cannot."""
    try:
        return loader.from_pretrained(path, **kwargs)
    except OSError as exc:
        raise ConfigError(field_name, f"cannot load a model from {path}: {exc}") from None


def higher_is_better(metric: str) -> bool:
    """Losses and KL are minimised; accuracies, margins and rewards maximised."""
    name = metric.rsplit("/", 1)[-1]
    return not (name.endswith("loss") or name.endswith("kl"))


@dataclass
class Session:
    """What every run starts from."""

    config: TrainConfig
    accelerator: Accelerator
    export: Export
    tokenizer: PreTrainedTokenizerBase
    pad_id: int

    @property
    def lineage(self) -> tuple[str, str | None]:
        return lineage(self.config.model)


def open_session(config: TrainConfig) -> Session:
    """Accelerator (mixed precision, accumulation), seed, the validated export and the
    starting model's tokenizer, with its pad id (pad, else EOS: collate.pad_token_id)."""
    accelerator = make_accelerator(config.mixed_precision, config.gradient_accumulation_steps)
    set_seed(config.seed)
    export = load_export(config.data)
    tokenizer = load_tokenizer(config.model)
    return Session(config, accelerator, export, tokenizer, pad_token_id(tokenizer))


@dataclass
class SaveExtras:
    """What a stage adds when a model is saved: ``rankwise.json`` fields, metrics, and
    how to undo a change made to the live model for saving."""

    manifest: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    restore: Callable[[], None] | None = None


@dataclass
class Fitted:
    """The trained (prepared) model, the last evaluation, and where the run is."""

    model: nn.Module
    run: Run
    metrics: dict[str, float] = field(default_factory=dict)
    train_metrics: dict[str, float] = field(default_factory=dict)


class BestTracker:
    """The best evaluation so far by one metric (restored on resume from the checkpoint)."""

    def __init__(self, metric: str, run: Run) -> None:
        self.metric, self.run = metric, run
        self.greater = higher_is_better(metric)

    def improves(self, metrics: Mapping[str, float]) -> bool:
        value = metrics.get(self.metric)
        if value is None or not math.isfinite(value):
            return False
        best = self.run.best
        if best is None:
            return True
        previous = float(best["value"])
        return value > previous if self.greater else value < previous

    def record(self, metrics: Mapping[str, float]) -> None:
        """Make this evaluation (at the run's current step) the best one."""
        self.run.best = {"step": self.run.step, "metric": self.metric,
                         "value": metrics[self.metric], "path": BEST_DIR}


def fit(
    session: Session,
    stage: str,
    model: nn.Module,
    train_set: Sequence[T],
    val_set: Sequence[T],
    collate: Callable[[list[T]], Batch],
    step: StepFn,
    evaluate: EvalFn,
    *,
    kind: str,
    best_metric: str,
    callback: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    lora_task_type: str = "CAUSAL_LM",
    lora_modules_to_save: list[str] | None = None,
    before_save: Callable[[nn.Module], SaveExtras] | None = None,
    stop_after_eval: Callable[[dict[str, float]], str | None] | None = None,
    eligible_for_best: Callable[[dict[str, float]], bool] | None = None,
    manifest: dict[str, Any] | None = None,
    counts: dict[str, float] | None = None,
) -> Fitted:
    """Train ``model`` on ``train_set`` for ``config.epochs`` and save it (see module doc).

    ``before_save(unwrapped_model)`` runs (on every process) before each saved model,
    best and last, and returns extra ``rankwise.json`` fields and metrics, and how to
    undo what it changed in the model for saving (the reward model's offset).
    ``stop_after_eval(metrics)`` may end training early with a reason, and only
    evaluations that ``eligible_for_best`` accepts can become the best (DPO's KL budget).
    ``counts`` (examples kept, truncated, dropped: ``Examples.counts``) go into the
    returned metrics and ``rankwise.json``. The returned ``Fitted.metrics`` hold the
    means of the logged training statistics over the last epoch (``train_loss``, …),
    the counts and the last evaluation (``val_…``).
    """
    cfg = session.config
    acc = session.accelerator
    model = prepare_model(model, gradient_checkpointing=cfg.gradient_checkpointing,
                          lora=cfg.lora, lora_r=cfg.lora_r, lora_alpha=cfg.lora_alpha,
                          lora_dropout=cfg.lora_dropout, lora_task_type=lora_task_type,
                          lora_modules_to_save=lora_modules_to_save)
    optimizer = make_optimizer(model, cfg.learning_rate, cfg.weight_decay)
    train_loader: DataLoader[Any] = make_loader(train_set, cfg.batch_size, collate, seed=cfg.seed)
    val_loader: DataLoader[Any] = make_loader(val_set, cfg.batch_size, collate, shuffle=False)
    model, optimizer, train_loader, val_loader = acc.prepare(
        model, optimizer, train_loader, val_loader)
    steps_per_epoch = -(-len(train_loader) // cfg.gradient_accumulation_steps)
    total_steps = steps_per_epoch * cfg.epochs
    scheduler = acc.prepare(make_scheduler(optimizer, acc, total_steps, cfg.warmup_ratio,
                                           cfg.lr_scheduler))
    run = Run(cfg.out, stage, acc, total_steps, callback=callback, should_stop=should_stop,
              save_every=cfg.save_steps, config=cfg)
    if cfg.resume:
        run.resume()
    eval_every = cfg.eval_steps or steps_per_epoch
    best = BestTracker(cfg.metric_for_best_model or best_metric, run) if val_set else None
    base_model, parent = session.lineage
    fitted = Fitted(model, run)

    def save(target: str | None, metrics: dict[str, float], extra: dict[str, Any],
             final: bool = False) -> dict[str, float]:
        """Save into out/ or out/<target>; returns the metrics as saved."""
        extras = before_save(acc.unwrap_model(model)) if before_save is not None else SaveExtras()
        metrics = {**metrics, **extras.metrics}
        try:
            run.save_model(model, session.tokenizer, subdir=target, metrics=metrics, final=final,
                           extra={**(manifest or {}), **extra, **extras.manifest}, kind=kind,
                           base_model=base_model, manifest_sha256=session.export.manifest_sha256,
                           config=cfg, parent=parent)
        finally:
            if extras.restore is not None:
                extras.restore()
        return metrics

    def evaluate_now() -> str | None:
        metrics = evaluate(model, val_loader)
        model.train()
        fitted.metrics = metrics
        run.log(metrics)
        eligible = eligible_for_best is None or eligible_for_best(metrics)
        if best is not None and cfg.save_best and eligible and best.improves(metrics):
            best.record(metrics)
            save(BEST_DIR, metrics, {"step": run.step, "role": "best"})
        return stop_after_eval(metrics) if stop_after_eval is not None else None

    if not val_set and acc.is_main_process:
        print(f"{stage}: the export has no validation split for this stage; reporting "
              "training metrics only", file=sys.stderr)
    epoch_stats: dict[str, list[float]] = {}
    stopped: str | None = None
    if val_set and run.step == 0:
        stopped = evaluate_now()  # step 0: the baseline of every validation curve
    model.train()
    evaluated_at = run.step if run.step == 0 else -1  # a resumed run evaluates at its end
    for _, batch in run.iterate(train_loader, cfg.epochs if stopped is None else 0):
        with acc.accumulate(model):
            loss, stats = step(model, batch)
            acc.backward(loss)
            grad_norm = torch.zeros((), device=acc.device)
            if acc.sync_gradients:
                grad_norm = acc.clip_grad_norm_(model.parameters(),
                                                cfg.max_grad_norm or math.inf)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        if not acc.sync_gradients:
            continue
        logged = {"loss": acc.reduce(loss.detach(), "mean").item(),
                  **{k: acc.reduce(v.detach().float().mean(), "mean").item()
                     for k, v in stats.items()},
                  "grad_norm": float(grad_norm), "learning_rate": scheduler.get_last_lr()[0]}
        if (run.step % steps_per_epoch) == 0:  # the first update of an epoch
            epoch_stats = {}
        for k, v in logged.items():
            if k not in ("grad_norm", "learning_rate"):
                epoch_stats.setdefault(k, []).append(v)
        fitted.train_metrics = {f"train_{k}": sum(v) / len(v) for k, v in epoch_stats.items()}
        run.finish_step(logged)
        if val_set and (run.step % eval_every == 0 or run.step == total_steps):
            evaluated_at = run.step
            stopped = evaluate_now()
            if stopped is not None:
                break
    if val_set and evaluated_at != run.step:
        evaluate_now()  # resumed after the last evaluation, or stopped between two
    fitted.metrics = {**fitted.train_metrics, **(counts or {}), **fitted.metrics}
    summary: dict[str, Any] = {"step": run.step, "role": "last", "examples": counts or {},
                               "best": run.best, "last": {"step": run.step, "path": "."}}
    if stopped is not None:
        summary["stopped_early"] = stopped
    if not val_set:
        summary["validation"] = "none: the export has no validation split for this stage"
    fitted.metrics = save(None, fitted.metrics, summary, final=True)
    return fitted
