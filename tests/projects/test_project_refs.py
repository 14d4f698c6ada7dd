"""Every route that names a project takes its public id or its slug, the same way, and
answers 404 alike for a project that is missing, archived or not the caller's."""

from __future__ import annotations

from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.access import NOT_FOUND
from app.inputs import ProjectPath
from app.models import Job, ModelKind, ModelVersion, Project, Role
from tests.factories import add_member, bearer, make_labelers, make_project

API = "/api/v1/projects"

# (role, method, path with {ref}, keyword arguments of the request, statuses that mean "found")
ROUTES: list[tuple[Role, str, str, dict[str, Any], set[int]]] = [
    (Role.labeler, "GET", f"{API}/{{ref}}", {}, {200}),
    (Role.labeler, "POST", f"{API}/{{ref}}/next", {}, {200, 204}),
    (Role.labeler, "GET", f"{API}/{{ref}}/progress", {}, {200}),
    (Role.labeler, "GET", f"{API}/{{ref}}/quality/me", {}, {200}),
    (Role.labeler, "GET", "/projects/{ref}/work", {}, {200}),
    (Role.reviewer, "GET", f"{API}/{{ref}}/quality", {}, {200}),
    (Role.admin, "GET", f"{API}/{{ref}}/judgements", {}, {200}),
    (Role.admin, "GET", f"{API}/{{ref}}/exports", {}, {200}),
    (Role.admin, "GET", f"{API}/{{ref}}/members", {}, {200}),
    (Role.admin, "PATCH", f"{API}/{{ref}}", {"json": {"guidelines": "Be kind."}}, {200}),
    (Role.admin, "GET", f"{API}/{{ref}}/quality/settings", {}, {200}),
    (Role.admin, "GET", f"{API}/{{ref}}/gold", {}, {200}),
    (Role.admin, "POST", f"{API}/{{ref}}/prompts:import?dry_run=true",
     {"files": {"file": ("p.jsonl", b'{"text": "Hello?"}\n')}}, {200}),
    (Role.admin, "GET", "/admin/projects/{ref}", {}, {200}),
    (Role.admin, "GET", "/admin/projects/{ref}/progress", {}, {200}),
    (Role.admin, "GET", "/api/v1/ai-labelers?project={ref}", {}, {200}),
    (Role.admin, "GET", "/admin/projects/{ref}/ai", {}, {200}),
    (Role.admin, "GET", "/admin/projects/{ref}/quality", {}, {200}),
    (Role.engineer, "GET", "/api/v1/training/exports?project_id={ref}", {}, {200}),
]


def _call(client: TestClient, headers: dict[str, str], method: str, path: str, ref: str,
          kwargs: dict[str, Any]) -> Any:
    return client.request(method, path.format(ref=ref), headers=headers, **kwargs)


def _member(db: Session, role: Role, *projects: Project) -> dict[str, str]:
    (user,) = make_labelers(db, 1, role)
    for project in projects:
        add_member(db, project, user)
    return bearer(db, user)


class TestIdsAndSlugs:
    @pytest.mark.parametrize(("role", "method", "path", "kwargs", "found"), ROUTES,
                             ids=[f"{m} {p}" for _, m, p, _, _ in ROUTES])
    def test_the_id_and_the_slug_reach_the_same_project(
        self, client: TestClient, db: Session, role: Role, method: str, path: str,
        kwargs: dict[str, Any], found: set[int],
    ) -> None:
        project = make_project(db, "ranking", k_min=2, k_max=4)
        headers = _member(db, role, project)
        for ref in (project.public_id, project.slug):
            r = _call(client, headers, method, path, ref, kwargs)
            assert r.status_code in found, (ref, r.status_code, r.text[:300])

    @pytest.mark.parametrize(("role", "method", "path", "kwargs", "found"), ROUTES,
                             ids=[f"{m} {p}" for _, m, p, _, _ in ROUTES])
    def test_a_project_not_open_to_the_caller_is_as_missing_as_one_that_does_not_exist(
        self, client: TestClient, db: Session, role: Role, method: str, path: str,
        kwargs: dict[str, Any], found: set[int],
    ) -> None:
        project, elsewhere = make_project(db), make_project(db)
        archived = make_project(db, archived=True)
        headers = _member(db, role, elsewhere, archived)
        refs = ["0" * 16, "no-such-project"]
        if role != Role.admin:  # admins read every project; archived ones too
            refs += [project.public_id, project.slug, archived.slug]
        for ref in refs:
            r = _call(client, headers, method, path, ref, kwargs)
            assert r.status_code == 404, (ref, r.text[:300])
            if path.startswith("/api/"):
                assert r.json()["detail"] in (NOT_FOUND, "No such project, or you may not read its quality figures.")

    def test_every_route_with_a_project_in_its_path_documents_both_names(self, app: FastAPI) -> None:
        description = get_args(ProjectPath)[1].description
        seen = 0
        for path, operations in app.openapi()["paths"].items():
            if "{pid}" not in path:
                continue
            for name, operation in operations.items():
                (param,) = [p for p in operation["parameters"] if p["name"] == "pid"]
                assert param.get("description") == description, (name, path)
                assert param["schema"]["maxLength"] == 64, (name, path)
                seen += 1
        assert seen >= 20


class TestJobBodies:
    @pytest.mark.parametrize("kind", ["export", "sample"])
    def test_a_job_named_by_slug_records_the_projects_public_id(
        self, client: TestClient, db: Session, kind: str
    ) -> None:
        project = make_project(db, "ranking", k_min=2, k_max=4)
        model = ModelVersion(name="sampler", kind=ModelKind.local, path="/nowhere")
        db.add(model)
        db.flush()
        project.sampler_model_id = model.id
        db.commit()
        headers = _member(db, Role.engineer, project)
        params = {"project_id": project.slug, **({"k": 2} if kind == "sample" else {})}
        r = client.post("/api/v1/jobs", headers=headers, json={"kind": kind, "params": params})
        assert r.status_code == 201, r.text
        assert r.json()["params"]["project_id"] == project.public_id
        job = db.query(Job).one()
        assert job.params["project_id"] == project.public_id and job.project_id == project.id

    def test_a_job_on_a_project_the_caller_may_not_change_is_404_by_any_name(
        self, client: TestClient, db: Session
    ) -> None:
        project = make_project(db)
        headers = _member(db, Role.engineer, project)
        outsider = bearer(db, make_labelers(db, 1, Role.engineer)[0])
        for ref in (project.public_id, project.slug):
            r = client.post("/api/v1/jobs", headers=outsider, json={"kind": "export", "params": {"project_id": ref}})
            assert r.status_code == 404 and r.json()["detail"] == NOT_FOUND
        assert client.post("/api/v1/jobs", headers=headers,
                           json={"kind": "export", "params": {"project_id": project.slug}}).status_code == 201
