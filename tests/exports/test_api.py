"""The exports API: admin only, recorded, downloadable as .zip and .tar.gz."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Export, Role
from tests.exports.conftest import World
from tests.factories import login, make_user
from trainer.contract import load_export


def _create(client: TestClient, world: World, headers: dict[str, str], **body: object) -> dict:
    r = client.post(f"/api/v1/projects/{world.project.public_id}/exports", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


class TestRoles:
    def test_a_labeler_cannot_export_list_or_download(self, client: TestClient, db: Session, world: World) -> None:
        headers = login(client, make_user(db, Role.labeler))
        pid = world.project.public_id
        assert client.post(f"/api/v1/projects/{pid}/exports", json={}, headers=headers).status_code == 403
        assert client.get(f"/api/v1/projects/{pid}/exports").status_code == 403
        assert client.get("/api/v1/exports/0000000000000000/download").status_code == 403

    def test_anonymous_gets_401(self, client: TestClient, world: World) -> None:
        assert client.get(f"/api/v1/projects/{world.project.public_id}/exports").status_code == 401


class TestExportsApi:
    def test_create_records_the_export_and_download_in_both_formats_loads(
        self, client: TestClient, db: Session, world: World, tmp_path: Path
    ) -> None:
        headers = login(client, make_user(db, Role.admin))
        out = _create(client, world, headers, split={"validation_fraction": 0.3, "seed": 9})
        assert out["status"] == "succeeded" and out["manifest_sha256"]
        assert out["files"]["rankings.train.jsonl"]["records"] + out["files"][
            "rankings.validation.jsonl"]["records"] == world.expected["rankings"]
        row = db.query(Export).filter_by(public_id=out["id"]).one()
        assert row.created_by is not None and Path(row.path or "").is_dir()
        db.rollback()  # end the read: on SQLite every transaction holds the write lock

        r = client.get(f"/api/v1/exports/{out['id']}/download?format=zip")
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        (tmp_path / "e.zip").write_bytes(r.content)
        assert zipfile.ZipFile(io.BytesIO(r.content)).testzip() is None
        loaded = load_export(tmp_path / "e.zip")
        assert loaded.manifest["files"]["rankings.train.jsonl"] == out["files"]["rankings.train.jsonl"]

        r = client.get(f"/api/v1/exports/{out['id']}/download?format=tar.gz")
        assert r.status_code == 200
        (tmp_path / "e.tar.gz").write_bytes(r.content)
        with tarfile.open(tmp_path / "e.tar.gz") as tf:
            assert {n.split("/")[0] for n in tf.getnames()} == {out["id"]}
        assert len(load_export(tmp_path / "e.tar.gz").unusable) == world.expected["unusable"]

    def test_list_get_and_compare(self, client: TestClient, db: Session, world: World) -> None:
        headers = login(client, make_user(db, Role.admin))
        a = _create(client, world, headers)
        b = _create(client, world, headers, filters={"kinds": ["ranking"]})
        listed = client.get(f"/api/v1/projects/{world.project.public_id}/exports").json()["items"]
        assert [e["id"] for e in listed] == [b["id"], a["id"]]
        got = client.get(f"/api/v1/exports/{a['id']}").json()
        assert got["files"] == a["files"] and got["counts"]["judgements"]["pairwise"] == 6
        diff = client.get(f"/api/v1/exports/{a['id']}/compare/{b['id']}").json()
        assert diff["counts"]["sft.train"]["delta"] == diff["counts"]["sft.train"]["this"] > 0 or \
            diff["counts"]["sft.validation"]["this"] > 0
        assert diff["files"]["rankings.train.jsonl"]["same"] is True
        assert diff["files"]["unusable.jsonl"]["same"] is False

    def test_bad_requests_say_what_to_fix(self, client: TestClient, db: Session, world: World) -> None:
        headers = login(client, make_user(db, Role.admin))
        url = f"/api/v1/projects/{world.project.public_id}/exports"
        r = client.post(url, json={"filters": {"labelers": ["zzzzzzzzzzzzzzzz"]}}, headers=headers)
        assert r.status_code == 422 and "zzzzzzzzzzzzzzzz" in r.json()["detail"]
        r = client.post(url, json={"margin_scale": "small", "margin_mapping": {"better": 1}}, headers=headers)
        assert r.status_code == 422 and "not both" in r.json()["detail"]
        r = client.post(url, json={"split": {"validation_fraction": 2}}, headers=headers)
        assert r.status_code == 422
        assert client.post("/api/v1/projects/nope/exports", json={}, headers=headers).status_code == 404
        assert client.get("/api/v1/exports/0000000000000000").status_code == 404
        assert db.query(Export).count() == 0


class TestListingEveryExport:
    def test_admins_list_every_projects_exports_newest_first_and_others_may_not(
        self, client: TestClient, db: Session, world: World
    ) -> None:
        headers = login(client, make_user(db, Role.admin))
        first = _create(client, world, headers)
        second = _create(client, world, headers, split={"validation_fraction": 0.0, "seed": 1})
        r = client.get("/api/v1/exports?limit=1", headers=headers)
        assert r.status_code == 200
        assert [e["id"] for e in r.json()["items"]] == [second["id"]]
        listed = client.get("/api/v1/exports", headers=headers).json()["items"]
        assert [e["id"] for e in listed] == [second["id"], first["id"]]
        assert listed[1]["files"] == first["files"] and listed[1]["manifest_sha256"]
        client.cookies.clear()
        engineer = login(client, make_user(db, Role.engineer))
        assert client.get("/api/v1/exports", headers=engineer).status_code == 403
