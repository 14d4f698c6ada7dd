"""Builders for the rows tests arrange, and helpers to authenticate a client."""

from __future__ import annotations

import itertools
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.models import Role, User

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(
    db: Session, role: Role = Role.labeler, email: str | None = None, password: str = PASSWORD
) -> User:
    n = next(_seq)
    user = auth_service.create_user(
        db, email or f"user{n}@example.org", f"User {n}", password, role=role
    )
    db.commit()
    return user


def login(client: TestClient, user: User, password: str = PASSWORD) -> dict[str, str]:
    """Log the client in with a session cookie; returns the CSRF header to send."""
    r = client.post("/api/v1/auth/login", json={"email": user.email, "password": password})
    assert r.status_code == 200, r.text
    return {"X-CSRF-Token": r.json()["csrf_token"]}


def bearer(db: Session, user: User, name: str = "test") -> dict[str, str]:
    _, raw = auth_service.create_api_token(db, user, name)
    db.commit()
    return {"Authorization": f"Bearer {raw}"}


def as_json(response: Any) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()


# --- labeling builders (rows built directly, independent of the import code) ---------------

_FAST_HASH: dict[str, str] = {}


def make_labelers(db: Session, n: int, role: Role = Role.labeler) -> list[User]:
    """n users sharing one password hash: argon2 runs once, not n times."""
    from app.security.passwords import hash_password

    if "hash" not in _FAST_HASH:
        _FAST_HASH["hash"] = hash_password(PASSWORD)
    users = []
    for _ in range(n):
        k = next(_seq)
        users.append(
            User(email=f"labeler{k}@example.org", display_name=f"Labeler {k}", password_hash=_FAST_HASH["hash"], role=role)
        )
    db.add_all(users)
    db.commit()
    return users


def make_project(db: Session, kind: str = "ranking", **settings: Any) -> Any:
    from app.models import Project, TaskKind

    n = next(_seq)
    project = Project(slug=f"project-{n}", name=f"Project {n}", task_kind=TaskKind(kind), **settings)
    db.add(project)
    db.commit()
    return project


def add_member(db: Session, project: Any, *users: User) -> None:
    from app.models import ProjectMember

    db.add_all([ProjectMember(project_id=project.id, user_id=u.id) for u in users])
    db.commit()


def make_prompt(db: Session, project: Any, text: str | None = None, category: str | None = "open_qa") -> Any:
    from app.models import Prompt

    n = next(_seq)
    prompt = Prompt(
        project_id=project.id,
        external_id=f"q{n}",
        messages=[{"role": "user", "content": text or f"Question number {n}?"}],
        category=category,
    )
    db.add(prompt)
    db.flush()
    return prompt


def _item_with_completions(db: Session, project: Any, k: int) -> Any:
    from app.models import Completion, ItemCompletion, WorkItem

    prompt = make_prompt(db, project)
    completions = [
        Completion(prompt_id=prompt.id, external_id=f"c{i}", content=f"Answer {i} to {prompt.external_id}", model_name=f"model-{i % 2}")
        for i in range(k)
    ]
    db.add_all(completions)
    db.flush()
    item = WorkItem(project_id=project.id, prompt_id=prompt.id, required=project.overlap)
    db.add(item)
    db.flush()
    db.add_all([ItemCompletion(item_id=item.id, position=i, completion_id=c.id) for i, c in enumerate(completions)])
    db.commit()
    return item


def make_ranking_item(db: Session, project: Any, k: int = 4) -> Any:
    return _item_with_completions(db, project, k)


def make_pairwise_item(db: Session, project: Any) -> Any:
    return _item_with_completions(db, project, 2)


def make_demo_item(db: Session, project: Any) -> Any:
    from app.models import WorkItem

    prompt = make_prompt(db, project)
    item = WorkItem(project_id=project.id, prompt_id=prompt.id, required=project.overlap)
    db.add(item)
    db.commit()
    return item


def make_prompt_writing_item(db: Session, project: Any, category: str = "open_qa") -> Any:
    from app.models import WorkItem

    item = WorkItem(project_id=project.id, prompt_id=None, category=category, required=project.overlap)
    db.add(item)
    db.commit()
    return item
