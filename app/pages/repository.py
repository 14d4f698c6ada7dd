"""The few reads the page shells need (the pages get everything else from the JSON API).
Who sees which project is app/access.py's rule."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import access
from app.errors import Conflict, Forbidden, NotFound
from app.models import Project, User


def work_project(db: Session, ref: str, user: User) -> Project:
    """The project if the user works in it. One they may only read (an admin or engineer
    who is not among its labelers, an archived project) says why and what to do; any
    other is 404."""
    project = access.by_ref(db, access.assigned(user), ref)
    if project is not None:
        return project
    readable = access.by_ref(db, access.readable(user), ref)
    if readable is None:
        raise NotFound(access.NOT_FOUND)
    if readable.archived:
        raise Conflict(f"{readable.name!r} is archived: no one works in it any more.")
    raise Forbidden(f"You are not among the labelers of {readable.name!r}. To work in it, add "
                    "yourself on its Settings & labelers page.")


def member_projects(db: Session, user: User) -> list[Project]:
    return list(db.scalars(access.assigned(user).order_by(Project.name, Project.id)))


def readable_project(db: Session, ref: str, user: User) -> Project:
    """The project if the user may read it (admins: every project, archived ones too)."""
    return access.readable_project(db, user, ref)
