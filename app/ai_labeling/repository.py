"""Every query of the AI-labeling domain, scoped to one project or one AI labeler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from app.labeling import repository as labeling
from app.labeling.repository import JudgementModel
from app.models import (
    AiConstitution,
    AiJudgement,
    AiLabeler,
    Completion,
    ItemCompletion,
    ModelVersion,
    Prompt,
    User,
    WorkItem,
)


def model_by_public_id(db: Session, public_id: str) -> ModelVersion | None:
    return db.scalar(select(ModelVersion).where(ModelVersion.public_id == public_id))


def model_by_id(db: Session, model_id: int) -> ModelVersion:
    found = db.get(ModelVersion, model_id)
    assert found is not None
    return found


def labeler_by_public_id(db: Session, public_id: str) -> AiLabeler | None:
    return db.scalar(select(AiLabeler).where(AiLabeler.public_id == public_id))


def labeler_by_id(db: Session, labeler_id: int) -> AiLabeler | None:
    return db.get(AiLabeler, labeler_id)


def labelers_of(db: Session, project_id: int) -> list[tuple[AiLabeler, User, ModelVersion]]:
    rows = db.execute(
        select(AiLabeler, User, ModelVersion)
        .join(User, User.id == AiLabeler.user_id)
        .join(ModelVersion, ModelVersion.id == AiLabeler.model_version_id)
        .where(AiLabeler.project_id == project_id)
        .order_by(AiLabeler.id)
    )
    return [(a, u, m) for a, u, m in rows]


def user(db: Session, user_id: int) -> User:
    return labeling.user(db, user_id)


def add(db: Session, row: Any) -> None:
    db.add(row)
    db.flush()


def constitutions(db: Session, labeler_id: int) -> list[AiConstitution]:
    return list(db.scalars(
        select(AiConstitution).where(AiConstitution.ai_labeler_id == labeler_id).order_by(AiConstitution.version)
    ))


# --- what a run judges -----------------------------------------------------------------------


def items_to_judge(db: Session, model: JudgementModel, project_id: int, user_id: int, limit: int) -> list[int]:
    """Regular (not gold) items with completions that this AI account has not judged yet,
    in id order."""
    judged = select(model.id).where(model.item_id == WorkItem.id, model.user_id == user_id)
    has_completions = select(ItemCompletion.item_id).where(ItemCompletion.item_id == WorkItem.id)
    query = (
        select(WorkItem.id)
        .where(WorkItem.project_id == project_id, WorkItem.is_gold.is_(False), ~exists(judged),
               exists(has_completions))
        .order_by(WorkItem.id)
        .limit(limit)
    )
    return [int(i) for i in db.scalars(query)]


@dataclass(frozen=True)
class ItemToJudge:
    item_id: int
    public_id: str
    category: str | None
    prompt: list[dict[str, str]]
    completions: list[tuple[str, str]]  # (public id, content), canonical order


def items(db: Session, item_ids: Sequence[int]) -> list[ItemToJudge]:
    if not item_ids:
        return []
    heads = db.execute(
        select(WorkItem.id, WorkItem.public_id, WorkItem.category, Prompt.messages)
        .join(Prompt, Prompt.id == WorkItem.prompt_id)
        .where(WorkItem.id.in_(item_ids))
    ).all()
    texts: dict[int, list[tuple[str, str]]] = {}
    for item_id, cid, content in db.execute(
        select(ItemCompletion.item_id, Completion.public_id, Completion.content)
        .join(Completion, Completion.id == ItemCompletion.completion_id)
        .where(ItemCompletion.item_id.in_(item_ids))
        .order_by(ItemCompletion.item_id, ItemCompletion.position)
    ):
        texts.setdefault(int(item_id), []).append((cid, content))
    by_id = {
        int(i): ItemToJudge(int(i), pid, cat, list(messages or []), texts.get(int(i), []))
        for i, pid, cat, messages in heads
    }
    return [by_id[i] for i in item_ids if i in by_id]


def open_item_ids(db: Session, project_id: int, limit: int) -> list[int]:
    """The project's open regular items, in id order."""
    query = (select(WorkItem.id)
             .where(WorkItem.project_id == project_id, WorkItem.is_open.is_(True), WorkItem.is_gold.is_(False))
             .order_by(WorkItem.id).limit(limit))
    return [int(i) for i in db.scalars(query)]


def set_uncertainty(db: Session, margins: dict[int, float]) -> None:
    for item_id, margin in margins.items():
        db.execute(update(WorkItem).where(WorkItem.id == item_id).values(uncertainty=margin))


def demonstration_prompts(
    db: Session, project_id: int, tag: str, limit: int
) -> list[tuple[int, str, list[dict[str, str]], str | None]]:
    """(id, public id, messages, category) of the project's prompts that have a regular
    work item and no completion from the job ``tag`` yet, in id order."""
    done = select(Completion.id).where(Completion.prompt_id == Prompt.id, Completion.external_id == f"cai-{tag}")
    has_item = select(WorkItem.id).where(WorkItem.prompt_id == Prompt.id, WorkItem.project_id == project_id,
                                         WorkItem.is_gold.is_(False))
    rows = db.execute(
        select(Prompt.id, Prompt.public_id, Prompt.messages, Prompt.category)
        .where(Prompt.project_id == project_id, exists(has_item), ~exists(done))
        .order_by(Prompt.id).limit(limit)
    )
    return [(int(i), pid, list(messages or []), category) for i, pid, messages, category in rows]


def add_candidate(db: Session, project_id: int, prompt_id: int, external_id: str, text: str,
                  model: Any, trail: dict[str, Any]) -> None:
    """A revision offered on the prompt's demonstration item (a completion of the item)."""
    item_id = db.scalar(select(WorkItem.id).where(WorkItem.project_id == project_id, WorkItem.prompt_id == prompt_id,
                                                  WorkItem.is_gold.is_(False)).order_by(WorkItem.id).limit(1))
    if item_id is None:
        return
    completion = Completion(prompt_id=prompt_id, external_id=external_id, content=text,
                            model_version_id=model.id, model_name=model.name, sampling={"constitutional": trail})
    db.add(completion)
    db.flush()
    position = db.scalar(select(func.coalesce(func.max(ItemCompletion.position) + 1, 0))
                         .where(ItemCompletion.item_id == item_id))
    db.add(ItemCompletion(item_id=item_id, position=int(position or 0), completion_id=completion.id))
    db.flush()


def judged_count(db: Session, labeler_id: int) -> int:
    return int(db.scalar(select(func.count()).select_from(AiJudgement)
                         .where(AiJudgement.ai_labeler_id == labeler_id)) or 0)


def provenance(db: Session, judgement_public_id: str) -> AiJudgement | None:
    return db.scalar(select(AiJudgement).where(AiJudgement.judgement_public_id == judgement_public_id))


def judged_item_ids(db: Session, model: JudgementModel, user_id: int) -> list[int]:
    return [int(i) for i in db.scalars(select(model.item_id).where(model.user_id == user_id).order_by(model.item_id))]
