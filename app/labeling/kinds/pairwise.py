"""Pairwise with margin: two answers side by side; the better one and by how much
(Llama 2's four-step scale), or "both are bad". Projects that train a safety reward
model also ask for a safe/unsafe label on each answer, whatever the verdict: a safety
label on two bad answers is still a useful label.

The labeler sees the answers in their own shuffled order (A, B as shown); the row
stores the winner by the item's canonical positions (``Winner.a`` = position 0).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from app.labeling import repository as repo
from app.labeling.kinds.base import (
    REASON_MAX,
    AnswerOut,
    CompletionId,
    Kind,
    Problems,
    Recording,
    SubmitBase,
    Task,
)
from app.labeling.plans import pairs
from app.models import MarginLabel, PairwiseJudgement, Safety, TaskKind, Winner

MARGINS = ", ".join(m.value for m in MarginLabel)


class PairVerdict(enum.StrEnum):
    preferred = "preferred"
    both_bad = "both_bad"


class PairwiseIn(SubmitBase):
    """A pairwise or evaluation answer: ``preferred`` with the better completion's id and
    the margin, or ``both_bad``; ``safety`` labels both answers where the project asks."""

    verdict: PairVerdict
    preferred: CompletionId | None = None
    margin_label: MarginLabel | None = None
    safety: dict[CompletionId, Safety] = Field(default_factory=dict, max_length=2)
    reason: str | None = Field(None, max_length=REASON_MAX)


@dataclass(frozen=True)
class PairAnswer:
    verdict: PairVerdict
    preferred: str | None = None
    margin_label: MarginLabel | None = None
    safety: dict[str, Safety] = field(default_factory=dict)
    reason: str | None = None


class PairwiseAnswerOut(AnswerOut):
    verdict: PairVerdict
    preferred: str | None
    winner: Winner = Field(description="by the item's canonical positions: a = 0, b = 1")
    margin_label: MarginLabel | None
    safety: dict[str, Safety]
    reason: str | None


class Pairwise(Kind[PairwiseIn, PairAnswer, PairwiseJudgement, PairwiseAnswerOut]):
    task_kind = TaskKind.pairwise
    input_model = PairwiseIn
    answer_model = PairwiseAnswerOut
    judgement_model = PairwiseJudgement
    template = "work/pairwise.html"
    item_plan = pairs()

    def check(self, body: PairwiseIn, task: Task, problems: Problems) -> PairAnswer:
        safety: dict[str, Safety] = {}
        for cid, value in body.safety.items():
            if cid in task.shown:
                safety[cid] = value
            else:
                problems.add(f"safety.{cid}", f"'{cid}' is not one of the two answers shown.")
        if task.project.safety_labels:
            for cid in task.shown:
                if cid not in safety:
                    problems.add(
                        "safety",
                        f"Mark {task.label(cid)} as safe or unsafe: this project asks for a safety "
                        "label on both answers, also when both are bad.",
                    )
        reason = (body.reason or "").strip() or None
        if reason and len(reason) > task.max_chars:
            problems.add("reason", f"The reason is longer than {task.max_chars} characters; shorten it.")
        if body.verdict == PairVerdict.both_bad:
            if body.preferred or body.margin_label:
                problems.add("verdict", "'both_bad' takes no preferred answer or margin; remove them.")
            return PairAnswer(verdict=PairVerdict.both_bad, safety=safety, reason=reason)
        if not body.preferred:
            problems.add("preferred", "Pick the better answer: 'preferred' must be answer A's or answer B's id.")
        elif body.preferred not in task.shown:
            problems.add("preferred", f"'{body.preferred}' is not one of the two answers shown.")
        if body.margin_label is None:
            problems.add("margin_label", f"Say how much better: {MARGINS}.")
        return PairAnswer(
            verdict=PairVerdict.preferred,
            preferred=body.preferred,
            margin_label=body.margin_label,
            safety=safety,
            reason=reason,
        )

    def columns(self, rec: Recording, answer: PairAnswer) -> dict[str, Any]:
        canonical = [public_id for public_id, _ in repo.completion_ids(rec.db, rec.lease.item_id)]
        if answer.verdict == PairVerdict.both_bad:
            winner = Winner.both_bad
        else:
            winner = Winner.a if answer.preferred == canonical[0] else Winner.b
        return {
            "winner": winner,
            "margin_label": answer.margin_label,
            "safety_a": answer.safety.get(canonical[0]),
            "safety_b": answer.safety.get(canonical[1]) if len(canonical) > 1 else None,
            "reason": answer.reason,
        }

    def summary(self, judgement: PairwiseJudgement) -> str:
        if judgement.winner == Winner.both_bad:
            return "both bad"
        margin = judgement.margin_label.value.replace("_", " ") if judgement.margin_label else ""
        return f"{judgement.winner.value.upper()} {margin}"

    def answer_out(
        self, db: Session, judgement: PairwiseJudgement, completions: list[tuple[str, int]]
    ) -> PairwiseAnswerOut:
        canonical = [public_id for public_id, _ in completions]
        preferred = None
        if judgement.winner in (Winner.a, Winner.b) and len(canonical) > 1:
            preferred = canonical[0] if judgement.winner == Winner.a else canonical[1]
        safety: dict[str, Safety] = {}
        for position, value in enumerate((judgement.safety_a, judgement.safety_b)):
            if value is not None and position < len(canonical):
                safety[canonical[position]] = value
        return PairwiseAnswerOut(
            verdict=PairVerdict.both_bad if judgement.winner == Winner.both_bad else PairVerdict.preferred,
            preferred=preferred,
            winner=judgement.winner,
            margin_label=judgement.margin_label,
            safety=safety,
            reason=judgement.reason,
        )

    def verdict_filters(self) -> Mapping[str, ColumnElement[bool]]:
        return {
            PairVerdict.both_bad.value: PairwiseJudgement.winner == Winner.both_bad,
            PairVerdict.preferred.value: PairwiseJudgement.winner != Winner.both_bad,
        }


KIND = Pairwise()
