"""The task kinds, one module each, looked up in one table by ``TaskKind``.

Adding a kind: a module here (a ``Kind`` subclass: schema, checks, storage, summary,
answer, page, item plan), its line in ``_KINDS``, its template in templates/work/ and
its script in static/js/ (the template names it). Nothing else branches on the kind.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from app.labeling.kinds import demonstration, evaluation, pairwise, prompt_writing, ranking
from app.labeling.kinds.base import AnswerOut, Kind, SubmitBase
from app.models import TaskKind

AnyKind = Kind[Any, Any, Any, Any]

_KINDS: Mapping[TaskKind, AnyKind] = MappingProxyType(
    {
        TaskKind.prompt_writing: prompt_writing.KIND,
        TaskKind.demonstration: demonstration.KIND,
        TaskKind.ranking: ranking.KIND,
        TaskKind.pairwise: pairwise.KIND,
        TaskKind.evaluation: evaluation.KIND,
    }
)


def kind_of(task_kind: TaskKind) -> AnyKind:
    return _KINDS[task_kind]


def table() -> Mapping[TaskKind, AnyKind]:
    return _KINDS


def _union(models: list[type[Any]]) -> Any:
    return functools.reduce(operator.or_, list(dict.fromkeys(models)))


# For the OpenAPI document: the submit body is one of the kinds' schemas (the server
# picks it from the assignment's kind), and a judgement's answer one of their outputs.
SUBMIT_BODIES: Any = _union([k.input_model for k in _KINDS.values()])
ANSWERS: Any = _union([k.answer_model for k in _KINDS.values()])
JUDGEMENT_MODELS = frozenset(k.judgement_model for k in _KINDS.values())

__all__ = ["ANSWERS", "JUDGEMENT_MODELS", "SUBMIT_BODIES", "AnswerOut", "AnyKind", "Kind", "SubmitBase", "kind_of", "table"]
