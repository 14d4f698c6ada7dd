"""How quality control reads and corrects a judgement, one class per task kind, looked
up in one table (``ANSWERS``).

- ``view``: the answer in completion letters, for the review page and a labeler's history
  (letters follow the canonical order for reviewers, the shown order for the labeler;
  ``canonical`` is the item's completion ids, A first);
- ``snapshot``: the answer in completion ids, kept as a revision before a correction;
- ``correct``: store a corrected answer (already checked by the labeling validation)
  in place, so exports read the latest version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.labeling.validation import Answer, DemoAnswer, PairAnswer, RankingAnswer
from app.models import (
    Demonstration,
    MarginLabel,
    PairwiseJudgement,
    PromptSubmission,
    Ranking,
    RankingVerdict,
    TaskKind,
    Winner,
)
from app.quality import repository as repo

Letters = Mapping[str, str]  # completion public id -> letter


class KindAnswers(Protocol):
    def view(self, db: Session, judgement: Any, canonical: list[str], letters: Letters) -> dict[str, Any]: ...

    def summary(self, view: Mapping[str, Any]) -> str: ...

    def snapshot(self, db: Session, judgement: Any) -> dict[str, Any]: ...

    def correct(self, db: Session, judgement: Any, answer: Answer, canonical: list[str]) -> None: ...


class RankingAnswers:
    def view(self, db: Session, judgement: Ranking, canonical: list[str], letters: Letters) -> dict[str, Any]:
        if judgement.verdict == RankingVerdict.not_rankable:
            return {"verdict": "not_rankable", "reason": judgement.reason}
        entries = repo.ranking_entries(db, judgement.id)
        groups: dict[int, list[str]] = {}
        for cid, group, _, _ in sorted(entries, key=lambda e: letters.get(e[0], e[0])):
            if group is not None:
                groups.setdefault(group, []).append(letters.get(cid, cid))
        return {
            "verdict": "ranked",
            "ranking": [groups[g] for g in sorted(groups)],
            "ratings": {letters.get(c, c): r for c, _, r, _ in entries if r is not None},
            "flags": {letters.get(c, c): f for c, _, _, f in entries if f},
        }

    def summary(self, view: Mapping[str, Any]) -> str:
        if view["verdict"] == "not_rankable":
            return f"not rankable: {(view.get('reason') or '')[:80]}"
        return " > ".join(" = ".join(tier) for tier in view["ranking"])

    def snapshot(self, db: Session, judgement: Ranking) -> dict[str, Any]:
        entries = repo.ranking_entries(db, judgement.id)
        groups: dict[int, list[str]] = {}
        for cid, group, _, _ in sorted(entries):
            if group is not None:
                groups.setdefault(group, []).append(cid)
        return {
            "verdict": judgement.verdict.value,
            "reason": judgement.reason,
            "ranking": [groups[g] for g in sorted(groups)],
            "ratings": {c: r for c, _, r, _ in entries if r is not None},
            "flags": {c: f for c, _, _, f in entries if f},
        }

    def correct(self, db: Session, judgement: Ranking, answer: Answer, canonical: list[str]) -> None:
        assert isinstance(answer, RankingAnswer)  # validated against this ranking task
        judgement.verdict = RankingVerdict(answer.verdict)
        judgement.reason = answer.reason
        ids = repo.completion_ids(db, judgement.item_id)
        repo.replace_ranking_entries(db, judgement.id, [
            {"completion_id": ids[cid], "tie_group": g, "rating": answer.ratings.get(cid),
             "flags": answer.flags.get(cid, [])}
            for g, group in enumerate(answer.groups) for cid in group
        ])


class PairAnswers:
    def view(self, db: Session, judgement: PairwiseJudgement, canonical: list[str], letters: Letters) -> dict[str, Any]:
        winner = {Winner.a: canonical[0], Winner.b: canonical[1]}.get(judgement.winner) if len(canonical) == 2 else None
        return {
            "verdict": judgement.winner.value if winner is None else "preferred",
            "preferred": letters.get(winner, winner) if winner else None,
            "margin_label": judgement.margin_label.value if judgement.margin_label else None,
            "reason": judgement.reason,
        }

    def summary(self, view: Mapping[str, Any]) -> str:
        if view["verdict"] != "preferred":
            return str(view["verdict"]).replace("_", " ")
        return f"{view['preferred']} {(view['margin_label'] or '').replace('_', ' ')}".strip()

    def snapshot(self, db: Session, judgement: PairwiseJudgement) -> dict[str, Any]:
        return {
            "winner": judgement.winner.value,
            "margin_label": judgement.margin_label.value if judgement.margin_label else None,
            "safety_a": judgement.safety_a.value if judgement.safety_a else None,
            "safety_b": judgement.safety_b.value if judgement.safety_b else None,
            "reason": judgement.reason,
        }

    def correct(self, db: Session, judgement: PairwiseJudgement, answer: Answer, canonical: list[str]) -> None:
        assert isinstance(answer, PairAnswer)
        if answer.verdict == "both_bad":
            judgement.winner = Winner.both_bad
        else:
            judgement.winner = Winner.a if answer.preferred == canonical[0] else Winner.b
        judgement.margin_label = MarginLabel(answer.margin_label) if answer.margin_label else None
        judgement.safety_a = answer.safety.get(canonical[0])
        judgement.safety_b = answer.safety.get(canonical[1]) if len(canonical) > 1 else None
        judgement.reason = answer.reason


class TextAnswers:
    """Demonstrations (corrected by rewriting the reply) and written prompts (read only:
    a written prompt has already joined the prompt pool)."""

    def view(
        self, db: Session, judgement: Demonstration | PromptSubmission, canonical: list[str], letters: Letters
    ) -> dict[str, Any]:
        return {"messages": judgement.messages}

    def summary(self, view: Mapping[str, Any]) -> str:
        messages = view.get("messages") or []
        return str(messages[-1]["content"])[:80] if messages else ""

    def snapshot(self, db: Session, judgement: Demonstration | PromptSubmission) -> dict[str, Any]:
        return {"messages": judgement.messages}

    def correct(self, db: Session, judgement: Demonstration | PromptSubmission, answer: Answer, canonical: list[str]) -> None:
        if not isinstance(judgement, Demonstration) or not isinstance(answer, DemoAnswer):
            raise InvalidInput("A written prompt has joined the project's prompts and cannot be corrected.")
        judgement.messages = [*judgement.messages[: judgement.prompt_turns], *answer.turns]


ANSWERS: dict[TaskKind, KindAnswers] = {
    TaskKind.ranking: RankingAnswers(),
    TaskKind.pairwise: PairAnswers(),
    TaskKind.evaluation: PairAnswers(),
    TaskKind.demonstration: TextAnswers(),
    TaskKind.prompt_writing: TextAnswers(),
}
