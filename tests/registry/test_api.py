"""The model registry API: local folders, endpoints, keys kept secret, retire, test."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import AuditEntry, Role
from tests.factories import bearer, make_labelers, make_user
from tests.registry.fake_openai import fake_openai_server

KEY = "sk-live-very-secret-key-4242"


def hf_folder(root: Path, manifest: dict[str, object] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"model_type": "llama"}))
    if manifest is not None:
        (root / "rankwise.json").write_text(json.dumps(manifest))
    return root


class TestRegistry:
    def test_labelers_cannot_use_the_registry(self, client: TestClient, db: Session) -> None:
        headers = bearer(db, make_labelers(db, 1)[0])
        assert client.get("/api/v1/models", headers=headers).status_code == 403

    def test_a_folder_is_registered_with_its_rankwise_json(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        headers = bearer(db, make_labelers(db, 1, Role.engineer)[0])
        folder = hf_folder(tmp_path / "sft", {"kind": "sft", "base_model": "tiny",
                                              "metrics": {"loss": 1.5}})
        r = client.post("/api/v1/models", headers=headers,
                        json={"kind": "local", "name": "sft-v1", "path": str(folder)})
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["info"]["manifest"]["kind"] == "sft"
        assert body["path"] == str(folder.resolve()) and body["api_key"] == "not set"

    def test_a_folder_that_is_not_a_model_is_refused(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        tmp_path.joinpath("empty").mkdir()
        r = client.post("/api/v1/models", headers=headers,
                        json={"kind": "local", "name": "x", "path": str(tmp_path / "empty")})
        assert r.status_code == 422 and "no config.json" in r.json()["detail"]

    def test_a_name_is_taken_only_once(self, client: TestClient, db: Session, tmp_path: Path) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        body = {"kind": "local", "name": "m", "path": str(hf_folder(tmp_path / "m"))}
        assert client.post("/api/v1/models", headers=headers, json=body).status_code == 201
        assert client.post("/api/v1/models", headers=headers, json=body).status_code == 409

    def test_an_endpoint_key_never_leaves_the_server(
        self, client: TestClient, db: Session, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        headers = bearer(db, make_user(db, Role.admin))
        with fake_openai_server() as (url, fake):
            r = client.post("/api/v1/models", headers=headers, json={
                "kind": "endpoint", "name": "vllm", "base_url": url,
                "endpoint_model": "fake", "api_key": KEY})
            assert r.status_code == 201, r.text
            mid = r.json()["id"]
            answers = [r.text,
                       client.get("/api/v1/models", headers=headers).text,
                       client.get(f"/api/v1/models/{mid}", headers=headers).text]
            r = client.post(f"/api/v1/models/{mid}/test", headers=headers,
                            json={"prompt": "say hi", "max_tokens": 8})
            assert r.status_code == 200 and r.json()["reply"].startswith("reply to say hi")
            answers.append(r.text)
            assert fake.state.auth_headers[-1] == f"Bearer {KEY}"
        assert r.json()["reply"]
        assert all(KEY not in text for text in answers)
        assert '"api_key":"set"' in answers[0]
        assert KEY not in caplog.text
        assert all(KEY not in json.dumps(e.details) for e in db.query(AuditEntry).all())

    def test_an_endpoint_that_fails_the_test_is_a_502_with_the_reason(
        self, client: TestClient, db: Session
    ) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        r = client.post("/api/v1/models", headers=headers, json={
            "kind": "endpoint", "name": "down", "base_url": "http://127.0.0.1:9/v1",
            "endpoint_model": "m"})
        r = client.post(f"/api/v1/models/{r.json()['id']}/test", headers=headers,
                        json={"prompt": "hi"})
        assert r.status_code == 502 and "no answer" in r.json()["detail"]

    def test_a_retired_model_leaves_the_default_list(
        self, client: TestClient, db: Session, tmp_path: Path
    ) -> None:
        headers = bearer(db, make_user(db, Role.admin))
        mid = client.post("/api/v1/models", headers=headers, json={
            "kind": "local", "name": "old", "path": str(hf_folder(tmp_path / "o"))}).json()["id"]
        assert client.post(f"/api/v1/models/{mid}/retire", headers=headers).json()["retired"]
        assert client.get("/api/v1/models", headers=headers).json() == []
        listed = client.get("/api/v1/models?include_retired=true", headers=headers).json()
        assert [m["id"] for m in listed] == [mid]
