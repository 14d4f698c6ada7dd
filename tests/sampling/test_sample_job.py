"""The sample job: K completions per prompt from an endpoint into the ranking queue."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.errors import InvalidInput
from app.models import Completion, ItemCompletion, Job, JobStatus, Role, WorkItem
from app.registry import service as registry
from tests.factories import make_project, make_prompt, make_user
from tests.jobs.helpers import run_worker, submit
from tests.registry.fake_openai import fake_openai_server


class TestSampleJob:
    def test_completions_from_an_endpoint_enter_the_ranking_queue(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        project = make_project(db, "ranking", k_min=4, k_max=9)
        prompts = [make_prompt(db, project, f"Question {i}?") for i in range(3)]
        db.commit()
        with fake_openai_server() as (url, fake):
            model = registry.register_endpoint(db, admin, name="ep", base_url=url,
                                               endpoint_model="fake", api_key=None)
            job = submit(db, admin, "sample", {
                "project_id": project.public_id, "model_id": model.public_id, "k": 5,
                "temperature": 0.7, "concurrency": 2})
            db.commit()
            run_worker(settings, session_factory, poll_seconds=0.1)
            assert fake.state.max_in_flight <= 2
        db.expire_all()
        done = db.get(Job, job.id)
        assert done is not None and done.status == JobStatus.succeeded, done and done.error
        assert done.result["completions"] == 15 and done.result["items"] == 3
        assert done.result["not_queued"] == {}
        completions = db.query(Completion).all()
        assert {c.prompt_id for c in completions} == {p.id for p in prompts}
        assert all(c.model_version_id == model.id and c.sampling["temperature"] == 0.7
                   for c in completions)
        items = db.query(WorkItem).filter_by(project_id=project.id).all()
        assert len(items) == 3
        assert db.query(ItemCompletion).count() == 15

    def test_completions_that_make_no_item_are_reported_by_reason(
        self, db: Session, settings: Settings, session_factory: sessionmaker[Session]
    ) -> None:
        admin = make_user(db, Role.admin)
        project = make_project(db, "pairwise")
        make_prompt(db, project, "Question?")
        db.commit()
        with fake_openai_server() as (url, _fake):
            model = registry.register_endpoint(db, admin, name="ep", base_url=url,
                                               endpoint_model="fake", api_key=None)
            job = submit(db, admin, "sample", {
                "project_id": project.public_id, "model_id": model.public_id, "k": 3})
            db.commit()
            run_worker(settings, session_factory, poll_seconds=0.1)
        db.expire_all()
        done = db.get(Job, job.id)
        assert done is not None and done.status == JobStatus.succeeded, done and done.error
        # Three answers make one A/B pair; the third waits for a partner and is reported.
        assert done.result["items"] == 1
        assert done.result["not_queued"] == {"odd_one_out": 1}

    def test_a_ranking_project_refuses_fewer_completions_than_it_shows(
        self, db: Session, settings: Settings
    ) -> None:
        admin = make_user(db, Role.admin)
        project = make_project(db, "ranking", k_min=4, k_max=6)
        make_prompt(db, project, "Question?")
        db.commit()
        model = registry.register_endpoint(db, admin, name="ep", base_url="http://127.0.0.1:9/v1",
                                           endpoint_model="fake", api_key=None)
        with pytest.raises(InvalidInput, match="4 to 6 answers"):
            submit(db, admin, "sample", {
                "project_id": project.public_id, "model_id": model.public_id, "k": 3})
