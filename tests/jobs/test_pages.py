"""The training, job and registry pages render for engineers only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.jobs import service
from app.models import Role
from tests.factories import login, make_user


class TestTrainingPages:
    def test_an_engineer_sees_the_training_job_and_registry_pages(
        self, client: TestClient, db: Session
    ) -> None:
        login(client, make_user(db, Role.engineer))
        job = service.enqueue(db, "diagnostic", {})
        db.commit()
        page = client.get("/admin/training")
        assert page.status_code == 200 and 'id="train-form"' in page.text
        page = client.get(f"/admin/training/{job.public_id}")
        assert page.status_code == 200 and f'data-job-id="{job.public_id}"' in page.text
        assert client.get("/admin/models").status_code == 200
        assert client.get("/admin/training/abcdefghjkmnpqrs").status_code == 404

    def test_a_labeler_is_refused(self, client: TestClient, db: Session) -> None:
        login(client, make_user(db, Role.labeler))
        assert client.get("/admin/training").status_code == 403
