"""The suggest button of demonstration tasks: a draft from the project's sampler."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.models import Job, JobStatus, Role
from app.registry import service as registry
from tests.factories import (
    add_member,
    bearer,
    make_demo_item,
    make_labelers,
    make_project,
    make_user,
)
from tests.jobs.helpers import run_worker
from tests.registry.fake_openai import fake_openai_server


def demo_task(client: TestClient, db: Session, sampler_id: int | None, n_labelers: int = 1,
              text: str | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A demonstration project with one item per labeler; the first labeler's task."""
    project = make_project(db, "demonstration", multi_turn=True, sampler_model_id=sampler_id,
                           sampling={"temperature": 0.3, "max_tokens": 16})
    labelers = make_labelers(db, n_labelers)
    add_member(db, project, *labelers)
    for _ in labelers:
        item = make_demo_item(db, project)
    if text is not None:
        db.refresh(item)
        assert item.prompt_id is not None
        from app.models import Prompt

        prompt = db.get(Prompt, item.prompt_id)
        assert prompt is not None
        prompt.messages = [{"role": "user", "content": text}]
        db.commit()
    headers = [bearer(db, u) for u in labelers]
    r = client.post(f"/api/v1/projects/{project.public_id}/next", headers=headers[0])
    assert r.status_code == 200, r.text
    return r.json(), headers


def suggest(client: TestClient, task: dict[str, Any], headers: dict[str, str],
            **body: Any) -> Any:
    return client.post(f"/api/v1/assignments/{task['assignment_id']}/suggest", headers=headers,
                       json=body or None)


class TestSuggestFromAnEndpoint:
    def test_the_draft_answers_the_tasks_prompt(self, client: TestClient, db: Session) -> None:
        admin = make_user(db, Role.admin)
        with fake_openai_server() as (url, fake):
            mv = registry.register_endpoint(db, admin, name="ep", base_url=url,
                                            endpoint_model="fake", api_key=None)
            db.commit()
            task, headers = demo_task(client, db, mv.id)
            r = suggest(client, task, headers[0])
        assert r.status_code == 200, r.text
        question = task["prompt"]["messages"][-1]["content"]
        # The project's sampling settings are used (the fake echoes the temperature).
        assert r.json()["content"] == f"reply to {question} (t=0.3)"
        assert fake.state.requests == 1

    def test_a_multi_turn_draft_answers_the_labelers_last_user_turn(
        self, client: TestClient, db: Session
    ) -> None:
        admin = make_user(db, Role.admin)
        with fake_openai_server() as (url, _fake):
            mv = registry.register_endpoint(db, admin, name="ep", base_url=url,
                                            endpoint_model="fake", api_key=None)
            db.commit()
            task, headers = demo_task(client, db, mv.id)
            turns = [{"role": "assistant", "content": "Hello."},
                     {"role": "user", "content": "And in French?"}]
            r = suggest(client, task, headers[0], turns=turns)
            bad = suggest(client, task, headers[0], turns=turns[:1])
        assert r.status_code == 200 and r.json()["content"].startswith("reply to And in French?")
        assert bad.status_code == 422 and "end with the user's turn" in bad.json()["detail"]

    def test_an_endpoint_that_fails_is_a_502_with_a_way_forward(
        self, client: TestClient, db: Session
    ) -> None:
        admin = make_user(db, Role.admin)
        with fake_openai_server() as (url, _fake):
            mv = registry.register_endpoint(db, admin, name="ep", base_url=url,
                                            endpoint_model="fake", api_key=None)
            db.commit()
            task, headers = demo_task(client, db, mv.id, text="deny")
            r = suggest(client, task, headers[0])
        assert r.status_code == 502
        assert "write the reply yourself" in r.json()["detail"]


class TestSuggestRules:
    def test_a_project_without_a_sampler_says_so(self, client: TestClient, db: Session) -> None:
        task, headers = demo_task(client, db, None)
        r = suggest(client, task, headers[0])
        assert r.status_code == 409 and "no sampler" in r.json()["detail"]

    def test_another_labelers_task_is_not_found(self, client: TestClient, db: Session) -> None:
        task, headers = demo_task(client, db, None, n_labelers=2)
        assert suggest(client, task, headers[1]).status_code == 404


class TestSuggestFromALocalModel:
    def test_a_local_sampler_queues_one_job_that_only_the_asker_can_poll(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        admin = make_user(db, Role.admin)
        folder = tmp_path / "m"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        mv = registry.register_local(db, admin, name="local", path=str(folder))
        db.commit()
        task, headers = demo_task(client, db, mv.id, n_labelers=2)
        first = suggest(client, task, headers[0])
        again = suggest(client, task, headers[0])
        assert first.status_code == again.status_code == 202, first.text
        job_id = first.json()["job_id"]
        assert again.json()["job_id"] == job_id and first.json()["status"] == "queued"
        poll = f"/api/v1/assignments/{task['assignment_id']}/suggest/{job_id}"
        assert client.get(poll, headers=headers[0]).json()["status"] == "queued"
        assert client.get(poll, headers=headers[1]).status_code == 404
        job = db.query(Job).filter_by(public_id=job_id).one()
        assert job.kind == "suggest" and job.params["max_tokens"] == 16

    # SQLite only: this one runs the job in a worker child that imports torch (~5 s);
    # claiming and running jobs is covered on both backends in tests/jobs/test_worker.py.
    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_the_worker_writes_the_draft_the_page_polls_for(
        self, client: TestClient, db: Session, settings: Settings,
        session_factory: sessionmaker[Session], tmp_path: Path,
    ) -> None:
        from trainer.tiny import build_tiny_model

        admin = make_user(db, Role.admin)
        mv = registry.register_local(db, admin, name="tiny",
                                     path=str(build_tiny_model(tmp_path / "tiny")))
        db.commit()
        task, headers = demo_task(client, db, mv.id)
        job_id = suggest(client, task, headers[0]).json()["job_id"]
        run_worker(settings, session_factory)
        r = client.get(f"/api/v1/assignments/{task['assignment_id']}/suggest/{job_id}",
                       headers=headers[0])
        assert r.status_code == 200 and r.json()["status"] == JobStatus.succeeded.value, r.text
        assert isinstance(r.json()["content"], str)
