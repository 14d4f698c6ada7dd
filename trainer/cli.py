"""``python -m trainer`` (and ``rankwise train``): one subcommand per stage.

    python -m trainer sft|rm|dpo|ppo|best-of-k --data EXPORT --model PATH --out DIR
        [--config FILE.yaml|json] [--set key=value ...] [--epochs N] [--lr X] ...
    python -m trainer tiny-model OUT [--arch llama|gpt2]

Options resolve as: the stage's config defaults < ``--config`` file < flags <
``--set`` (any config field; ``--print-config`` shows the result and exits).
The final metrics are printed as JSON. Exit codes: 0 done, 2 bad input (a
broken export names its file and line; an unknown option), 130 cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

__all__ = ["main"]

# stage -> (module with train(), module with the config class, config class name)
STAGES: dict[str, tuple[str, str, str]] = {
    "sft": ("trainer.sft", "trainer.config", "SFTConfig"),
    "rm": ("trainer.reward", "trainer.config", "RewardConfig"),
    "dpo": ("trainer.dpo", "trainer.config", "DPOConfig"),
    "ppo": ("trainer.ppo", "trainer.ppo", "PPOConfig"),
    "best-of-k": ("trainer.best_of_k", "trainer.best_of_k", "BestOfKConfig"),
}

# flag -> config field; None means "not given" so a file's value survives.
COMMON_FLAGS: list[tuple[str, str, type, str]] = [
    ("--epochs", "epochs", int, "passes over the training data"),
    ("--lr", "learning_rate", float, "peak learning rate"),
    ("--batch-size", "batch_size", int, "examples per device per micro-batch"),
    ("--max-length", "max_length", int, "longest tokenized sequence"),
    ("--seed", "seed", int, "seed for initialisation and data order"),
    ("--grad-accum", "gradient_accumulation_steps", int, "micro-batches per update"),
    ("--save-steps", "save_steps", int, "checkpoint every N updates"),
]
SWITCHES: list[tuple[str, str, str]] = [
    ("--gradient-checkpointing", "gradient_checkpointing", "recompute activations"),
    ("--lora", "lora", "train a LoRA adapter (needs peft)"),
    ("--resume", "resume", "continue from the latest checkpoint in --out"),
]


class UsageError(Exception):
    """Bad options: reported as ``error: ...`` with exit code 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", required=True)
    for stage in STAGES:
        p = sub.add_parser(stage, help=f"train: {stage}")
        p.add_argument("--data", help="export folder or .zip/.tar")
        p.add_argument("--model", help="starting model folder")
        p.add_argument("--out", help="output folder")
        p.add_argument("--config", type=Path, help="YAML or JSON file of config fields")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="set any config field (repeatable)")
        for flag, dest, kind, text in COMMON_FLAGS:
            p.add_argument(flag, dest=dest, type=kind, default=None, help=text)
        p.add_argument("--mixed-precision", dest="mixed_precision", default=None,
                       choices=["no", "bf16", "fp16"], help="autocast precision")
        for flag, dest, text in SWITCHES:
            p.add_argument(flag, dest=dest, action="store_const", const=True, default=None,
                           help=text)
        p.add_argument("--print-config", action="store_true",
                       help="print the resolved config as JSON and exit")
    tiny = sub.add_parser("tiny-model", help="write a tiny offline model for demos and tests")
    tiny.add_argument("out", type=Path)
    tiny.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    tiny.add_argument("--seed", type=int, default=0)
    return parser


def _load_stage(stage: str) -> tuple[type, Callable[..., dict[str, float]]]:
    train_module, config_module, config_name = STAGES[stage]
    try:
        config_cls = getattr(import_module(config_module), config_name)
        train_fn = import_module(train_module).train
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"the '{stage}' stage is not available in this installation "
                         f"({train_module}: {exc})") from None
    return config_cls, train_fn


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: must hold a mapping of config fields")
    return data


def _parse_value(text: str) -> Any:
    """``--set`` values are YAML scalars/collections (``1e-5``, ``true``, ``{a: 1}``)."""
    try:
        import yaml

        return yaml.safe_load(text)
    except ImportError:  # pragma: no cover - pyyaml is a train dependency
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    except yaml.YAMLError:
        return text


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Check and convert ``value`` to the field's annotated type."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(name, value, option)
            except UsageError as exc:
                errors.append(str(exc))
        raise UsageError(errors[0] if errors else f"{name}: bad value {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    elif origin in (dict, list) or hint in (dict, list):
        if isinstance(value, origin or hint):
            return value
    else:
        return value
    raise UsageError(f"{name}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def build_config(config_cls: type, args: argparse.Namespace) -> Any:
    """The stage's config from defaults < --config < flags < --set."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    values: dict[str, Any] = {}
    if args.config is not None:
        values.update(_read_file(args.config))
    for key in ("data", "model", "out", "mixed_precision",
                *(d for _, d, _, _ in COMMON_FLAGS), *(d for _, d, _ in SWITCHES)):
        if getattr(args, key, None) is not None:
            values[key] = getattr(args, key)
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip().replace("-", "_")] = _parse_value(raw)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(unknown)} for {config_cls.__name__} "
                         f"(known: {', '.join(fields)})")
    typed = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    missing = [k for k in ("data", "model", "out") if k in fields and not typed.get(k)]
    if missing:
        raise UsageError(f"missing --{', --'.join(missing)}")
    try:
        return config_cls(**typed)
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises for bad input)."""
    args = _parser().parse_args(argv)
    from trainer.data import ContractError

    try:
        if args.stage == "tiny-model":
            from trainer.tiny import build_tiny_model

            print(build_tiny_model(args.out, args.arch, seed=args.seed))
            return 0
        config_cls, train_fn = _load_stage(args.stage)
        config = build_config(config_cls, args)
        if args.print_config:
            print(json.dumps(dataclasses.asdict(config), indent=2))
            return 0
        from trainer.runtime import TrainingCancelled

        try:
            metrics = train_fn(config)
        except TrainingCancelled as exc:
            print(f"cancelled: {exc}", file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    except ContractError as exc:
        print(f"error: bad export: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0
