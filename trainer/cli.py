"""``python -m trainer`` (and ``rankwise train``): one subcommand per stage of trainer/stages.py.

    python -m trainer sft|rm|dpo|ppo|best-of-k --data EXPORT --model PATH --out DIR
        [--config FILE.yaml|json] [--set key=value ...] [--epochs N] [--lr X] ...
    python -m trainer STAGE --help        every option of that stage, with its help
    python -m trainer tiny-model OUT [--arch llama|gpt2]
    python -m trainer checkpoint-to-model CHECKPOINT OUT   a resumable checkpoint → model folder

Each stage's flags are built from its config dataclass by
``transformers.HfArgumentParser`` (``--learning_rate`` and ``--learning-rate``;
``metadata["aliases"]`` adds short forms such as ``--lr``), so flags and help
never drift from the fields. Options resolve as: the config's defaults <
``--config`` file < flags < ``--set`` (``--print-config`` shows the result and
exits). The final metrics are printed as JSON.

Exit codes: 0 done; 2 bad input, with a message that names the flag or the file
(an unknown or ill-typed option, a missing model folder, PPO without a reward
model, a broken export named by file and line); 130 cancelled.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml

from trainer.config import MODEL_FIELDS, ConfigError
from trainer.contract import ContractError
from trainer.stages import STAGES, Stage

__all__ = ["UsageError", "build_config", "main", "stage_parser"]

PROG = "python -m trainer"
# Options of the command line itself, not config fields.
OWN_OPTIONS = ("config", "set", "print_config")
# A hub id ("gpt2", "HuggingFaceTB/SmolLM2-135M"): not a path that should exist here.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class UsageError(Exception):
    """Bad options: reported as ``error: ...`` with exit code 2."""


class _NotGiven:
    """Placed in the namespace before parsing so argparse keeps it where no flag was
    given (argparse only fills defaults for missing attributes): what remains marks
    the options left to the --config file and the dataclass defaults."""

    def __repr__(self) -> str:
        return "<not given>"


NOT_GIVEN = _NotGiven()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="stage", metavar="STAGE", required=True)
    for stage in STAGES.values():
        sub.add_parser(stage.name, help=f"{stage.summary} ({stage.name} --help for options)",
                       add_help=False)
    sub.add_parser("tiny-model", help="write a tiny offline model for demos and tests",
                   add_help=False)
    sub.add_parser("checkpoint-to-model", add_help=False,
                   help="turn a resumable checkpoint (out/checkpoints/step-N) into a model folder")
    return parser


def _checkpoint_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} checkpoint-to-model",
                                     description="Write the model of a resumable checkpoint "
                                                 "as a from_pretrained folder.")
    parser.add_argument("checkpoint", type=Path, help="out/checkpoints/step-NNNNNNNN")
    parser.add_argument("out", type=Path, help="the model folder to write")
    return parser


def _tiny_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} tiny-model",
                                     description="Write a tiny random model and tokenizer.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--arch", choices=["llama", "gpt2"], default="llama")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def _yaml_value(text: str) -> Any:
    """``--set`` values and mapping flags are YAML (``1e-5``, ``true``, ``{a: 1}``)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def stage_parser(stage: Stage) -> argparse.ArgumentParser:
    """The stage's parser: one flag per config field (help from its metadata), plus
    ``--config``, ``--set`` and ``--print-config``."""
    from transformers import HfArgumentParser

    parser = HfArgumentParser(
        typing.cast(Any, stage.config), prog=f"{PROG} {stage.name}",
        description=f"{typing.cast(str, stage.config.__doc__).strip()} Options resolve as: "
                    "defaults < --config < flags < --set.")
    hints = typing.get_type_hints(stage.config)
    for action in parser._actions:
        # HfArgumentParser calls a mapping field's type on the text; read it as YAML.
        hint = hints.get(action.dest)
        if hint is not None and dict in (typing.get_origin(a) or a for a in _options(hint)):
            action.type = _yaml_value
    own = parser.add_argument_group("command line")
    own.add_argument("--config", type=Path, help="YAML or JSON file of config fields")
    own.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="set any config field (repeatable); the value is read as YAML")
    own.add_argument("--print-config", action="store_true",
                     help="print the resolved config as JSON and exit")
    return parser


