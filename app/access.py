"""Which projects an actor may read, change or work in: one definition of each, which
every query that loads a project for someone is built on (Polar's
``get_readable_statement(actor)``). Nothing else decides it.

=========  ===============================  ===========================  ==========================
actor      reads                            changes                      works in (labels, corrects)
=========  ===============================  ===========================  ==========================
admin      every project, archived too      every project, archived too  active projects they are a
                                                                         member of
engineer   active projects they are a       the same as they read        the same
           member of                        (samples, exports)
reviewer   active projects they are a       none                         the same as they read
           member of
labeler    active projects they are a       none                         the same as they read
           member of
None       every project (the CLI and the job worker act with full rights)
=========  ===============================  ===========================  ==========================

"Changes" is the project itself and its data: settings, members, prompts, gold items,
quality settings, exports and sampled completions (which of these a role may do at all
is the route's role check). "Works in" is the labeling queue, a labeler's own figures,
history and corrections: an admin labels only where they are a member, like anyone.

An archived project is hidden from everyone but admins (404, as if it did not exist),
and no one works in it.

A project is named by its public id or its slug, everywhere (``by_ref``); a public id
wins over another project's slug that happens to spell it.
"""

from __future__ import annotations

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.models import Project, ProjectMember, Role, User

__all__ = [
    "NOT_FOUND",
    "assigned",
    "assigned_project",
    "by_ref",
    "can_read",
    "can_work",
    "readable",
    "readable_project",
    "writable",
    "writable_project",
]

# The same words whether the project is missing, archived or someone else's.
NOT_FOUND = "There is no project with this id or short name, or it is not open to you."


def _memberships(actor: User) -> Select[Project]:
    member = select(ProjectMember.project_id).where(ProjectMember.user_id == actor.id)
    return select(Project).where(Project.id.in_(member), Project.archived.is_(False))


def readable(actor: User | None) -> Select[Project]:
    """The projects the actor may read."""
    if actor is None or actor.role == Role.admin:
        return select(Project)
    return _memberships(actor)


def writable(actor: User | None) -> Select[Project]:
    """The projects whose settings and data the actor may change."""
    if actor is None or actor.role == Role.admin:
        return select(Project)
    if actor.role == Role.engineer:
        return _memberships(actor)
    return select(Project).where(false())


def assigned(actor: User) -> Select[Project]:
    """The projects the actor works in: active, and they are a member."""
    return _memberships(actor)


def by_ref(db: Session, scope: Select[Project], ref: str) -> Project | None:
    """The project of ``scope`` whose public id or slug is ``ref``."""
    found = db.scalars(scope.where(or_(Project.public_id == ref, Project.slug == ref)).limit(2)).all()
    return next((p for p in found if p.public_id == ref), found[0] if found else None)


def _get(db: Session, scope: Select[Project], ref: str) -> Project:
    project = by_ref(db, scope, ref)
    if project is None:
        raise NotFound(NOT_FOUND)
    return project


def readable_project(db: Session, actor: User | None, ref: str) -> Project:
    """The project named ``ref`` if the actor may read it, else 404."""
    return _get(db, readable(actor), ref)


def writable_project(db: Session, actor: User | None, ref: str) -> Project:
    """The project named ``ref`` if the actor may change it, else 404."""
    return _get(db, writable(actor), ref)


def assigned_project(db: Session, actor: User, ref: str) -> Project:
    """The project named ``ref`` if the actor works in it, else 404."""
    return _get(db, assigned(actor), ref)


def can_read(db: Session, actor: User | None, project_id: int) -> bool:
    """Whether the actor may read the project with this row id (for things found by their
    own id, such as an item or a judgement, whose project decides who sees them)."""
    query = readable(actor).where(Project.id == project_id).exists()
    return bool(db.scalar(select(query)))


def can_work(db: Session, actor: User, project_id: int) -> bool:
    """Whether the actor works in the project with this row id."""
    return bool(db.scalar(select(assigned(actor).where(Project.id == project_id).exists())))
