"""How often an AI labeler agrees with the people, on the items both judged.

The same definitions as the quality page (app/quality/stats.py, InstructGPT's
agreement): every two answers of an item are a pair; two judgements agree on a pair
both left untied when they prefer the same answer.

- **with the majority**: on each pair the AI left untied, the AI against the majority
  of the people who judged the item (pairs the people tie overall are left out);
- **people with the majority**: each person against the majority of the *other*
  people on the same items, the bar an AI labeler is compared with (a person who is
  alone on an item counts nowhere);
- **with each person**: the AI against one person, over the untied pairs both judged.

Intervals: the quality page's Poisson bootstrap over items (``stats.ratio``), seeded,
so the page shows the same numbers twice.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from sqlalchemy.orm import Session

from app.ai_labeling import repository as repo
from app.ai_labeling.schemas import AgreementOut, EstimateOut, HumanAgreementOut
from app.labeling import repository as labeling_repo
from app.labeling.kinds import kind_of
from app.models import AiLabeler
from app.quality import repository as quality_repo
from app.quality.stats import Estimate, Histogram, pair_signs, ratio, shared_agreement

Signs = dict[tuple[int, int], int]


def _estimate(e: Estimate) -> EstimateOut:
    return EstimateOut(value=e.value, low=e.low, high=e.high, n=e.n)


def against_majority(mine: Signs, others: list[Signs]) -> tuple[int, int]:
    """(agreed, compared) of ``mine`` against the majority sign of ``others`` per pair."""
    agreed = compared = 0
    for pair, sign in mine.items():
        majority = sum(o.get(pair, 0) for o in others)
        if sign and majority:
            compared += 1
            agreed += (majority > 0) == (sign > 0)
    return agreed, compared


def of_labeler(db: Session, labeler: AiLabeler) -> AgreementOut:
    project = labeling_repo.project_by_id(db, labeler.project_id)
    account = repo.user(db, labeler.user_id)
    ai_users = quality_repo.ai_user_ids(db)
    item_ids = repo.judged_item_ids(db, kind_of(project.task_kind).judgement_model, labeler.user_id)
    loaded = quality_repo.load_items(db, project, item_ids, people_only=False)
    majority_rows: list[tuple[int, int, int]] = []
    people_rows: list[tuple[int, int, int]] = []
    per_human: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    shared = 0
    for item_id in item_ids:
        found = loaded.get(item_id)
        if found is None:
            continue
        item = found.valid()
        ai_votes = [v for v in item.votes if v.user_id == labeler.user_id and v.ranks is not None]
        people = {v.user_id: pair_signs(v.ranks, item.completions)
                  for v in item.votes if v.user_id not in ai_users and v.ranks is not None}
        if not ai_votes or not people:
            continue
        shared += 1
        mine = pair_signs(ai_votes[0].ranks or {}, item.completions)
        majority_rows.append((*against_majority(mine, list(people.values())), 1))
        for user_id, signs in people.items():
            per_human[user_id].append((*shared_agreement(mine, signs), 1))
            others = [s for u, s in people.items() if u != user_id]
            if others:
                people_rows.append((*against_majority(signs, others), 1))
    rng = np.random.default_rng(labeler.id)
    users = quality_repo.users_by_id(db, per_human)
    return AgreementOut(
        ai_labeler=labeler.public_id,
        name=account.display_name,
        items=shared,
        with_majority=_estimate(ratio(Histogram.of(majority_rows), rng)),
        humans_with_majority=_estimate(ratio(Histogram.of(people_rows), rng)),
        with_humans=[
            HumanAgreementOut(id=users[u].public_id, name=users[u].display_name,
                              agreement=_estimate(ratio(Histogram.of(rows), rng)))
            for u, rows in sorted(per_human.items()) if u in users
        ],
    )
