"""Run machinery shared by every training loop (SFT, RM, DPO, PPO, best-of-K).

A loop builds an ``Accelerator`` with :func:`make_accelerator`, wraps it in a
:class:`Run`, and then reads like nanoGPT's loop with four calls added::

    accelerator = make_accelerator(cfg.mixed_precision, cfg.gradient_accumulation_steps)
    run = Run(cfg.out, "rm", accelerator, total_steps, callback=cb, should_stop=stop)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    if cfg.resume:
        run.resume()                       # weights, optimizer, scheduler, RNG, step
    for epoch, batch in run.iterate(loader, cfg.epochs):   # skips what a resume already did
        with accelerator.accumulate(model):
            ...
        if accelerator.sync_gradients:
            run.finish_step({"loss": ...})  # step += 1, log, checkpoint, cancellation
    run.save_model(model, tokenizer, kind="reward_model", ..., final=True)

Public API (everything else is private):

* :class:`ProgressEvent`, ``ProgressCallback`` — what the callback receives.
* :class:`TrainingCancelled` — raised by ``Run.finish_step``/``check_cancelled``
  when ``should_stop()`` says so, *after* a resumable checkpoint was written.
* :class:`Run` — ``log``, ``finish_step``, ``check_cancelled``,
  ``save_checkpoint``, ``resume``, ``iterate``, ``save_model``, ``close``.
* :func:`make_accelerator`, :func:`make_optimizer`, :func:`make_scheduler`, :func:`make_loader`,
  :func:`prepare_model` — the same accelerate / data / LoRA / gradient
  checkpointing setup everywhere.
* :func:`save_final` — ``save_pretrained`` plus an atomic ``rankwise.json``.
* :func:`read_manifest` — the ``rankwise.json`` of a folder (``None`` if absent).

Files under ``out_dir``: ``metrics.jsonl`` (one JSON object per log call),
``checkpoints/step-00000042/`` (accelerate ``save_state`` folders plus
``trainer_state.json``, written to a temp folder and renamed into place, so a
crash never leaves a half checkpoint that ``resume`` would pick), and at the end
the model's ``save_pretrained`` files with ``rankwise.json`` written last (its
presence marks a complete model folder).

Under ``accelerate launch`` every process runs the same calls; files are
written by the main process only, and ``should_stop`` is asked on the main
process and broadcast, so all processes stop at the same step.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from accelerate import Accelerator
from accelerate.utils import broadcast_object_list
from torch.utils.data import DataLoader, Sampler
from tqdm.auto import tqdm

from trainer.chat import PLAIN_CHAT_TEMPLATE
from trainer.run_folder import (
    CHECKPOINTS_DIR,
    METRICS_FILE,
    STATE_FILE,
    checkpoint_name,
)
from trainer.run_folder import checkpoints as complete_checkpoints

__all__ = [
    "BEST_DIR",
    "MANIFEST_NAME",
    "ProgressCallback",
    "ProgressEvent",
    "Run",
    "TrainingCancelled",
    "library_versions",
    "lineage",
    "make_accelerator",
    "make_loader",
    "make_optimizer",
    "make_scheduler",
    "prepare_model",
    "read_manifest",
    "save_final",
]

MANIFEST_NAME = "rankwise.json"
BEST_DIR = "best"  # out/best/: the best evaluated model, a model folder of its own
T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class SizedIterable(Protocol[T_co]):
    """What a prepared DataLoader offers the loop: its batches and how many there are."""

    def __len__(self) -> int: ...
    def __iter__(self) -> Iterator[T_co]: ...


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report. ``step`` counts optimizer updates (after accumulation)."""

    stage: str
    step: int
    total_steps: int
    epoch: float
    metrics: dict[str, float] = field(default_factory=dict)
    eta_seconds: float | None = None


ProgressCallback = Callable[[ProgressEvent], None]


class TrainingCancelled(Exception):
    """``should_stop()`` returned True; a checkpoint at ``step`` was saved to ``checkpoint``."""

    def __init__(self, step: int, checkpoint: Path) -> None:
        self.step, self.checkpoint = step, checkpoint
        super().__init__(f"training cancelled at step {step}; resume from {checkpoint}")


