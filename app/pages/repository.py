"""The few reads the page shells need (the pages get everything else from the JSON API).
Who sees which project is app/access.py's rule."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import access
from app.models import Project, User


def work_project(db: Session, ref: str, user: User) -> Project:
    """The project if the user works in it (404 otherwise)."""
    return access.assigned_project(db, user, ref)


def member_projects(db: Session, user: User) -> list[Project]:
    return list(db.scalars(access.assigned(user).order_by(Project.name, Project.id)))


def readable_project(db: Session, ref: str, user: User) -> Project:
    """The project if the user may read it (admins: every project, archived ones too)."""
    return access.readable_project(db, user, ref)
