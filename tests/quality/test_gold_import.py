"""Gold items: imported with their answer (all lines or nothing), or given to an item."""

from __future__ import annotations

import io
import json

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Prompt, Role, TaskKind, WorkItem
from tests.factories import bearer, make_labelers
from tests.quality import builders as b


def _line(gid: str, gold: dict[str, object], k: int = 4, **extra: object) -> str:
    return json.dumps({
        "id": gid, "text": f"Rank these ({gid})",
        "completions": [{"id": f"c{i}", "content": f"answer {i}", "model": "ref"} for i in range(k)],
        "gold": gold, **extra,
    })


def _upload(client: TestClient, headers: dict[str, str], pid: str, lines: list[str], dry: bool = False):  # type: ignore[no-untyped-def]
    body = ("\n".join(lines) + "\n").encode()
    return client.post(f"/api/v1/projects/{pid}/gold:import" + ("?dry_run=true" if dry else ""),
                       files={"file": ("gold.jsonl", io.BytesIO(body), "application/jsonl")}, headers=headers)


class TestGoldImport:
    def test_a_file_with_one_bad_line_stores_nothing_and_names_the_line(self, client: TestClient, db: Session) -> None:
        p = b.project(db, TaskKind.ranking)
        db.commit()
        (admin,) = make_labelers(db, 1, role=Role.admin)
        headers = bearer(db, admin)
        r = _upload(client, headers, p.public_id, [
            _line("g1", {"ranking": [["c0"], ["c1", "c2"], ["c3"]]}),
            _line("g2", {"above": [["c0", "c9"]]}),
            _line("g3", {"above": [["c1", "c3"]]}, k=3),
        ])
        assert r.status_code == 422
        errors = {e["line"]: e["message"] for e in r.json()["errors"]}
        assert set(errors) == {2, 3}
        assert "'c9' is not one of this item's" in errors[2] and "4 to 9 answers" in errors[3]
        assert db.scalars(select(WorkItem).where(WorkItem.project_id == p.id)).all() == []

    def test_good_gold_items_are_stored_outside_the_queue_and_listed_with_their_answer(
        self, client: TestClient, db: Session
    ) -> None:
        p = b.project(db, TaskKind.ranking)
        db.commit()
        (admin,) = make_labelers(db, 1, role=Role.admin)
        headers = bearer(db, admin)
        lines = [_line("g1", {"ranking": [["c0"], ["c1", "c2"], ["c3"]]}, note="c0 is the only correct one"),
                 _line("g2", {"above": [["c2", "c1"]]}, screening=True)]
        dry = _upload(client, headers, p.public_id, lines, dry=True)
        assert dry.status_code == 200 and dry.json()["stored"] == 0 and dry.json()["valid"] == 2
        r = _upload(client, headers, p.public_id, lines)
        assert r.status_code == 200 and r.json()["items"] == 2, r.text
        items = db.scalars(select(WorkItem).where(WorkItem.project_id == p.id)).all()
        assert all(i.is_gold and not i.is_open for i in items)
        assert {pr.source for pr in db.scalars(select(Prompt).where(Prompt.project_id == p.id))} == {"gold"}
        db.commit()  # end the read: SQLite has one writer at a time
        listed = client.get(f"/api/v1/projects/{p.public_id}/gold", headers=headers).json()
        first = next(g for g in listed if not g["screening"])
        assert first["gold"]["ranking"] == [["A"], ["B", "C"], ["D"]] and len(first["gold"]["above"]) == 5
        assert first["note"] == "c0 is the only correct one"
        again = _upload(client, headers, p.public_id, lines[:1])
        assert again.status_code == 422 and "already in this project" in again.json()["errors"][0]["message"]
        page = client.get(f"/api/v1/projects/{p.public_id}/quality", headers=headers).json()
        assert (page["gold_items"], page["screening_items"]) == (1, 1)

    def test_an_existing_item_gets_a_gold_answer_and_leaves_the_queue(self, client: TestClient, db: Session) -> None:
        p = b.project(db, TaskKind.pairwise, overlap=3)
        wi, comps = b.item(db, p, [50, 60])
        db.commit()
        (admin,) = make_labelers(db, 1, role=Role.admin)
        headers = bearer(db, admin)
        url = f"/api/v1/items/{wi.public_id}/gold"
        bad = client.put(url, json={"gold": {"preferred": "nope"}}, headers=headers)
        assert bad.status_code == 422 and "preferred" in bad.json()["detail"]
        r = client.put(url, json={"gold": {"preferred": comps[1].public_id, "margin": "better", "tolerance": 1}},
                       headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["gold"] == {"above": [["B", "A"]], "margins": ["slightly_better", "better",
                                                                        "significantly_better"]}
        db.refresh(wi)
        assert wi.is_gold and not wi.is_open
        db.commit()
        assert client.delete(url, headers=headers).status_code == 204
        db.refresh(wi)
        assert not wi.is_gold and wi.is_open and wi.required == 3
        db.commit()
        labeler = make_labelers(db, 1)[0]
        refused = client.put(url, json={"gold": {"preferred": comps[0].public_id}}, headers=bearer(db, labeler))
        assert refused.status_code == 403

    def test_a_demonstration_project_takes_no_gold(self, client: TestClient, db: Session) -> None:
        p = b.project(db, TaskKind.demonstration)
        db.commit()
        (admin,) = make_labelers(db, 1, role=Role.admin)
        r = _upload(client, bearer(db, admin), p.public_id, [_line("g1", {"above": [["c0", "c1"]]})])
        assert r.status_code == 422 and "only ranking, pairwise and evaluation" in r.json()["detail"]
