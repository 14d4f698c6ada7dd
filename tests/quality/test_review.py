"""Review (accept / reject with a reason), the labeler's history, and corrections."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import (
    AuditEntry,
    Completion,
    JudgementRevision,
    MarginLabel,
    PairwiseJudgement,
    Project,
    Role,
    TaskKind,
    User,
    WorkItem,
    utcnow,
)
from tests.factories import bearer, make_labelers
from tests.quality import builders as b


@dataclass
class Disputed:
    """A pairwise item two labelers disagree on (Ann prefers A, Bob B), a third labeler
    Cat, and a reviewer who is a member of the project."""

    project: Project
    item: WorkItem
    comps: list[Completion]
    ann: User
    bob: User
    cat: User
    reviewer: User
    ja: PairwiseJudgement
    jb: PairwiseJudgement


def _disputed(db: Session, correction_minutes: int | None = None) -> Disputed:
    project = b.project(db, TaskKind.pairwise, overlap=2)
    item, comps = b.item(db, project, [100, 300])
    ann, bob, cat = make_labelers(db, 3)
    (reviewer,) = make_labelers(db, 1, role=Role.reviewer)
    b.members(db, project, ann, bob, cat, reviewer)
    ja = b.pairwise(db, item, ann, comps, True, when=utcnow())
    jb = b.pairwise(db, item, bob, comps, False, margin=MarginLabel.significantly_better, when=utcnow())
    if correction_minutes is not None:
        b.settings(db, project, correction_minutes=correction_minutes)
    db.commit()
    return Disputed(project, item, comps, ann, bob, cat, reviewer, ja, jb)


class TestReview:
    def test_a_reviewer_rejects_a_judgement_its_slot_reopens_and_the_next_export_leaves_it_out(
        self, client: TestClient, db: Session
    ) -> None:
        d = _disputed(db)
        headers = bearer(db, d.reviewer)
        queue = client.get(f"/api/v1/projects/{d.project.public_id}/review", headers=headers).json()["items"]
        assert [q["item_id"] for q in queue] == [d.item.public_id] and queue[0]["dispute"] == 1.0
        view = client.get(f"/api/v1/review/items/{d.item.public_id}", headers=headers)
        assert view.status_code == 200, view.text
        side = {j["labeler"]["name"]: j for j in view.json()["judgements"]}
        assert side[d.ann.display_name]["answer"]["preferred"] == "A"
        assert side[d.bob.display_name]["answer"] == {
            "verdict": "preferred", "preferred": "B", "winner": "b", "margin_label": "significantly_better",
            "safety": {}, "reason": None}
        assert side[d.bob.display_name]["disagreements"] == 1 and side[d.bob.display_name]["compared"] == 1
        assert [c["letter"] for c in view.json()["completions"]] == ["A", "B"]

        r = client.put(f"/api/v1/review/judgements/{d.jb.public_id}",
                       json={"verdict": "rejected", "reason": "B is the longer answer but wrong"}, headers=headers)
        assert r.status_code == 200, r.text
        db.refresh(d.item)
        assert (d.item.taken, d.item.done, d.item.is_open) == (1, 1, True)
        task = client.post(f"/api/v1/projects/{d.project.public_id}/next", headers=bearer(db, d.cat))
        assert task.status_code == 200 and task.json()["item_id"] == d.item.public_id
        (admin,) = make_labelers(db, 1, role=Role.admin)
        export = client.post(f"/api/v1/projects/{d.project.public_id}/exports", json={}, headers=bearer(db, admin))
        assert export.status_code == 201, export.text
        body = export.json()
        assert body["counts"]["rejected_left_out"] == 1 and body["files"]["pairs.train.jsonl"]["records"] + \
            body["files"]["pairs.validation.jsonl"]["records"] == 1
        history = client.get(f"/api/v1/me/judgements?project={d.project.public_id}", headers=bearer(db, d.bob)).json()
        (mine,) = history["items"]
        assert mine["review"]["verdict"] == "rejected" and mine["review"]["reason"] == "B is the longer answer but wrong"
        assert mine["review"]["reviewer"] == d.reviewer.display_name
        page = client.get(f"/api/v1/projects/{d.project.public_id}/quality", headers=bearer(db, admin)).json()
        assert page["figures"]["agreement"]["value"] is None  # one valid judgement left: nothing to compare
        assert db.scalar(select(AuditEntry).where(AuditEntry.action == "judgement.review")) is not None

    def test_rejecting_needs_a_reason_and_nobody_reviews_their_own_judgement(
        self, client: TestClient, db: Session
    ) -> None:
        d = _disputed(db)
        headers = bearer(db, d.reviewer)
        bare = client.put(f"/api/v1/review/judgements/{d.ja.public_id}", json={"verdict": "rejected"}, headers=headers)
        assert bare.status_code == 422 and "why" in bare.json()["detail"]
        own = b.pairwise(db, b.item(db, d.project, [10, 20])[0], d.reviewer, d.comps, True)
        db.commit()
        mine = client.put(f"/api/v1/review/judgements/{own.public_id}", json={"verdict": "accepted"}, headers=headers)
        assert mine.status_code == 403
        labeler = client.put(f"/api/v1/review/judgements/{d.ja.public_id}", json={"verdict": "accepted"},
                             headers=bearer(db, d.cat))
        assert labeler.status_code == 403
        outsider = make_labelers(db, 1, role=Role.reviewer)[0]
        hidden = client.get(f"/api/v1/review/items/{d.item.public_id}", headers=bearer(db, outsider))
        assert hidden.status_code == 404

    def test_accepting_a_rejected_judgement_again_needs_its_slot_to_be_free(
        self, client: TestClient, db: Session
    ) -> None:
        d = _disputed(db)
        headers = bearer(db, d.reviewer)
        url = f"/api/v1/review/judgements/{d.jb.public_id}"
        client.put(url, json={"verdict": "rejected", "reason": "careless"}, headers=headers)
        assert client.put(url, json={"verdict": "accepted"}, headers=headers).status_code == 200
        db.refresh(d.item)
        assert (d.item.taken, d.item.done, d.item.is_open) == (2, 2, False)
        db.commit()  # end the read: SQLite has one writer at a time
        client.put(url, json={"verdict": "rejected", "reason": "careless after all"}, headers=headers)
        db.refresh(d.item)
        b.pairwise(db, d.item, d.cat, d.comps, True)  # d.cat fills the reopened slot
        db.commit()
        again = client.put(url, json={"verdict": "accepted"}, headers=headers)
        assert again.status_code == 409 and "stays rejected" in again.json()["detail"]


class TestCorrections:
    def test_a_labeler_corrects_within_the_window_the_old_version_is_kept_and_exports_take_the_new(
        self, client: TestClient, db: Session
    ) -> None:
        d = _disputed(db, correction_minutes=30)
        headers = bearer(db, d.bob)
        (admin,) = make_labelers(db, 1, role=Role.admin)
        before = client.get(f"/api/v1/projects/{d.project.public_id}/quality", headers=bearer(db, admin)).json()
        assert before["figures"]["agreement"]["value"] == 0.0
        r = client.post(f"/api/v1/judgements/{d.jb.public_id}/correction", headers=headers, json={
            "idempotency_key": "fix-0001", "verdict": "preferred", "preferred": d.comps[0].public_id,
            "margin_label": "slightly_better"})
        assert r.status_code == 200, r.text
        assert r.json()["revision"] == 1 and r.json()["answer"]["winner"] == "a"
        db.expire_all()
        stored = db.get(PairwiseJudgement, d.jb.id)
        assert stored is not None and stored.winner.value == "a" and stored.margin_label == MarginLabel.slightly_better
        (old,) = db.scalars(select(JudgementRevision)).all()
        assert old.answer["winner"] == "b" and old.answer["margin_label"] == "significantly_better"
        after = client.get(f"/api/v1/projects/{d.project.public_id}/quality", headers=bearer(db, admin)).json()
        assert after["figures"]["agreement"]["value"] == 1.0  # the figures follow the correction
        revisions = client.get(f"/api/v1/judgements/{d.jb.public_id}/revisions", headers=headers).json()
        assert [x["answer"]["winner"] for x in revisions] == ["b"]
        assert client.get(f"/api/v1/judgements/{d.jb.public_id}/revisions", headers=bearer(db, d.ann)).status_code == 404
        export = client.post(f"/api/v1/projects/{d.project.public_id}/exports", json={}, headers=bearer(db, admin)).json()
        assert export["files"]["pairs.train.jsonl"]["records"] + export["files"]["pairs.validation.jsonl"]["records"] == 2

    def test_corrections_are_refused_after_the_window_after_a_review_or_for_someone_elses_judgement(
        self, client: TestClient, db: Session
    ) -> None:
        d = _disputed(db, correction_minutes=10)
        body = {"idempotency_key": "fix-0002", "verdict": "preferred", "preferred": d.comps[0].public_id,
                "margin_label": "better"}
        assert client.post(f"/api/v1/judgements/{d.jb.public_id}/correction", json=body,
                           headers=bearer(db, d.ann)).status_code == 404
        d.jb.created_at = utcnow() - timedelta(minutes=11)
        db.commit()
        late = client.post(f"/api/v1/judgements/{d.jb.public_id}/correction", json=body, headers=bearer(db, d.bob))
        assert late.status_code == 409 and "window of 10 minutes closed" in late.json()["detail"]
        client.put(f"/api/v1/review/judgements/{d.ja.public_id}", json={"verdict": "accepted"},
                   headers=bearer(db, d.reviewer))
        reviewed = client.post(f"/api/v1/judgements/{d.ja.public_id}/correction", json=body, headers=bearer(db, d.ann))
        assert reviewed.status_code == 409 and "accepted" in reviewed.json()["detail"]
        wrong = client.post(f"/api/v1/judgements/{d.jb.public_id}/correction",
                            json={**body, "preferred": "nonsense"}, headers=bearer(db, d.bob))
        assert wrong.status_code == 409  # the window is checked before the body

    def test_the_history_says_until_when_a_judgement_can_be_corrected(self, client: TestClient, db: Session) -> None:
        d = _disputed(db, correction_minutes=15)
        history = client.get(f"/api/v1/me/judgements?project={d.project.slug}", headers=bearer(db, d.ann)).json()
        (mine,) = history["items"]
        assert mine["id"] == d.ja.public_id and mine["review"] is None and mine["correctable_until"] is not None
        assert mine["summary"] in ("A better", "B better")  # letters as this labeler saw them
        other = client.get(f"/api/v1/me/judgements?project={d.project.slug}", headers=bearer(db, d.reviewer)).json()
        assert other["items"] == []

    def test_a_corrected_ranking_replaces_its_places_and_the_figures_follow(
        self, client: TestClient, db: Session
    ) -> None:
        p = b.project(db, TaskKind.ranking, overlap=2)
        wi, comps = b.item(db, p, [10, 20, 30, 40])
        ann, bob = make_labelers(db, 2)
        b.members(db, p, ann, bob)
        b.settings(db, p, correction_minutes=5)
        b.ranking(db, wi, ann, comps, [[0], [1], [2], [3]], when=utcnow())
        jb = b.ranking(db, wi, bob, comps, [[3], [2], [1], [0]], when=utcnow())
        db.commit()
        (admin,) = make_labelers(db, 1, role=Role.admin)
        url = f"/api/v1/projects/{p.public_id}/quality"
        assert client.get(url, headers=bearer(db, admin)).json()["figures"]["agreement"]["value"] == 0.0
        ids = [c.public_id for c in comps]
        r = client.post(f"/api/v1/judgements/{jb.public_id}/correction", headers=bearer(db, bob),
                        json={"idempotency_key": "fix-rank-1", "verdict": "ranked", "ranking": [[i] for i in ids]})
        assert r.status_code == 200, r.text
        assert r.json()["answer"]["ranking"] == [[i] for i in ids]
        (old,) = db.scalars(select(JudgementRevision)).all()
        assert old.answer["ranking"] == [[i] for i in reversed(ids)]
        figures = client.get(url, headers=bearer(db, admin)).json()["figures"]
        assert figures["agreement"]["value"] == 1.0 and figures["tau"]["value"] == 1.0
        bad = client.post(f"/api/v1/judgements/{jb.public_id}/correction", headers=bearer(db, bob),
                          json={"idempotency_key": "fix-rank-2", "verdict": "ranked", "ranking": [[ids[0]]]})
        assert bad.status_code == 422 and "missing answer B" in bad.json()["detail"]
