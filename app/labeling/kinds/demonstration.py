"""Demonstration: the labeler writes the ideal assistant reply to a prompt; in
multi-turn projects they may play both sides of a longer dialogue (ChatGPT's
collection). The stored conversation is the prompt followed by the written turns.

A task may show AI-written candidates (the Constitutional AI stage's revisions,
app/ai_labeling/constitutional.py) as the item's completions: the labeler accepts one,
edits it, or rejects them and writes their own; a reply that starts from a candidate
names it, and the row keeps the model that wrote it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.labeling import repository as repo
from app.labeling.kinds.base import (
    AnswerOut,
    CompletionId,
    Kind,
    MessageIn,
    Problems,
    Recording,
    SubmitBase,
    Task,
    checked_text,
    last_message,
)
from app.labeling.plans import OnePerPrompt
from app.models import Demonstration as DemonstrationRow
from app.models import TaskKind


class DemonstrationIn(SubmitBase):
    """A demonstration: the turns written after the prompt, alternating from the
    assistant's reply and ending with an assistant turn."""

    turns: list[MessageIn] = Field(default_factory=list, max_length=64)
    candidate: CompletionId | None = Field(
        None, description="the AI-written candidate shown with the task that this reply accepts or edits")


@dataclass(frozen=True)
class DemoAnswer:
    turns: list[dict[str, str]]
    candidate: str | None = None


class DemonstrationAnswerOut(AnswerOut):
    messages: list[dict[str, str]] = Field(description="the prompt, then the turns the labeler wrote")
    prompt_turns: int = Field(description="how many of `messages` are the prompt's")


class Demonstration(Kind[DemonstrationIn, DemoAnswer, DemonstrationRow, DemonstrationAnswerOut]):
    task_kind = TaskKind.demonstration
    input_model = DemonstrationIn
    answer_model = DemonstrationAnswerOut
    judgement_model = DemonstrationRow
    template = "work/demonstration.html"
    item_plan = OnePerPrompt()
    suggests = True

    def check(self, body: DemonstrationIn, task: Task, problems: Problems) -> DemoAnswer:
        turns = body.turns
        if not turns:
            problems.add("turns", "Write the assistant's reply before submitting.")
        if len(turns) > 1 and not task.project.multi_turn:
            problems.add("turns", "This project takes a single reply: send exactly one assistant turn.")
        out: list[dict[str, str]] = []
        for i, turn in enumerate(turns):
            expected = "assistant" if i % 2 == 0 else "user"
            if turn.role != expected:
                problems.add(
                    f"turns.{i}.role",
                    f"Turn {i + 1} must be '{expected}': turns alternate, starting with the assistant.",
                )
            content = checked_text(turn.content, f"turns.{i}.content", task, problems, f"turn {i + 1}")
            out.append({"role": turn.role, "content": content})
        if turns and turns[-1].role != "assistant":
            problems.add("turns", "The conversation must end with an assistant turn.")
        if body.candidate is not None and body.candidate not in task.shown:
            problems.add("candidate", f"'{body.candidate}' is not one of the candidates shown with this task.")
        return DemoAnswer(turns=out, candidate=body.candidate)

    def columns(self, rec: Recording, answer: DemoAnswer) -> dict[str, Any]:
        prompt = repo.item_prompt(rec.db, rec.lease.item_id)
        if prompt is None:
            raise InvalidInput("This task has no prompt to answer; ask an admin to check the project.")
        drafted_by = None
        if answer.candidate is not None:
            found = {c.public_id: c for c, _ in repo.item_completions(rec.db, rec.lease.item_id)}
            drafted_by = found[answer.candidate].model_version_id if answer.candidate in found else None
        return {
            "prompt_id": prompt.id,
            "messages": [*prompt.messages, *answer.turns],
            "prompt_turns": len(prompt.messages),
            # The model whose candidate the reply accepts or edits (Constitutional AI, app/ai_labeling).
            "suggestion_model_id": drafted_by,
        }

    def summary(self, judgement: DemonstrationRow) -> str:
        return last_message(judgement.messages)

    def answer_out(
        self, db: Session, judgement: DemonstrationRow, completions: list[tuple[str, int]]
    ) -> DemonstrationAnswerOut:
        return DemonstrationAnswerOut(messages=judgement.messages, prompt_turns=judgement.prompt_turns)


KIND = Demonstration()
