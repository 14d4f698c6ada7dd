"""The AI labeler's agreement with simulated people, and the people's figures without it."""

from __future__ import annotations

import random

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import PairwiseJudgement, Role, TaskKind, User, Winner
from app.quality import repository as quality_repo
from tests.ai_labeling.helpers import ai_judges, simulated_people, world
from tests.factories import bearer, make_user


def _side(j: PairwiseJudgement) -> int:
    return 1 if j.winner == Winner.a else -1


class TestAgreementWithPeople:
    def test_agreement_with_the_majority_and_with_each_person_is_counted_on_shared_items(
        self, db: Session, client: TestClient
    ) -> None:
        rng = random.Random(3)
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[q, q + rng.choice([-3, -2, 2, 3])] for q in range(10, 40)])
        people = simulated_people(db, w, 3, accuracy=0.75, seed=5)
        labeler = ai_judges(db, admin, w, wrong_every=4)
        # Expected figures, counted straight from the stored judgements.
        votes: dict[int, dict[int, int]] = {}
        for j in db.query(PairwiseJudgement).filter_by(project_id=w.project.id):
            votes.setdefault(j.item_id, {})[j.user_id] = _side(j)
        ai = labeler.user_id
        person_ids = [p.id for p in people]
        majority = [(votes[i][ai] * sum(votes[i][p] for p in person_ids)) > 0 for i in votes]
        per_person = {p: sum(votes[i][ai] == votes[i][p] for i in votes) / len(votes) for p in person_ids}
        loo_agreed = loo_compared = 0
        for i in votes:
            for p in person_ids:
                others = sum(votes[i][o] for o in person_ids if o != p)
                if others:
                    loo_compared += 1
                    loo_agreed += (others > 0) == (votes[i][p] > 0)
        public = {p.id: p.public_id for p in people}
        labeler_id = labeler.public_id
        headers = bearer(db, admin)
        r = client.get(f"/api/v1/ai-labelers/{labeler_id}/agreement", headers=headers)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["items"] == len(votes) == 30
        assert out["with_majority"]["value"] == sum(majority) / len(majority)
        assert out["humans_with_majority"]["value"] == loo_agreed / loo_compared
        assert {h["id"]: h["agreement"]["value"] for h in out["with_humans"]} == {
            public[p]: v for p, v in per_person.items()}
        for figure in [out["with_majority"], out["humans_with_majority"], *(h["agreement"] for h in out["with_humans"])]:
            assert figure["low"] <= figure["value"] <= figure["high"] and figure["high"] - figure["low"] > 0

    def test_the_people_figures_leave_the_ai_judgements_out(self, db: Session) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 4], [6, 2]])
        people = simulated_people(db, w, 2, accuracy=1.0)
        labeler = ai_judges(db, admin, w, wrong_every=1)
        ids = [wi.id for wi, _ in w.items]
        for people_only, expected in ((True, {p.id for p in people}), (False, {labeler.user_id, *(p.id for p in people)})):
            loaded = quality_repo.load_items(db, w.project, ids, people_only=people_only)
            assert {v.user_id for item in loaded.values() for v in item.item.votes} == expected


class TestAccount:
    def test_an_ai_labelers_account_gets_no_login_role_or_token(self, db: Session, client: TestClient) -> None:
        admin = make_user(db, Role.admin)
        w = world(db, TaskKind.pairwise, [[1, 4]])
        labeler = ai_judges(db, admin, w, wrong_every=2)
        account = db.get(User, labeler.user_id)
        assert account is not None
        uid = account.public_id
        headers = bearer(db, admin)
        for method, path, body in (("PATCH", f"/api/v1/users/{uid}", {"is_active": True}),
                                   ("POST", f"/api/v1/users/{uid}/password", None),
                                   ("POST", f"/api/v1/users/{uid}/tokens", {"name": "steal"})):
            r = client.request(method, path, json=body, headers=headers)
            assert r.status_code == 409 and "AI labeler" in r.json()["detail"], (path, r.text)
        db.expire_all()
        again = db.get(User, labeler.user_id)
        assert again is not None and not again.is_active