def _options(hint: Any) -> tuple[Any, ...]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--config {path}: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"--config {path}: invalid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--config {path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise UsageError(f"--config {path}: must hold a mapping of config fields")
    return data


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Check and convert a --config/--set value to the field's annotated type."""
    options = _options(hint)
    if len(options) > 1:
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
        raise UsageError(errors[0] if errors else f"{_flag(name)}: bad value {value!r}")
    origin = typing.get_origin(hint)
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
    elif hint is str or (isinstance(hint, type) and issubclass(hint, str)):
        # str and the StrEnum choices (the config's __post_init__ checks the value)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
    elif origin in (dict, list) or hint in (dict, list):
        if isinstance(value, origin or hint):
            return value
    else:
        return value
    raise UsageError(f"{_flag(name)}: expected {getattr(hint, '__name__', hint)}, "
                     f"got {value!r}")


def build_config(stage: Stage, args: argparse.Namespace) -> Any:
    """The stage's config from defaults < --config < flags < --set."""
    config_cls = stage.config
    fields = {f.name for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    values: dict[str, Any] = {}
    if args.config is not None:
        values.update(_read_file(args.config))
    flags = {k: v for k, v in vars(args).items()
             if k in fields and v is not NOT_GIVEN}
    values.update(flags)
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r}: expected KEY=VALUE")
        values[key.strip().replace("-", "_")] = _yaml_value(raw)
    unknown = sorted(set(values) - fields)
    if unknown:
        raise UsageError(f"unknown option(s) {', '.join(unknown)} for the {stage.name} stage "
                         f"(see {PROG} {stage.name} --help)")
    typed = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    missing = [k for k in stage.required if not typed.get(k)]
    if missing:
        raise UsageError(f"missing {', '.join(_flag(k) for k in missing)} "
                         f"(the {stage.name} stage needs {', '.join(map(_flag, stage.required))})")
    try:
        return config_cls(**typed)
    except ConfigError as exc:
        raise UsageError(f"{_flag(exc.field)}: {exc.message}") from None
    except (TypeError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def check_inputs(config: Any) -> None:
    """Fail before any loading for what the command line can see: a model folder that is
    not there, an export that is not there. A value shaped like a hub id is left to
    transformers (its cache may hold it)."""
    for name in MODEL_FIELDS:
        value = getattr(config, name, None)
        if not value:
            continue
        path = Path(value)
        if path.is_dir():
            if not (path / "config.json").is_file():
                raise UsageError(f"{_flag(name)} {value}: not a model folder (no config.json)")
        elif path.exists():
            raise UsageError(f"{_flag(name)} {value}: is a file, not a model folder")
        elif path.is_absolute() or value.startswith(".") or not HUB_ID.match(value):
            raise UsageError(f"{_flag(name)} {value}: no such folder")
    if not Path(config.data).exists():
        raise UsageError(f"--data {config.data}: no such export folder or archive")


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    namespace = argparse.Namespace(**{
        a.dest: NOT_GIVEN for a in parser._actions
        if a.dest not in (*OWN_OPTIONS, "help") and a.dest != argparse.SUPPRESS})
    return parser.parse_args(argv, namespace=namespace)


def _run(argv: list[str]) -> int:
    top = _top_parser()
    if not argv or argv[0] not in (*STAGES, "tiny-model", "checkpoint-to-model"):
        top.parse_args(argv)  # prints help or "invalid choice" and exits
        return 2
    name, rest = argv[0], argv[1:]
    if name == "tiny-model":
        tiny = _tiny_parser().parse_args(rest)
        from trainer.tiny import build_tiny_model

        print(build_tiny_model(tiny.out, tiny.arch, seed=tiny.seed))
        return 0
    if name == "checkpoint-to-model":
        ckpt = _checkpoint_parser().parse_args(rest)
        from trainer.checkpoints import checkpoint_to_model

        print(checkpoint_to_model(ckpt.checkpoint, ckpt.out))
        return 0
    stage = STAGES[name]
    args = _parse(stage_parser(stage), rest)
    config = build_config(stage, args)
    if args.print_config:
        print(json.dumps(dataclasses.asdict(config), indent=2))
        return 0
    check_inputs(config)
    from trainer.runtime import TrainingCancelled

    try:
        metrics = stage.train(config)
    except TrainingCancelled as exc:
        print(f"cancelled: {exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(json.dumps(metrics, indent=2, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (never raises for bad input)."""
    try:
        return _run(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    except ContractError as exc:
        print(f"error: bad export: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {_flag(exc.field)}: {exc.message}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
