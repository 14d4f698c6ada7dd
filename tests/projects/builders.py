"""Builders for projects, prompts and completions through the real services."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from app.labeling import items
from app.models import Completion, Project, Prompt, TaskKind
from app.projects import service as projects
from app.projects.schemas import ProjectCreate


def project(db: Session, kind: TaskKind = TaskKind.ranking, **settings: Any) -> Project:
    body = ProjectCreate.model_validate({"name": f"{kind.value} project", "task_kind": kind, **settings})
    made = projects.create(db, None, body)
    db.commit()
    return made


def prompt(db: Session, proj: Project, text: str = "Explain TCP vs UDP.", ext: str | None = None) -> Prompt:
    row = Prompt(
        project_id=proj.id,
        external_id=ext or f"p{db.query(Prompt).count() + 1}",
        messages=[{"role": "user", "content": text}],
    )
    db.add(row)
    db.flush()
    items.add_prompts(db, proj, [row])
    return row


def completions(db: Session, proj: Project, parent: Prompt, n: int) -> list[Completion]:
    start = db.query(Completion).filter(Completion.prompt_id == parent.id).count()
    rows = [
        Completion(prompt_id=parent.id, external_id=f"c{start + i}", content=f"answer {start + i}", model_name="m")
        for i in range(n)
    ]
    db.add_all(rows)
    db.flush()
    items.add_completions(db, proj, parent, rows)
    return rows