def make_accelerator(
    mixed_precision: str = "no",
    gradient_accumulation_steps: int = 1,
    cpu: bool = False,
) -> Accelerator:
    """The accelerator every loop uses; ``accelerate launch`` settings (DDP, FSDP,
    DeepSpeed) come from the environment as usual."""
    if mixed_precision not in ("no", "bf16", "fp16"):
        raise ValueError(f"mixed_precision must be 'no', 'bf16' or 'fp16', not {mixed_precision!r}")
    return Accelerator(
        mixed_precision=mixed_precision,
        gradient_accumulation_steps=gradient_accumulation_steps,
        cpu=cpu,
    )


def make_optimizer(
    model: torch.nn.Module, learning_rate: float, weight_decay: float = 0.0
) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters; biases and norm weights (1-D) get no decay."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=learning_rate)


def make_scheduler(
    optimizer: torch.optim.Optimizer,
    accelerator: Accelerator,
    total_steps: int,
    warmup_ratio: float = 0.0,
    kind: str = "cosine",
) -> torch.optim.lr_scheduler.LRScheduler:
    """A transformers LR schedule over ``total_steps`` optimizer updates (per process).

    accelerate's prepared scheduler advances once per process on every real
    update, hence the factor ``num_processes`` (as in accelerate's own examples).
    """
    from transformers import get_scheduler

    n = max(1, total_steps) * accelerator.num_processes
    scheduler: torch.optim.lr_scheduler.LRScheduler = get_scheduler(
        kind, optimizer, num_warmup_steps=int(warmup_ratio * n), num_training_steps=n
    )
    return scheduler


class _EpochShuffle(Sampler[int]):
    """A permutation that depends only on (seed, epoch), so a resumed run sees the same
    order; accelerate's prepared loader forwards ``set_epoch`` to it."""

    def __init__(self, n: int, seed: int, shuffle: bool) -> None:
        self.n, self.seed, self.shuffle, self.epoch = n, seed, shuffle, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def make_loader(
    items: Sequence[T],
    batch_size: int,
    collate_fn: Callable[[list[T]], Any],
    *,
    shuffle: bool = True,
    seed: int = 0,
) -> DataLoader[T]:
    """A DataLoader over a list of examples, reshuffled per epoch deterministically.
    Pass it through ``accelerator.prepare`` (which shards it across processes)."""
    return DataLoader(items, batch_size=batch_size,  # type: ignore[arg-type]
                      sampler=_EpochShuffle(len(items), seed, shuffle), collate_fn=collate_fn)


def prepare_model(
    model: torch.nn.Module,
    *,
    gradient_checkpointing: bool = False,
    lora: bool = False,
    lora_r: int = 16,
    lora_alpha: int = 32,
    lora_dropout: float = 0.05,
    lora_task_type: str = "CAUSAL_LM",
    lora_modules_to_save: list[str] | None = None,
) -> torch.nn.Module:
    """Turn on gradient checkpointing and/or wrap the model in a LoRA adapter (peft is
    imported only when asked for). ``lora_modules_to_save`` keeps new heads (the reward
    model's ``score``) fully trainable."""
    if gradient_checkpointing:
        # transformers 5 renamed it (the old name warns); keep both for older versions.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)  # type: ignore[operator]
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)  # type: ignore[operator]
        config: Any = getattr(model, "config", None)
        if config is not None:
            config.use_cache = False
    if lora:
        try:
            from peft import LoraConfig, get_peft_model
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError("LoRA needs the optional 'peft' package: pip install "
                               "'rankwise[lora]'") from exc
        peft_config = LoraConfig(r=lora_r, lora_alpha=lora_alpha, lora_dropout=lora_dropout,
                                 task_type=lora_task_type, target_modules="all-linear",
                                 modules_to_save=lora_modules_to_save)
        if gradient_checkpointing and hasattr(model, "enable_input_require_grads"):
            # frozen embeddings still pass gradients
            model.enable_input_require_grads()  # type: ignore[operator]
        model = get_peft_model(model, peft_config)
    return model


