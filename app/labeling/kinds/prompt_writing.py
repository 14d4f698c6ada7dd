"""Prompt writing: the labeler writes a prompt for an instruction category; it also
enters the project's prompt pool (InstructGPT's labeler-written prompts)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from app.labeling import repository as repo
from app.labeling.kinds.base import (
    AnswerOut,
    Kind,
    MessageIn,
    Problems,
    Recording,
    SubmitBase,
    Task,
    checked_text,
    last_message,
)
from app.labeling.plans import PerCategory
from app.models import PromptSubmission, TaskKind

PROMPT_ROLES = ("system", "user", "assistant")
SLUG_MAX = 64


class PromptWritingIn(SubmitBase):
    """A prompt-writing answer: the conversation that asks, ending with the user's turn."""

    messages: list[MessageIn] = Field(default_factory=list, max_length=64)
    category: str | None = Field(None, max_length=SLUG_MAX, description="defaults to the task's category")


@dataclass(frozen=True)
class PromptAnswer:
    messages: list[dict[str, str]]
    category: str | None


class PromptWritingAnswerOut(AnswerOut):
    messages: list[dict[str, str]]
    category: str | None


class PromptWriting(Kind[PromptWritingIn, PromptAnswer, PromptSubmission, PromptWritingAnswerOut]):
    task_kind = TaskKind.prompt_writing
    input_model = PromptWritingIn
    answer_model = PromptWritingAnswerOut
    judgement_model = PromptSubmission
    template = "work/prompt_writing.html"
    item_plan = PerCategory()

    def check(self, body: PromptWritingIn, task: Task, problems: Problems) -> PromptAnswer:
        messages: list[dict[str, str]] = []
        if not body.messages:
            problems.add("messages", "Write the prompt: at least one user message is needed.")
        for i, msg in enumerate(body.messages):
            if msg.role not in PROMPT_ROLES:
                problems.add(
                    f"messages.{i}.role", f"Message {i + 1} has role '{msg.role}'; use system, user or assistant."
                )
            content = checked_text(msg.content, f"messages.{i}.content", task, problems, f"message {i + 1}")
            messages.append({"role": msg.role, "content": content})
        if messages and messages[-1]["role"] != "user":
            problems.add("messages", "A prompt must end with a user message (the turn the model answers).")
        if not task.project.multi_turn and sum(1 for m in messages if m["role"] != "system") > 1:
            problems.add("messages", "This project takes single-turn prompts: write one user message.")
        category = body.category or task.category
        if category is not None and category not in task.project.categories:
            problems.add(
                "category", f"Unknown category '{category}'; pick one of: {', '.join(task.project.categories)}."
            )
        return PromptAnswer(messages=messages, category=category)

    def columns(self, rec: Recording, answer: PromptAnswer) -> dict[str, Any]:
        prompt_id = repo.insert_prompt(
            rec.db,
            {
                "project_id": rec.project.id,
                "external_id": f"labeler-{rec.public_id}",
                "messages": answer.messages,
                "category": answer.category,
                "source": "labeler",
            },
        )
        return {"messages": answer.messages, "category": answer.category, "prompt_id": prompt_id}

    def summary(self, judgement: PromptSubmission) -> str:
        return last_message(judgement.messages)

    def answer_out(
        self, db: Session, judgement: PromptSubmission, completions: list[tuple[str, int]]
    ) -> PromptWritingAnswerOut:
        return PromptWritingAnswerOut(messages=judgement.messages, category=judgement.category)


KIND = PromptWriting()
