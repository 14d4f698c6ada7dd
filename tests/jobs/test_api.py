"""The jobs API: roles, validation, the projects a job may name, listing, metrics and cancel."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.jobs import service
from app.models import Export, Job, Role
from tests.factories import add_member, bearer, make_labelers, make_project, make_user


class TestJobsApi:
    def test_labelers_cannot_see_or_start_jobs(self, client: TestClient, db: Session) -> None:
        labeler = make_labelers(db, 1)[0]
        headers = bearer(db, labeler)
        assert client.get("/api/v1/jobs", headers=headers).status_code == 403
        r = client.post("/api/v1/jobs", json={"kind": "diagnostic", "params": {}}, headers=headers)
        assert r.status_code == 403

    def test_an_engineer_starts_and_watches_a_job(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_labelers(db, 1, Role.engineer)[0])
        r = client.post("/api/v1/jobs", json={"kind": "diagnostic", "params": {"steps": 3}},
                        headers=headers)
        assert r.status_code == 201, r.text
        job = r.json()
        assert job["status"] == "queued" and job["params"]["steps"] == 3
        jid = job["id"]
        row = service.claim(db, "w")
        assert row is not None
        service.record_progress(db, row.id, "w", progress={"step": 2, "total": 3},
                                metrics=[(1, {"loss": 1.0}), (2, {"loss": 0.5})])
        db.commit()
        assert client.get(f"/api/v1/jobs/{jid}", headers=headers).json()["progress"]["step"] == 2
        r = client.get(f"/api/v1/jobs/{jid}/metrics?after_step=1", headers=headers)
        assert r.json() == {"status": "running", "items": [{"step": 2, "loss": 0.5}], "last_step": 2}
        assert [j["id"] for j in client.get("/api/v1/jobs", headers=headers).json()] == [jid]
        r = client.post(f"/api/v1/jobs/{jid}/cancel", headers=headers)
        assert r.status_code == 200 and r.json()["cancel_requested"] is True

    def test_bad_params_are_refused_with_the_field(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        project = make_project(db, "ranking")
        r = client.post("/api/v1/jobs", headers=headers, json={
            "kind": "sample", "params": {"project_id": project.public_id, "k": 1}})
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "sample.params.k"
        r = client.post("/api/v1/jobs", headers=headers, json={
            "kind": "sample", "params": {"project_id": project.public_id, "k": 4}})
        assert r.status_code == 422
        assert "no sampler model" in r.json()["detail"]
        r = client.post("/api/v1/jobs", headers=headers, json={"kind": "train", "params": {
            "stage": "sft", "export_id": "0" * 16, "model_id": "1" * 16}})
        assert r.status_code == 422 and "export_id" in r.json()["detail"]
        r = client.post("/api/v1/jobs", headers=headers, json={"kind": "train", "params": {
            "stage": "sft", "export_id": "0" * 16, "model_id": "1" * 16,
            "export_now": {"project_id": project.public_id}}})
        assert r.status_code == 422 and "not both" in r.json()["detail"]
        assert client.get("/api/v1/jobs", headers=headers).json() == []

    def test_an_unknown_job_is_404(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        assert client.get("/api/v1/jobs/abcdefghjkmnpqrs", headers=headers).status_code == 404

    def test_a_metrics_cursor_beyond_what_the_database_holds_is_refused(
        self, client: TestClient, db: Session
    ) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        job = service.enqueue(db, "diagnostic", {})
        db.commit()
        r = client.get(f"/api/v1/jobs/{job.public_id}/metrics?after_step=9223372036854775808",
                       headers=headers)
        assert r.status_code == 422 and "after_step" in r.json()["detail"]

    def test_jobs_that_name_a_project_only_take_projects_the_caller_may_read(
        self, client: TestClient, db: Session
    ) -> None:
        (engineer,) = make_labelers(db, 1, Role.engineer)
        project = make_project(db, "ranking")
        headers = bearer(db, engineer)
        for kind, params in (("sample", {"project_id": project.public_id, "k": 4}),
                             ("export", {"project_id": project.public_id})):
            r = client.post("/api/v1/jobs", headers=headers, json={"kind": kind, "params": params})
            assert r.status_code == 404, (kind, r.text)
        db.expire_all()
        assert db.query(Job).count() == 0 and db.query(Export).count() == 0
        add_member(db, project, engineer)
        r = client.post("/api/v1/jobs", headers=headers,
                        json={"kind": "export", "params": {"project_id": project.public_id}})
        assert r.status_code == 201, r.text
        assert r.json()["kind"] == "export" and r.json()["params"]["project_id"] == project.public_id

    def test_the_metrics_of_a_diverged_run_are_served_with_nan_spelled_out(
        self, client: TestClient, db: Session
    ) -> None:
        headers = bearer(db, make_user(db, Role.engineer))
        job = service.enqueue(db, "diagnostic", {})
        db.commit()
        claimed = service.claim(db, "w")
        assert claimed is not None
        service.record_progress(db, claimed.id, "w", metrics=[(1, {"loss": float("nan")}),
                                                              (2, {"loss": float("inf")})])
        db.commit()
        r = client.get(f"/api/v1/jobs/{job.public_id}/metrics", headers=headers)
        assert r.status_code == 200
        assert r.json()["items"] == [{"step": 1, "loss": "NaN"}, {"step": 2, "loss": "Infinity"}]
