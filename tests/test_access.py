"""Who may read, change or work in which project (app/access.py): the one rule every
project lookup is built on, role by role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Select
from sqlalchemy.orm import Session

from app import access
from app.errors import NotFound
from app.models import Project, Role, User
from tests.factories import add_member, make_labelers, make_project


@dataclass
class World:
    """Every role is a member of ``mine`` and of ``archived``; nobody of ``other``."""

    users: dict[Role, User]
    mine: Project
    archived: Project
    other: Project


@pytest.fixture
def world(db: Session) -> World:
    users = {role: make_labelers(db, 1, role)[0] for role in Role}
    mine, archived, other = (make_project(db) for _ in range(3))
    archived.archived = True
    db.commit()
    for project in (mine, archived):
        add_member(db, project, *users.values())
    return World(users, mine, archived, other)


def _names(db: Session, query: Select[Project], w: World) -> set[str]:
    names = {w.mine.id: "mine", w.archived.id: "archived", w.other.id: "other"}
    return {names[p.id] for p in db.scalars(query)}


EVERY = {"mine", "archived", "other"}

# role -> (reads, changes, works in)
RULES: dict[Role, tuple[set[str], set[str], set[str]]] = {
    Role.admin: (EVERY, EVERY, {"mine"}),
    Role.engineer: ({"mine"}, {"mine"}, {"mine"}),
    Role.reviewer: ({"mine"}, set(), {"mine"}),
    Role.labeler: ({"mine"}, set(), {"mine"}),
}


class TestTheRule:
    @pytest.mark.parametrize("role", list(Role))
    def test_each_role_reads_changes_and_works_in_what_the_table_says(
        self, db: Session, world: World, role: Role
    ) -> None:
        actor = world.users[role]
        reads, changes, works = RULES[role]
        assert _names(db, access.readable(actor), world) == reads
        assert _names(db, access.writable(actor), world) == changes
        assert _names(db, access.assigned(actor), world) == works

    def test_the_cli_and_the_worker_act_with_full_rights(self, db: Session, world: World) -> None:
        assert _names(db, access.readable(None), world) == EVERY
        assert _names(db, access.writable(None), world) == EVERY

    def test_an_admin_works_only_where_they_are_a_member(self, db: Session, world: World) -> None:
        admin = make_labelers(db, 1, Role.admin)[0]
        assert _names(db, access.readable(admin), world) == EVERY
        assert _names(db, access.assigned(admin), world) == set()

    @pytest.mark.parametrize("role", list(Role))
    def test_the_row_checks_agree_with_the_queries(self, db: Session, world: World, role: Role) -> None:
        actor = world.users[role]
        reads, _, works = RULES[role]
        for name, project in (("mine", world.mine), ("archived", world.archived), ("other", world.other)):
            assert access.can_read(db, actor, project.id) == (name in reads), name
            assert access.can_work(db, actor, project.id) == (name in works), name


class TestNamingAProject:
    def test_an_id_and_a_slug_find_the_same_project(self, db: Session, world: World) -> None:
        labeler = world.users[Role.labeler]
        assert access.readable_project(db, labeler, world.mine.public_id) is world.mine
        assert access.readable_project(db, labeler, world.mine.slug) is world.mine
        assert access.assigned_project(db, labeler, world.mine.slug) is world.mine

    def test_a_public_id_wins_over_another_projects_slug_that_spells_it(
        self, db: Session, world: World
    ) -> None:
        world.other.slug = world.mine.public_id
        db.commit()
        assert access.readable_project(db, None, world.mine.public_id) is world.mine

    @pytest.mark.parametrize("role", [Role.engineer, Role.reviewer, Role.labeler])
    def test_someone_elses_or_an_archived_project_reads_like_a_missing_one(
        self, db: Session, world: World, role: Role
    ) -> None:
        actor = world.users[role]
        answers = []
        for ref in (world.other.public_id, world.other.slug, world.archived.slug, "0" * 16):
            with pytest.raises(NotFound) as raised:
                access.readable_project(db, actor, ref)
            answers.append(raised.value.message)
        assert set(answers) == {access.NOT_FOUND}

    def test_a_reviewer_or_labeler_may_change_no_project(self, db: Session, world: World) -> None:
        for role in (Role.reviewer, Role.labeler):
            with pytest.raises(NotFound):
                access.writable_project(db, world.users[role], world.mine.public_id)
        assert access.writable_project(db, world.users[Role.engineer], world.mine.slug) is world.mine
