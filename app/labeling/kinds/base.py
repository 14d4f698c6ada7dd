"""What every task kind provides, and what the kinds share.

A kind is one module in this package holding everything that differs between task
kinds: the submit body it takes (``input_model``), how that body is checked against
the task the labeler was shown (``check``), how the answer is stored (``columns``,
``after_insert``), how a stored judgement reads in the browser (``summary``) and in
its record (``answer_out``, a typed model), which verdicts the browser can filter on,
which page shows it and how its work items are made. The table that maps a
``TaskKind`` to its kind lives in ``app/labeling/kinds/__init__.py``; nothing else in
the code branches on the task kind.

Messages name completions as the labeler saw them ("answer B": letters in the order
shown to this labeler), never by their internal ids.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.inputs import RequestModel
from app.labeling.plans import ItemPlan
from app.models import Assignment, Project, TaskKind

CompletionId = Annotated[str, StringConstraints(max_length=32)]
TEXT_MAX = 200_000  # hard cap before settings.max_text_chars gives the precise message
REASON_MAX = 4000
LETTERS = "ABCDEFGHI"
# Not part of what the labeler answered: a retry after a reload sends another `seconds`.
UNHASHED = frozenset({"idempotency_key", "seconds"})


class SubmitBase(RequestModel):
    """The fields every submit body carries, whatever the task kind."""

    idempotency_key: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="one key per answer; the same key again replays the first answer",
    )
    seconds: float = Field(0.0, ge=0, le=7 * 24 * 3600, description="time spent on the task")


class MessageIn(RequestModel):
    role: str = Field(max_length=16)
    content: str = Field(max_length=TEXT_MAX)


class AnswerOut(BaseModel):
    """What a labeler submitted, as the judgement record shows it (one subclass per kind)."""


@dataclass(frozen=True)
class Task:
    """What the labeler was shown: the item's completions in their shown order."""

    project: Project
    shown: list[str]
    category: str | None
    max_chars: int

    def label(self, cid: str) -> str:
        return label(self.shown, cid)


def label(shown: Sequence[str], cid: str) -> str:
    """How the work page names a completion: "answer B" (letters in the shown order); an
    id that was never shown is quoted as sent."""
    if cid in shown and shown.index(cid) < len(LETTERS):
        return f"answer {LETTERS[shown.index(cid)]}"
    return f"'{cid}'"


def sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


class Problems:
    """Every problem of a submission, so the labeler can fix them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str | None]] = []

    def add(self, where: str | None, message: str) -> None:
        self.items.append({"field": where, "message": message})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = str(self.items[0]["message"])
        detail = first if len(self.items) == 1 else f"{len(self.items)} problems; first: {first}"
        raise InvalidInput(detail, details=self.items)


def last_message(messages: list[dict[str, str]], chars: int = 80) -> str:
    """The start of a conversation's last message: what a labeler wrote, for summaries."""
    return messages[-1]["content"][:chars] if messages else ""


def checked_text(value: str, where: str, task: Task, problems: Problems, what: str = "text") -> str:
    """The text stripped, with a problem if it is empty or longer than the server allows."""
    text = value.strip()
    if not text:
        problems.add(where, f"The {what} is empty; write something before submitting.")
    elif len(text) > task.max_chars:
        problems.add(where, f"The {what} has {len(text)} characters; shorten it to at most {task.max_chars}.")
    return text


@dataclass(frozen=True)
class Recording:
    """What storing one judgement needs to know besides the answer."""

    db: Session
    project: Project
    lease: Assignment
    public_id: str


InT = TypeVar("InT", bound=SubmitBase)
AnswerT = TypeVar("AnswerT")
JudgementT = TypeVar("JudgementT")
OutT = TypeVar("OutT", bound=AnswerOut)


class Kind(ABC, Generic[InT, AnswerT, JudgementT, OutT]):
    """One task kind. Subclasses set the class attributes and implement the hooks."""

    task_kind: TaskKind
    input_model: type[InT]
    answer_model: type[OutT]
    judgement_model: type[JudgementT]
    # The work page (templates/) and its script (static/js/work-<kind>.js, named there).
    template: ClassVar[str]
    item_plan: ItemPlan
    # Demonstrations can ask the project's sampler for a draft (app/labeling/suggest.py).
    suggests: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return self.task_kind.value.replace("_", " ")

    # --- the submit body -------------------------------------------------------------

    def parse(self, raw: Mapping[str, Any], shown: Sequence[str]) -> InT:
        """The body as this kind's schema, or 422 naming each problem as the labeler saw it."""
        try:
            return self.input_model.model_validate(raw)
        except ValidationError as exc:
            problems = Problems()
            fields = ", ".join(f"'{f}'" for f in self.input_model.model_fields if f not in UNHASHED)
            for err in exc.errors(include_input=False, include_url=False):
                loc = err["loc"]
                field = ".".join(str(p) for p in loc) or None
                if err["type"] == "extra_forbidden" and len(loc) == 1:
                    problems.add(
                        field,
                        f"'{loc[0]}' does not belong to a {self.name} task; remove it "
                        f"(a {self.name} answer takes {fields}).",
                    )
                else:
                    problems.add(field, f"{_where(loc, shown)}: {err['msg']}.")
            problems.raise_if_any()
            raise  # unreachable: a ValidationError has at least one error

    def validate(self, body: InT, task: Task) -> AnswerT:
        """The answer, checked against the task; 422 with every problem found."""
        problems = Problems()
        answer = self.check(body, task, problems)
        problems.raise_if_any()
        return answer

    def fingerprint(self, body: InT) -> str:
        """SHA-256 of the answer (defaults filled in, keys sorted): equal for a retry of the
        same answer, different for any other answer."""
        data = body.model_dump(mode="json", exclude=set(UNHASHED))
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    # --- what each kind implements ---------------------------------------------------

    @abstractmethod
    def check(self, body: InT, task: Task, problems: Problems) -> AnswerT:
        """Check the body against the task, adding every problem found."""

    @abstractmethod
    def columns(self, rec: Recording, answer: AnswerT) -> dict[str, Any]:
        """The kind's own columns of the judgement row."""

    def after_insert(self, rec: Recording, judgement_id: int, answer: AnswerT) -> None:
        """Rows that hang off the judgement (a ranking's entries); none by default."""

    @abstractmethod
    def summary(self, judgement: JudgementT) -> str:
        """One line for the judgement browser."""

    @abstractmethod
    def answer_out(self, db: Session, judgement: JudgementT, completions: list[tuple[str, int]]) -> OutT:
        """What was submitted; ``completions`` are the item's (public id, id) in canonical order."""

    def verdict_filters(self) -> Mapping[str, ColumnElement[bool]]:
        """Browser filters by verdict (``kind=<name>``); none by default."""
        return {}


def _where(loc: Sequence[int | str], shown: Sequence[str]) -> str:
    """A pydantic error location with the answers named as the labeler saw them: ids
    become "answer B", list positions count from 1 ("ratings, answer A")."""
    parts: list[str] = []
    for i, p in enumerate(loc):
        if isinstance(p, int):
            parts.append(f"#{p + 1}")
        elif p in shown or (i > 0 and not isinstance(loc[i - 1], int)):
            parts.append(label(shown, p))  # a key of a per-answer map
        else:
            parts.append(p)  # a field's name, as the API spells it
    return ", ".join(parts) if parts else "The answer"