def _jsonable(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json_atomic(path: Path, payload: Any) -> None:
    """Temp file in the same folder, fsync, rename: readers see old or new, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(_jsonable(payload), fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_manifest(model_dir: str | Path) -> dict[str, Any] | None:
    """The ``rankwise.json`` of a model folder, or ``None`` (e.g. a plain HF model)."""
    path = Path(model_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def lineage(model_path: str | Path) -> tuple[str, str | None]:
    """(base_model, parent) for a run starting from ``model_path``.

    ``parent`` is the folder this run starts from when that folder was made by
    Rankwise; ``base_model`` is the original pretrained model at the root of the
    chain (SFT → RM → PPO all name the same base).
    """
    manifest = read_manifest(model_path)
    if manifest is None:
        return str(model_path), None
    return str(manifest.get("base_model") or model_path), str(model_path)


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _rankwise_version() -> str:
    return _version("rankwise") or "unknown"


def library_versions() -> dict[str, str | None]:
    """What produced a model: Python and the libraries whose behaviour it depends on."""
    return dict(_library_versions())


@functools.cache  # fixed for the process; asked on every saved model
def _library_versions() -> tuple[tuple[str, str | None], ...]:
    return (("python", platform.python_version()),
            *((name, _version(name)) for name in ("rankwise", "torch", "transformers",
                                                   "accelerate", "peft", "tokenizers")))


def code_commit() -> str | None:
    """The git commit of the running trainer code when it runs from a checkout
    (``RANKWISE_GIT_COMMIT`` overrides, e.g. set by a container build); else None."""
    return os.environ.get("RANKWISE_GIT_COMMIT") or _checkout_commit()


@functools.cache  # one `git rev-parse` per process, not one per saved model
def _checkout_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def _relative(path: str | None, start: Path) -> str | None:
    """``path`` relative to ``start`` when it is a local path (so a moved tree of model
    folders still resolves); None for hub ids and absent values."""
    if not path or not Path(path).exists():
        return None
    return os.path.relpath(Path(path).resolve(), start.resolve())


def save_final(
    model: Any,
    tokenizer: Any,
    out_dir: str | Path,
    kind: str,
    base_model: str,
    manifest_sha256: str | None,
    config: Any,
    metrics: Mapping[str, float],
    *,
    parent: str | None = None,
    extra: Mapping[str, Any] | None = None,
    final: bool = True,
) -> Path:
    """``save_pretrained`` the (unwrapped) model and tokenizer into ``out_dir``, then
    write ``rankwise.json`` atomically. A LoRA model is merged first so the folder
    loads as a plain model downstream (in place when ``final``; a copy is merged for
    a model that goes on training, e.g. the best one so far). Call on the main process
    only (``Run.save_model`` does the unwrapping and process handling)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):  # peft.PeftModel
        model = (model if final else copy.deepcopy(model)).merge_and_unload()
    model.save_pretrained(out, safe_serialization=True)
    if tokenizer is not None:
        if getattr(tokenizer, "chat_template", None):
            tokenizer.save_pretrained(out)
        else:
            # The plain template is what training used (trainer/chat.py); saved with the
            # model, plain transformers users format conversations the same way.
            tokenizer.chat_template = PLAIN_CHAT_TEMPLATE
            try:
                tokenizer.save_pretrained(out)
            finally:
                tokenizer.chat_template = None
    payload: dict[str, Any] = {
        "kind": kind,
        "base_model": base_model,
        "parent": parent,
        "paths_relative": {"base_model": _relative(base_model, out),
                           "parent": _relative(parent, out)},
        "data_manifest_sha256": manifest_sha256,
        "config": config,
        "metrics": dict(metrics),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "rankwise_version": _rankwise_version(),
        "versions": library_versions(),
        "code_commit": code_commit(),
    }
    payload.update(extra or {})
    _write_json_atomic(out / MANIFEST_NAME, payload)
    return out


