"""Each stage's hyper-parameters as the training form draws them, read from the
trainer's own config dataclasses (name, type, default, help), so the form never
falls behind the trainer: a field added to a ``*_config.py`` appears on the page
with its help text and default, and the runner accepts it by the same name.

Torch-free: config modules import neither torch nor transformers.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel

from app.training.stages import MANAGED_FIELDS
from trainer.stages import STAGES

FieldType = Literal["integer", "number", "boolean", "string", "choice", "list", "mapping"]


class HyperParameterOut(BaseModel):
    name: str
    type: FieldType
    default: Any
    nullable: bool
    help: str
    choices: list[str] | None = None


class StageOut(BaseModel):
    name: str
    summary: str
    kind: str
    needs_reward_model: bool
    hyperparameters: list[HyperParameterOut]


def _field_type(annotation: Any) -> tuple[FieldType, bool, list[str] | None]:
    """(the form's type, whether None is allowed, the choices of an enum)."""
    args = typing.get_args(annotation)
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        nullable = len(rest) < len(args)
        annotation = rest[0]
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        return "choice", nullable, [str(m.value) for m in origin]
    simple: dict[Any, FieldType] = {bool: "boolean", int: "integer", float: "number",
                                    str: "string", list: "list", dict: "mapping"}
    if origin not in simple:
        raise TypeError(f"a config field of type {annotation!r} has no form input")
    return simple[origin], nullable, None


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        value = f.default_factory()
    else:
        value = None if f.default is dataclasses.MISSING else f.default
    return value.value if isinstance(value, enum.Enum) else value


def describe(config_cls: type[Any]) -> list[HyperParameterOut]:
    """The fields of a stage config an engineer may set, in the dataclass's order."""
    hints = typing.get_type_hints(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.name in MANAGED_FIELDS:
            continue
        kind, nullable, choices = _field_type(hints[f.name])
        out.append(HyperParameterOut(name=f.name, type=kind, default=_default(f),
                                     nullable=nullable, help=str(f.metadata.get("help", "")),
                                     choices=choices))
    return out


def stages() -> list[StageOut]:
    """Every stage of the trainer with its hyper-parameters, in the trainer's order."""
    return [StageOut(name=name, summary=stage.summary, kind=stage.kind,
                     needs_reward_model="reward_model" in stage.required,
                     hyperparameters=describe(stage.config))
            for name, stage in STAGES.items()]
