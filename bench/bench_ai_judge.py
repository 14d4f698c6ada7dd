"""An AI labeler against a simulated person on a simple pairwise task, through the real
job: its accuracy, its agreement with the person (with intervals) and its position bias,
judging each pair in both orders and in one order.

The task: arithmetic questions, each with a right and a wrong answer ("7 + 5 = 12." vs
"7 + 5 = 15."), which one is canonical A drawn per item. The simulated person picks the
right one with probability ``--human-accuracy``. The judge is a local model folder of
the registry (default: SmolLM2-135M-Instruct converted by ``python -m trainer.smollm
DIR``, nothing downloaded) run by an in-process worker on a fresh SQLite database.

    .venv/bin/python -m trainer.smollm /tmp/rw-models/smollm2-135m-instruct
    .venv/bin/python bench/bench_ai_judge.py --model /tmp/rw-models/smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from app import job_kinds
from app.ai_labeling import agreement, service
from app.ai_labeling.schemas import AiLabelerIn, AiRunIn
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.jobs.worker import Worker, WorkerOptions
from app.migrate import upgrade
from app.models import (
    AiJudgement,
    Completion,
    ItemCompletion,
    MarginLabel,
    PairwiseJudgement,
    Project,
    Prompt,
    Role,
    TaskKind,
    User,
    Winner,
    WorkItem,
)
from app.registry import service as registry


def build(db: Session, items: int, human_accuracy: float, seed: int) -> tuple[Project, dict[int, int]]:
    """The project, and the right answer's canonical position per item id."""
    rng = random.Random(seed)
    project = Project(slug="simple-ab", name="Simple A/B", task_kind=TaskKind.pairwise, k_min=2, overlap=2,
                      guidelines="Prefer the answer that is correct.")
    person = User(email="person@example.org", display_name="Simulated person", password_hash="!", role=Role.labeler)
    db.add_all([project, person])
    db.flush()
    right_at: dict[int, int] = {}
    for n in range(items):
        a, b = rng.randint(2, 30), rng.randint(2, 30)
        right, wrong = f"{a} + {b} = {a + b}.", f"{a} + {b} = {a + b + rng.choice([-3, -2, 2, 3, 10])}."
        prompt = Prompt(project_id=project.id, external_id=f"q{n}",
                        messages=[{"role": "user", "content": f"What is {a} + {b}?"}], category="closed_qa")
        db.add(prompt)
        db.flush()
        first_right = rng.random() < 0.5
        texts = [right, wrong] if first_right else [wrong, right]
        comps = [Completion(prompt_id=prompt.id, external_id=f"c{n}-{i}", content=t, model_name="toy")
                 for i, t in enumerate(texts)]
        db.add_all(comps)
        item = WorkItem(project_id=project.id, prompt_id=prompt.id, required=2)
        db.add(item)
        db.flush()
        db.add_all(ItemCompletion(item_id=item.id, position=i, completion_id=c.id) for i, c in enumerate(comps))
        right_at[item.id] = 0 if first_right else 1
        correct = rng.random() < human_accuracy
        picks_a = (right_at[item.id] == 0) == correct
        db.add(PairwiseJudgement(item_id=item.id, user_id=person.id, project_id=project.id,
                                 idempotency_key=f"person-{n:05d}", shown_order=[c.public_id for c in comps],
                                 winner=Winner.a if picks_a else Winner.b, margin_label=MarginLabel.better))
    db.commit()
    return project, right_at


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="/tmp/rw-models/smollm2-135m-instruct", help="a local model folder")
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--human-accuracy", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="rw-ai-judge-"))
    settings = Settings.model_validate({"env": "test", "data_dir": data, "database_url": f"sqlite:///{data / 'rw.db'}",
                                        "secret_key": "bench-secret-key-0123456789-abcdefghijklmnop",
                                        "models_dir": str(Path(args.model).parent)})
    engine = make_engine(settings)
    upgrade(engine)
    factory = make_session_factory(engine)
    with factory() as db:
        admin = User(email="admin@example.org", display_name="Admin", password_hash="!", role=Role.admin)
        db.add(admin)
        db.flush()
        project, right_at = build(db, args.items, args.human_accuracy, args.seed)
        mv = registry.register_local(db, admin, name="judge", path=args.model)
        labelers = {}
        for both in (True, False):
            labeler = service.create(db, admin, AiLabelerIn(project_id=project.public_id, model_id=mv.public_id,
                                                            name=f"judge, {'both orders' if both else 'one order'}",
                                                            both_orders=both))
            service.start_run(db, admin, labeler.public_id, AiRunIn(max_items=args.items, max_calls=10_000))
            labelers[both] = labeler.id
        db.commit()
    Worker(settings, job_kinds.RUNNERS, WorkerOptions(name="bench", poll_seconds=0.1, max_jobs=2), factory).run_forever()
    print(f"judge: {args.model}; {args.items} arithmetic items, simulated person right with p={args.human_accuracy}")
    with factory() as db:
        person = db.query(PairwiseJudgement).join(User).filter(User.email == "person@example.org").all()
        person_right = sum((j.winner == Winner.a) == (right_at[j.item_id] == 0) for j in person)
        print(f"simulated person: {person_right}/{len(person)} right")
        for both, labeler_id in labelers.items():
            from app.models import AiLabeler

            labeler = db.get(AiLabeler, labeler_id)
            assert labeler is not None
            verdicts = db.query(PairwiseJudgement).filter_by(user_id=labeler.user_id).all()
            right = sum((j.winner == Winner.a) == (right_at[j.item_id] == 0) for j in verdicts)
            calls = [c for r in db.query(AiJudgement).filter_by(ai_labeler_id=labeler_id) for c in r.calls]
            first_wins = sum((c["p_first"] or 0) > 0.5 for c in calls)
            mean_first = sum(c["p_first"] or 0 for c in calls) / max(1, len(calls))
            margins: dict[str, int] = {}
            for j in verdicts:
                key = j.margin_label.value if j.margin_label else "-"
                margins[key] = margins.get(key, 0) + 1
            out = agreement.of_labeler(db, labeler)
            e = out.with_majority
            print(f"\n{'both orders' if both else 'one order'}: {len(verdicts)} judged, {len(calls)} calls")
            print(f"  right: {right}/{len(verdicts)} = {right / max(1, len(verdicts)):.2f}")
            print(f"  agreement with the simulated person: {e.value:.2f} (95% {e.low:.2f}–{e.high:.2f}, n={e.n})"
                  if e.value is not None else "  agreement: not measured")
            print(f"  position bias: the answer shown first wins {first_wins}/{len(calls)} calls; "
                  f"mean P(first better) = {mean_first:.2f}")
            print(f"  margins: {margins}")


if __name__ == "__main__":
    main()
