"""Ranking: K answers (4 ≤ K ≤ 9) ordered best to worst, ties allowed, each with an
optional 1–7 rating and flags (InstructGPT's interface); or "not rankable" with a
reason. One ranking yields C(K, 2) comparisons for the reward model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, StringConstraints
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
    checked_text,
    sentence,
)
from app.labeling.plans import ranking_groups
from app.models import Ranking as RankingRow
from app.models import RankingVerdict, TaskKind

FlagName = Annotated[str, StringConstraints(max_length=64)]
TieGroup = Annotated[list[CompletionId], Field(max_length=9)]
Rating = Annotated[int, Field(ge=1, le=7)]


class RankingIn(SubmitBase):
    """A ranking: ``ranked`` with the order (best first; an inner list is a tie group)
    and optional ratings and flags by completion id, or ``not_rankable`` with a reason."""

    verdict: RankingVerdict
    ranking: list[TieGroup] = Field(default_factory=list, max_length=9)
    ratings: dict[CompletionId, Rating] = Field(default_factory=dict, max_length=9)
    flags: dict[CompletionId, Annotated[list[FlagName], Field(max_length=32)]] = Field(
        default_factory=dict, max_length=9
    )
    reason: str | None = Field(None, max_length=REASON_MAX)


@dataclass(frozen=True)
class RankingAnswer:
    verdict: RankingVerdict
    groups: list[list[str]] = field(default_factory=list)
    ratings: dict[str, int] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    reason: str | None = None


class RankingAnswerOut(AnswerOut):
    verdict: RankingVerdict
    reason: str | None
    ranking: list[list[str]] = Field(description="completion ids, best first; an inner list is a tie")
    ratings: dict[str, int]
    flags: dict[str, list[str]]


def _known(cid: str, task: Task, where: str, problems: Problems) -> bool:
    if cid in task.shown:
        return True
    problems.add(where, f"'{cid}' is not one of the answers shown in this task.")
    return False


class Ranking(Kind[RankingIn, RankingAnswer, RankingRow, RankingAnswerOut]):
    task_kind = TaskKind.ranking
    input_model = RankingIn
    answer_model = RankingAnswerOut
    judgement_model = RankingRow
    template = "work/ranking.html"
    item_plan = ranking_groups()

    def check(self, body: RankingIn, task: Task, problems: Problems) -> RankingAnswer:
        if body.verdict == RankingVerdict.not_rankable:
            reason = checked_text(body.reason or "", "reason", task, problems, "reason")
            for name, given in (("ranking", body.ranking), ("ratings", body.ratings), ("flags", body.flags)):
                if given:
                    problems.add(name, f"A task marked not rankable takes no '{name}'; remove it or rank the answers.")
            return RankingAnswer(verdict=RankingVerdict.not_rankable, reason=reason)
        groups = self._groups(body, task, problems)
        ratings = {cid: value for cid, value in body.ratings.items() if _known(cid, task, f"ratings.{cid}", problems)}
        flags: dict[str, list[str]] = {}
        for cid, names in body.flags.items():
            if not _known(cid, task, f"flags.{cid}", problems):
                continue
            for name in names:
                if name not in task.project.flags:
                    problems.add(
                        f"flags.{cid}", f"Unknown flag '{name}'; use one of: {', '.join(task.project.flags)}."
                    )
            if len(set(names)) != len(names):
                problems.add(f"flags.{cid}", f"A flag is repeated for {task.label(cid)}; give each flag once.")
            flags[cid] = list(dict.fromkeys(names))
        return RankingAnswer(verdict=RankingVerdict.ranked, groups=groups, ratings=ratings, flags=flags)

    def _groups(self, body: RankingIn, task: Task, problems: Problems) -> list[list[str]]:
        groups: list[list[str]] = []
        seen: set[str] = set()
        for g, group in enumerate(body.ranking):
            if not group:
                problems.add(f"ranking.{g}", f"Tie group {g + 1} is empty; remove it.")
                continue
            for cid in group:
                if not _known(cid, task, f"ranking.{g}", problems):
                    continue
                if cid in seen:
                    problems.add(
                        f"ranking.{g}", f"{sentence(task.label(cid))} appears twice in the ranking; place each answer once."
                    )
                seen.add(cid)
            groups.append(list(group))
        for cid in task.shown:
            if cid not in seen:
                problems.add("ranking", f"The ranking is missing {task.label(cid)}: rank every answer.")
        return groups

    def columns(self, rec: Recording, answer: RankingAnswer) -> dict[str, Any]:
        return {"verdict": answer.verdict, "reason": answer.reason}

    def after_insert(self, rec: Recording, judgement_id: int, answer: RankingAnswer) -> None:
        if answer.verdict != RankingVerdict.ranked:
            return
        ids = dict(repo.completion_ids(rec.db, rec.lease.item_id))
        repo.insert_ranking_entries(
            rec.db,
            [
                {
                    "ranking_id": judgement_id,
                    "completion_id": ids[cid],
                    "tie_group": group_index,
                    "rating": answer.ratings.get(cid),
                    "flags": answer.flags.get(cid, []),
                }
                for group_index, group in enumerate(answer.groups)
                for cid in group
            ],
        )

    def summary(self, judgement: RankingRow) -> str:
        if judgement.verdict == RankingVerdict.not_rankable:
            return f"not rankable: {(judgement.reason or '')[:80]}"
        return f"ranked {len(judgement.shown_order)} answers"

    def answer_out(
        self, db: Session, judgement: RankingRow, completions: list[tuple[str, int]]
    ) -> RankingAnswerOut:
        public = {cid: public_id for public_id, cid in completions}
        shown = judgement.shown_order
        entries = sorted(
            repo.ranking_entries(db, judgement.id),
            key=lambda e: (e.tie_group or 0, shown.index(public[e.completion_id])),
        )
        groups: dict[int, list[str]] = {}
        for e in entries:
            groups.setdefault(e.tie_group or 0, []).append(public[e.completion_id])
        return RankingAnswerOut(
            verdict=judgement.verdict,
            reason=judgement.reason,
            ranking=[groups[g] for g in sorted(groups)],
            ratings={public[e.completion_id]: e.rating for e in entries if e.rating is not None},
            flags={public[e.completion_id]: e.flags for e in entries if e.flags},
        )

    def verdict_filters(self) -> Mapping[str, ColumnElement[bool]]:
        return {verdict.value: RankingRow.verdict == verdict for verdict in RankingVerdict}


KIND = Ranking()
