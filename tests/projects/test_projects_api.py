"""The projects API: create, validate, who sees what, change, archive, members."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEntry, Role, TaskKind, WorkItem
from tests.factories import bearer, make_user
from tests.projects.builders import completions, project, prompt

API = "/api/v1/projects"


def _create(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post(API, json={"name": "Helpful assistant", "task_kind": "ranking", **body}, headers=headers)


class TestCreateProject:
    def test_admin_creates_a_project_with_defaults_and_an_audit_entry(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        r = _create(client, admin)
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["slug"] == "helpful-assistant" and len(body["id"]) == 16
        assert (body["k_min"], body["k_max"], body["overlap"], body["lease_seconds"]) == (4, 9, 1, 1800)
        assert "hallucination" in body["flags"] and "open_qa" in body["categories"]
        assert _create(client, admin).json()["slug"] == "helpful-assistant-2"
        assert set(db.scalars(select(AuditEntry.action))) == {"project.create"}

    def test_k_min_above_k_max_is_refused_with_a_message(self, client: TestClient, db: Session) -> None:
        r = _create(client, bearer(db, make_user(db, Role.admin)), k_min=7, k_max=5)
        assert r.status_code == 422
        assert "k_min must not be larger than k_max" in r.json()["detail"]

    def test_out_of_range_settings_name_the_field(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        for body, field in (
            ({"k_max": 10}, "k_max"),
            ({"overlap": 0}, "overlap"),
            ({"lease_seconds": 10}, "lease_seconds"),
            ({"flags": ["Not A Slug"]}, "flags.0"),
            ({"categories": ["x"] * 33}, "categories"),
            ({"guidelines": "g" * 50_001}, "guidelines"),
        ):
            r = _create(client, admin, **body)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, (body, r.text)

    def test_a_taken_slug_is_a_conflict(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        assert _create(client, admin, slug="dup").status_code == 201
        r = _create(client, admin, slug="dup")
        assert r.status_code == 409 and "dup" in r.json()["detail"]

    def test_a_labeler_may_not_create_projects(self, client: TestClient, db: Session) -> None:
        assert _create(client, bearer(db, make_user(db))).status_code == 403

    def test_a_prompt_writing_project_gets_its_items_at_once(self, client: TestClient, db: Session) -> None:
        r = _create(
            client, bearer(db, make_user(db, Role.admin)),
            task_kind="prompt_writing", categories=["chat", "rewrite"], prompts_per_category=3,
        )
        assert r.json()["prompts_per_category"] == 3
        assert db.scalar(select(func.count()).select_from(WorkItem)) == 6


class TestProjectVisibility:
    def test_labelers_see_only_projects_they_are_members_of(self, client: TestClient, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        labeler = make_user(db)
        mine = _create(client, admin, name="Mine").json()["id"]
        other = _create(client, admin, name="Other").json()["id"]
        r = client.put(f"{API}/{mine}/members", json={"user_ids": [labeler.public_id]}, headers=admin)
        assert r.status_code == 200 and [m["id"] for m in r.json()] == [labeler.public_id]
        lab = bearer(db, labeler)
        assert [p["id"] for p in client.get(API, headers=lab).json()] == [mine]
        assert client.get(f"{API}/{mine}", headers=lab).status_code == 200
        assert client.get(f"{API}/{other}", headers=lab).status_code == 404
        assert len(client.get(API, headers=admin).json()) == 2

    def test_labelers_get_403_on_admin_routes_of_their_own_project(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        pid = _create(client, admin).json()["id"]
        client.put(f"{API}/{pid}/members", json={"user_ids": [labeler.public_id]}, headers=admin)
        lab = bearer(db, labeler)
        assert client.patch(f"{API}/{pid}", json={"name": "x"}, headers=lab).status_code == 403
        assert client.delete(f"{API}/{pid}", headers=lab).status_code == 403
        assert client.get(f"{API}/{pid}/members", headers=lab).status_code == 403

    def test_unauthenticated_requests_get_401(self, client: TestClient) -> None:
        assert client.get(API).status_code == 401


class TestChangeProject:
    def test_patch_changes_only_the_given_fields_and_is_audited(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        pid = _create(client, admin, guidelines="Be kind.").json()["id"]
        r = client.patch(f"{API}/{pid}", json={"overlap": 3, "sampling": {"temperature": 0.7}}, headers=admin)
        assert r.status_code == 200
        body = r.json()
        assert (body["overlap"], body["guidelines"], body["sampling"]["temperature"]) == (3, "Be kind.", 0.7)
        actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["project.create", "project.update"]

    def test_patch_checks_k_range_against_the_stored_values(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        pid = _create(client, admin, k_min=4, k_max=5).json()["id"]
        r = client.patch(f"{API}/{pid}", json={"k_min": 6}, headers=admin)
        assert r.status_code == 422 and "k_min (6)" in r.json()["detail"]

    def test_lowering_k_min_gives_waiting_prompts_their_items(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.ranking, k_min=5, k_max=9)
        pid = proj.public_id
        completions(db, proj, prompt(db, proj), 4)
        db.commit()
        assert db.scalar(select(func.count()).select_from(WorkItem)) == 0
        db.rollback()
        r = client.patch(f"{API}/{pid}", json={"k_min": 4}, headers=admin)
        assert r.status_code == 200
        assert db.scalar(select(func.count()).select_from(WorkItem)) == 1

    def test_archive_hides_the_project_from_members(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        pid = _create(client, admin).json()["id"]
        client.put(f"{API}/{pid}/members", json={"user_ids": [labeler.public_id]}, headers=admin)
        assert client.delete(f"{API}/{pid}", headers=admin).status_code == 204
        assert client.get(f"{API}/{pid}", headers=bearer(db, labeler)).status_code == 404
        assert client.get(API, headers=admin).json() == []
        assert client.get(f"{API}?include_archived=true", headers=admin).json()[0]["archived"] is True

    def test_unknown_member_ids_change_nothing(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        labeler = make_user(db)
        pid = _create(client, admin).json()["id"]
        r = client.put(f"{API}/{pid}/members", json={"user_ids": [labeler.public_id, "nosuchuser00000"]}, headers=admin)
        assert r.status_code == 422 and "nosuchuser00000" in r.json()["detail"]
        assert client.get(f"{API}/{pid}/members", headers=admin).json() == []


class TestChoosingTheSampler:
    def test_an_engineer_sets_the_sampler_of_a_project_they_work_on_and_only_that(
        self, client: TestClient, db: Session, tmp_path: Any
    ) -> None:
        from app.models import ModelKind, ModelVersion, Project
        from tests.factories import add_member, make_project

        engineer = make_user(db, Role.engineer)
        mine, other = make_project(db, "ranking"), make_project(db, "ranking")
        add_member(db, mine, engineer)
        model = ModelVersion(name="ppo-v1", kind=ModelKind.local, path=str(tmp_path), info={},
                             retired=False)
        retired = ModelVersion(name="old", kind=ModelKind.local, path=str(tmp_path), info={},
                               retired=True)
        db.add_all([model, retired])
        db.commit()
        headers = bearer(db, engineer)
        mine_id, other_id, model_id = mine.public_id, other.public_id, model.public_id
        r = client.put(f"/api/v1/projects/{mine_id}/sampler", headers=headers,
                       json={"model_id": model_id})
        assert r.status_code == 200, r.text
        assert r.json()["sampler_model_id"] == model_id
        r = client.put(f"/api/v1/projects/{other_id}/sampler", headers=headers,
                       json={"model_id": model_id})
        assert r.status_code == 404
        r = client.put(f"/api/v1/projects/{mine_id}/sampler", headers=headers,
                       json={"model_id": retired.public_id})
        assert r.status_code == 422 and "non-retired" in r.json()["detail"]
        db.expire_all()
        assert db.scalar(select(Project.sampler_model_id).where(Project.public_id == other_id)) is None
        assert db.scalar(select(Project.sampler_model_id).where(Project.public_id == mine_id)) == model.id
        db.commit()
        labeler = bearer(db, make_user(db, Role.labeler))
        r = client.put(f"/api/v1/projects/{mine_id}/sampler", headers=labeler, json={"model_id": None})
        assert r.status_code == 403