class Run:
    """One training run in ``out_dir``: step counter, logging, checkpoints, cancellation.

    ``total_steps`` is the number of optimizer updates the loop will make;
    ``save_every`` (0 = never) writes a checkpoint every that many steps;
    ``keep_last`` checkpoints are kept. ``steps_per_epoch`` (set by ``iterate``)
    turns the step into a fractional epoch for reports.
    """

    def __init__(
        self,
        out_dir: str | Path,
        stage: str,
        accelerator: Accelerator,
        total_steps: int,
        *,
        callback: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        save_every: int = 0,
        keep_last: int = 2,
        progress_bar: bool = True,
        config: Any = None,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.stage = stage
        self.accelerator = accelerator
        self.total_steps = total_steps
        self.callback = callback
        self.should_stop = should_stop
        self.save_every = save_every
        self.keep_last = max(1, keep_last)
        self.config = config  # kept in checkpoints: what python -m trainer
        # checkpoint-to-model needs to rebuild the model (trainer/checkpoints.py)
        self.step = 0
        self.steps_per_epoch = 0
        # The best evaluation so far ({"step", "metric", "value", "path"}), kept in
        # checkpoints so a resumed run still knows it.
        self.best: dict[str, Any] | None = None
        self.wall_seconds = 0.0  # of earlier sessions of this run (restored on resume)
        self._session_started = time.monotonic()
        self._started = time.monotonic()
        self._start_step = 0
        self._bar: Any = None
        if accelerator.is_main_process:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if progress_bar:
                self._bar = tqdm(total=total_steps, desc=stage, dynamic_ncols=True)
        accelerator.wait_for_everyone()

    # ------------------------------------------------------------ reporting

    @property
    def checkpoint_root(self) -> Path:
        return self.out_dir / CHECKPOINTS_DIR

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch if self.steps_per_epoch else 0.0

    def _eta(self) -> float | None:
        done = self.step - self._start_step
        if done <= 0:
            return None
        rate = (time.monotonic() - self._started) / done
        return max(0.0, rate * (self.total_steps - self.step))

    def log(self, metrics: Mapping[str, float], stage: str | None = None) -> None:
        """Record ``metrics`` at the current step: a line in metrics.jsonl, the progress
        bar, the callback. Metrics must already be reduced across processes."""
        if not self.accelerator.is_main_process:
            return
        clean = {k: float(v) for k, v in metrics.items()}
        event = ProgressEvent(stage or self.stage, self.step, self.total_steps,
                              round(self.epoch, 4), clean, self._eta())
        line = {"stage": event.stage, "step": event.step, "epoch": event.epoch,
                "time": round(time.time(), 3), **clean}
        with (self.out_dir / METRICS_FILE).open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(_jsonable(line)) + "\n")
        if self._bar is not None:
            self._bar.n = min(self.step, self.total_steps)
            self._bar.set_postfix({k: f"{v:.4g}" for k, v in list(clean.items())[:4]},
                                  refresh=False)
            self._bar.refresh()
        if self.callback is not None:
            self.callback(event)

    def finish_step(self, metrics: Mapping[str, float] | None = None) -> None:
        """Call once per optimizer update: counts it, logs ``metrics``, writes the periodic
        checkpoint, and raises ``TrainingCancelled`` if ``should_stop()`` says so."""
        self.step += 1
        if metrics is not None:
            self.log(metrics)
        if self.save_every and self.step % self.save_every == 0:
            self.save_checkpoint()
        self.check_cancelled()

    def check_cancelled(self) -> None:
        """Save a checkpoint and raise ``TrainingCancelled`` if asked to stop."""
        stop = bool(self.should_stop()) if self.should_stop is not None else False
        if self.accelerator.num_processes > 1:
            stop = bool(broadcast_object_list([stop], from_process=0)[0])
        if stop:
            path = self.save_checkpoint()
            self.close()
            raise TrainingCancelled(self.step, path)

    # ------------------------------------------------------------ checkpoints

    def save_checkpoint(self) -> Path:
        """Everything ``accelerator.prepare`` saw (models, optimizers, schedulers), the RNG
        states and the step, as ``checkpoints/step-NNNNNNNN`` (temp folder, then rename)."""
        final = self.checkpoint_root / checkpoint_name(self.step)
        if final.exists():
            return final
        tmp = self.checkpoint_root / f".tmp-{checkpoint_name(self.step)}"
        if self.accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
        self.accelerator.wait_for_everyone()
        self.accelerator.save_state(str(tmp))
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            _write_json_atomic(tmp / STATE_FILE,
                               {"stage": self.stage, "step": self.step,
                                "steps_per_epoch": self.steps_per_epoch,
                                "total_steps": self.total_steps, "best": self.best,
                                "wall_seconds": self.elapsed, "config": self.config})
            os.replace(tmp, final)
            for old in self.checkpoints()[: -self.keep_last]:
                shutil.rmtree(old, ignore_errors=True)
        self.accelerator.wait_for_everyone()
        return final

    def checkpoints(self) -> list[Path]:
        """Complete checkpoints, oldest first (temp folders of a crashed save are skipped)."""
        return complete_checkpoints(self.out_dir)

    def resume(self, checkpoint: str | Path | None = None) -> int:
        """Load ``checkpoint`` (default: the latest one in ``out_dir``) into the prepared
        objects and return the step it was taken at; 0 if there is none."""
        path = Path(checkpoint) if checkpoint is not None else None
        if path is None:
            found = self.checkpoints()
            if not found:
                return 0
            path = found[-1]
        self.accelerator.load_state(str(path))
        state = json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
        self.step = self._start_step = int(state["step"])
        self.best = state.get("best")
        self.wall_seconds = float(state.get("wall_seconds") or 0.0)
        self._session_started = self._started = time.monotonic()
        if self._bar is not None:
            self._bar.n = self.step
            self._bar.refresh()
        return self.step

    def iterate(self, loader: SizedIterable[T], epochs: int) -> Iterator[tuple[int, T]]:
        """(epoch, batch) over ``epochs`` passes of a prepared loader, reshuffled per epoch
        through the sampler's ``set_epoch``; after ``resume`` the batches already trained
        on are skipped so the data order matches an uninterrupted run."""
        n_batches = len(loader)
        accum = self.accelerator.gradient_accumulation_steps
        self.steps_per_epoch = max(1, math.ceil(n_batches / accum))
        first_epoch, done = divmod(self.step, self.steps_per_epoch)
        for epoch in range(first_epoch, epochs):
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            skip = min(done * accum, n_batches) if epoch == first_epoch else 0
            batches: Iterable[T] = (
                self.accelerator.skip_first_batches(loader, skip) if skip else loader
            )
            for batch in batches:
                yield epoch, batch

    # ------------------------------------------------------------ the end

    @property
    def elapsed(self) -> float:
        """Wall-clock seconds of this run, over every session of it (resumes included)."""
        return self.wall_seconds + time.monotonic() - self._session_started

    def save_model(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        *,
        kind: str,
        base_model: str,
        manifest_sha256: str | None,
        config: Any,
        metrics: Mapping[str, float],
        subdir: str | None = None,
        parent: str | None = None,
        extra: Mapping[str, Any] | None = None,
        final: bool = False,
    ) -> Path:
        """Unwrap the prepared ``model`` and :func:`save_final` it on the main process into
        ``out_dir`` (or ``out_dir/subdir``, e.g. the best model). Unless ``final`` the model
        is left as it was, ready to train on; ``final`` also closes the run."""
        target = self.out_dir / subdir if subdir else self.out_dir
        self.accelerator.wait_for_everyone()
        if self.accelerator.is_main_process:
            unwrapped = self.accelerator.unwrap_model(model)
            save_final(unwrapped, tokenizer, target, kind, base_model, manifest_sha256,
                       config, metrics, parent=parent, final=final,
                       extra={"wall_seconds": round(self.elapsed, 3), **(extra or {})})
        self.accelerator.wait_for_everyone()
        if final:
            self.close()
        return target

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
