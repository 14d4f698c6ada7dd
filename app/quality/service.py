"""Quality figures: counted incrementally, read by the quality page, by each labeler
about themselves, and by exports.

Counting: every judgement made since the project's mark (and not counted yet) is new; the items
it belongs to are re-computed from their current judgements and their old contribution
to the bins replaced by the new one (``recompute``). An item remembers which judgements
its contribution came from, so re-computing it twice changes nothing. A reviewer's
rejection re-computes the item at once; a change of content (a correction, a new gold
answer) goes through ``content_change``, which takes the item's contribution before and
after. Nothing of this runs on the submit path: a page view counts up to
``PAGE_BUDGET`` new judgements before answering (a few hundred milliseconds), and leaves a
larger backlog to ``count_backlog`` after its response, ``BACKLOG_CHUNK`` judgements per
transaction (so SQLite's single writer is never held for long); ``POST …/quality:refresh``
does the same on demand.

New judgements are found through the (project_id, created_at) index of the judgement
table. A judgement's time is taken when its submit starts and it commits a moment later,
so the mark stays ``SETTLE`` behind the clock and the judgements counted since the mark
are remembered (``QualityState.recent``) until it passes them.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app import access, audit
from app.db import unit_of_work
from app.errors import NotFound
from app.models import LabelerQuality, Project, QualitySettings, Role, Standing, User, utcnow
from app.quality import repository as repo
from app.quality.gold import LABEL_OF_MAGNITUDE, GoldSpec, correct
from app.quality.schemas import (
    DayOut,
    DisputedOut,
    EstimateOut,
    GoldMistakeOut,
    LabelerDetailOut,
    LabelerOut,
    MyQualityOut,
    PairOut,
    ProjectFiguresOut,
    QualityOut,
    RefreshOut,
    SettingsIn,
    SettingsOut,
)
from app.quality.stats import (
    BinKey,
    Figures,
    LabelerFigures,
    Thresholds,
    Vote,
    contributions,
    summarize,
)

# Longer than a submit can take to commit once its time is taken (SQLite waits 30 s at most
# for its writer; PostgreSQL's submit retries a few short transactions).
SETTLE = timedelta(minutes=3)
PAGE_BUDGET = 300
# Judgements per transaction of a backlog count: short on SQLite, whose one writer blocks
# every submit meanwhile; larger on PostgreSQL, where fewer, bigger bin updates win.
BACKLOG_CHUNK = {"sqlite": 500, "postgresql": 5_000}
PENDING_CAP = 1_000_000
DISPUTED = 20
RECOMPUTE_CHUNK = 500
NO_PROJECT = "No such project, or you may not read its quality figures."
LETTERS = "ABCDEFGHI"


# --- who may read what -----------------------------------------------------------------------


def readable_project(db: Session, viewer: User, ref: str) -> Project:
    """Admins read every project's figures; reviewers those of the projects they may read
    (app/access.py)."""
    if viewer.role not in (Role.admin, Role.reviewer):
        raise NotFound(NO_PROJECT)
    return access.readable_project(db, viewer, ref)


def member_project(db: Session, user: User, ref: str) -> Project:
    return access.assigned_project(db, user, ref)


def admin_project(db: Session, actor: User | None, ref: str) -> Project:
    return access.writable_project(db, actor, ref)


# --- counting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    counted: int
    pending: int


def refresh(db: Session, project: Project, *, budget: int = PAGE_BUDGET, now: datetime | None = None) -> Refreshed:
    """Count up to ``budget`` new judgements; says how many are still waiting."""
    now = now or utcnow()
    kind = project.task_kind
    seen = repo.state(db, project.id)
    since, recent = (seen.counted_before, set(seen.recent)) if seen else (None, set[int]())
    peek = repo.judgements_since(db, kind, project.id, since, len(recent) + 1)
    if all(r.id in recent for r in peek):
        return Refreshed(0, 0)
    state = repo.lock_state(db, project.id)
    recent = set(state.recent)
    rows = repo.judgements_since(db, kind, project.id, state.counted_before, budget + len(recent))
    fresh = [r for r in rows if r.id not in recent][:budget]
    recompute(db, project, sorted({r.item_id for r in fresh}))
    done = recent | {r.id for r in fresh}
    # The mark moves up to the first judgement not counted yet (rows come oldest first),
    # never closer to the clock than SETTLE, never back.
    mark = now - SETTLE
    waiting = next((r for r in rows if r.id not in done), None)
    truncated = len(rows) == budget + len(recent)
    if waiting is not None:
        mark = min(mark, waiting.created_at)
    elif rows and truncated:
        mark = min(mark, rows[-1].created_at)  # more may follow at this same time
    if state.counted_before is not None:
        mark = max(mark, state.counted_before)
    state.counted_before = mark
    state.recent = sorted(r.id for r in rows if r.id in done and r.created_at >= mark)
    state.refreshed_at = now
    db.flush()
    pending = 0
    if waiting is not None or truncated:
        pending = max(0, repo.count_since(db, kind, project.id, mark, PENDING_CAP) - len(state.recent))
    return Refreshed(len(fresh), pending)


def recompute(db: Session, project: Project, item_ids: Sequence[int]) -> None:
    """Replace each item's contribution to the bins with one from its current judgements."""
    for start in range(0, len(item_ids), RECOMPUTE_CHUNK):
        chunk = list(item_ids[start : start + RECOMPUTE_CHUNK])
        loaded = repo.load_items(db, project, chunk)
        stored = repo.quality_items(db, chunk)
        delta: Counter[BinKey] = Counter()
        rows = []
        now = utcnow()
        for item_id in chunk:
            if item_id not in loaded:
                continue
            item = loaded[item_id]
            valid = item.valid()
            new = contributions(valid)
            delta.update(new.bins)
            before = stored.get(item_id)
            if before is not None and before.judgements:
                delta.subtract(contributions(item.only(before.judgements)).bins)
            rows.append({
                "item_id": item_id, "project_id": project.id,
                "judgements": sorted(v.judgement_id for v in valid.votes), "labelers": new.labelers,
                "agreed": new.agreed, "compared": new.compared, "dispute": new.dispute, "updated_at": now,
            })
        repo.save_quality_items(db, rows)
        repo.add_to_bins(db, project.id, delta)


@contextmanager
def content_change(db: Session, project: Project, item_id: int) -> Iterator[None]:
    """Around a change of what an item's judgements or gold answer say: its contribution
    is taken before and after, and the difference applied."""
    repo.lock_state(db, project.id)
    recompute(db, project, [item_id])
    before = repo.load_items(db, project, [item_id])[item_id].valid()
    yield
    db.flush()
    after = repo.load_items(db, project, [item_id])[item_id].valid()
    old, new = contributions(before), contributions(after)
    delta: Counter[BinKey] = Counter(new.bins)
    delta.subtract(old.bins)
    repo.add_to_bins(db, project.id, delta)
    repo.save_quality_items(db, [{
        "item_id": item_id, "project_id": project.id, "judgements": sorted(v.judgement_id for v in after.votes),
        "labelers": new.labelers, "agreed": new.agreed, "compared": new.compared, "dispute": new.dispute,
        "updated_at": utcnow(),
    }])


def rebuild(db: Session, project: Project) -> Refreshed:
    """Forget the project's counts and count every judgement again."""
    repo.lock_state(db, project.id)
    repo.clear_statistics(db, project.id)
    db.flush()
    return refresh(db, project, budget=10**9)


def count_backlog(factory: sessionmaker[Session], project_id: int, budget: int = 10**9) -> RefreshOut:
    """Count waiting judgements, ``BACKLOG_CHUNK`` per committed transaction, up to ``budget``."""
    counted, pending = 0, 1
    chunk = BACKLOG_CHUNK.get(factory.kw["bind"].dialect.name, BACKLOG_CHUNK["sqlite"])
    while pending and counted < budget:
        with unit_of_work(factory) as db:
            project = db.get(Project, project_id)
            if project is None:
                break
            done = refresh(db, project, budget=min(chunk, budget - counted))
        counted += done.counted
        pending = done.pending if done.counted else 0
    return RefreshOut(counted=counted, pending=pending)


def refresh_for(
    factory: sessionmaker[Session], db: Session, actor: User, ref: str, budget: int
) -> RefreshOut:
    project = admin_project(db, actor, ref)
    db.commit()  # this request's transaction must not hold SQLite's writer while counting
    return count_backlog(factory, project.id, budget)


# --- settings --------------------------------------------------------------------------------


def settings_of(db: Session, project_id: int) -> QualitySettings:
    """The project's settings (the defaults when none were saved; not stored then)."""
    row = repo.settings(db, project_id)
    if row is not None:
        return row
    return QualitySettings(
        project_id=project_id, gold_rate=0.0, require_screening=False, screening_pass=0.8,
        gold_min_accuracy=0.7, gold_min_answers=5, pause_on_gold_failure=False, correction_minutes=0,
    )


def settings_out(row: QualitySettings) -> SettingsOut:
    return SettingsOut(
        gold_rate=row.gold_rate, require_screening=row.require_screening, screening_pass=row.screening_pass,
        gold_min_accuracy=row.gold_min_accuracy, gold_min_answers=row.gold_min_answers,
        pause_on_gold_failure=row.pause_on_gold_failure, correction_minutes=row.correction_minutes,
    )


def update_settings(db: Session, actor: User, ref: str, body: SettingsIn) -> SettingsOut:
    project = admin_project(db, actor, ref)
    row = repo.settings(db, project.id) or settings_of(db, project.id)
    changes = {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None and getattr(row, k) != v}
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = utcnow()
    repo.save_settings(db, row)
    if changes:
        audit.record(db, actor, "quality.settings", project.slug, {"project": project.public_id, "changes": changes})
    return settings_out(row)


# --- figures -------------------------------------------------------------------------------


_FIGURES: OrderedDict[tuple[object, ...], Figures] = OrderedDict()
FIGURES_KEPT = 64


def figures_of(db: Session, project: Project, users: Sequence[int] | None = None) -> Figures:
    """The figures of the project's bins; reused while neither the bins (their version),
    the skips nor the thresholds changed, so a page viewed again costs a few queries."""
    settings = settings_of(db, project.id)
    state = repo.state(db, project.id)
    skips = repo.skip_counts(db, project.id)
    thresholds = Thresholds(settings.gold_min_accuracy, settings.gold_min_answers)
    key = (db.get_bind().engine.url.render_as_string(), project.id, state.version if state else -1,
           tuple(sorted(skips.items())), thresholds, tuple(users) if users is not None else None)
    found = _FIGURES.get(key)
    if found is None:
        found = summarize(repo.bins(db, project.id), seed=project.id, skips=skips, thresholds=thresholds, users=users)
        _FIGURES[key] = found
        while len(_FIGURES) > FIGURES_KEPT:
            _FIGURES.popitem(last=False)
    _FIGURES.move_to_end(key)
    return found


def project_figures_out(f: Figures) -> ProjectFiguresOut:
    e = EstimateOut.of
    return ProjectFiguresOut(
        judgements=f.judgements, agreement=e(f.agreement), tau=e(f.tau), margin=e(f.margin), alpha=e(f.alpha),
        position=e(f.position), length=e(f.length), seconds=e(f.seconds), fast=e(f.fast), unusable=e(f.unusable),
    )


def labeler_out(lf: LabelerFigures, user: User, standing: Standing) -> LabelerOut:
    e = EstimateOut.of
    return LabelerOut(
        id=user.public_id, name=user.display_name, standing=standing, judgements=lf.judgements,
        agreement=e(lf.agreement), loo=e(lf.loo), tau=e(lf.tau), margin=e(lf.margin), gold=e(lf.gold),
        position=e(lf.position), length=e(lf.length), length_base=lf.length_base, seconds=e(lf.seconds),
        seconds_ratio=e(lf.seconds_ratio), fast=e(lf.fast), unusable=e(lf.unusable), skips=e(lf.skips),
        flags=[str(f) for f in lf.flags],
    )


def page(db: Session, viewer: User, ref: str) -> tuple[QualityOut, int]:
    """Everything the quality page draws (and the project's id, to count a backlog)."""
    project = readable_project(db, viewer, ref)
    done = refresh(db, project)
    figures = figures_of(db, project)
    standings = {s.user_id: s.standing for s in repo.standings(db, project.id)}
    users = repo.users_by_id(db, [lf.user_id for lf in figures.labelers] + [u for p in figures.pairs for u in p[:2]])
    state = repo.state(db, project.id)
    gold, screening = repo.gold_counts(db, project.id)
    return QualityOut(
        project={"id": project.public_id, "name": project.name, "slug": project.slug},
        task_kind=project.task_kind,
        counted_up_to=state.refreshed_at if state else None,
        pending=done.pending,
        figures=project_figures_out(figures),
        labelers=[
            labeler_out(lf, users[lf.user_id], standings.get(lf.user_id, Standing.active))
            for lf in figures.labelers if lf.user_id in users
        ],
        pairs=[
            PairOut(a=users[u].public_id, b=users[v].public_id, agreement=EstimateOut.of(e))
            for u, v, e in figures.pairs if u in users and v in users
        ],
        days=[
            DayOut(date=(repo.EPOCH + timedelta(days=d)).date().isoformat(), agreement=EstimateOut.of(e))
            for d, e in figures.days
        ],
        disputed=[
            DisputedOut(item_id=pid, prompt=(text or "")[:200] or None, labelers=q.labelers, agreed=q.agreed,
                        compared=q.compared, dispute=q.dispute)
            for q, pid, text in repo.disputed_items(db, project.id, DISPUTED)
        ],
        settings=settings_out(settings_of(db, project.id)),
        gold_items=gold - screening,
        screening_items=screening,
    ), project.id


def my_figures(db: Session, user: User, ref: str) -> MyQualityOut:
    """A labeler's own figures beside the team's: nobody else's."""
    project = member_project(db, user, ref)
    refresh(db, project)
    figures = figures_of(db, project, users=[user.id])
    mine = next((lf for lf in figures.labelers if lf.user_id == user.id), LabelerFigures(user.id, 0))
    row = repo.standing(db, project.id, user.id)
    return MyQualityOut(
        project={"id": project.public_id, "name": project.name},
        labeler=labeler_out(mine, user, row.standing if row else Standing.active),
        team=project_figures_out(figures),
    )


def labeler_detail(db: Session, viewer: User, ref: str, user_public_id: str) -> LabelerDetailOut:
    """One labeler's figures with the evidence behind a gold flag: which gold items they
    missed and what they answered."""
    project = readable_project(db, viewer, ref)
    user = repo.user_by_public_id(db, user_public_id)
    if user is None:
        raise NotFound("No such labeler.")
    refresh(db, project)
    figures = figures_of(db, project, users=[user.id])
    mine = next((lf for lf in figures.labelers if lf.user_id == user.id), LabelerFigures(user.id, 0))
    row = repo.standing(db, project.id, user.id)
    answers = repo.gold_answers_of(db, project, user.id, screening=None)
    texts = repo.item_completion_texts(db, [item.id for item, _ in answers])
    mistakes = []
    for item, vote in answers:
        spec = GoldSpec.from_json(item.gold or {})
        if correct(spec, vote.ranks, vote.margin):
            continue
        letters = {cid: LETTERS[i] for i, (cid, _, _) in enumerate(texts.get(item.id, []))}
        mistakes.append(GoldMistakeOut(
            item_id=item.public_id, screening=spec.screening, prompt=None,
            gold=gold_in_letters(spec, letters), answer=vote_in_letters(vote, letters),
        ))
    return LabelerDetailOut(
        labeler=labeler_out(mine, user, row.standing if row else Standing.active),
        screening_correct=row.screening_correct if row else 0,
        screening_answered=row.screening_answered if row else 0,
        reason=row.reason if row else None,
        gold_answers=len(answers),
        mistakes=mistakes,
    )


def gold_in_letters(spec: GoldSpec, letters: dict[str, str]) -> dict[str, object]:
    out: dict[str, object] = {"above": [[letters.get(x, x), letters.get(y, y)] for x, y in spec.above]}
    if spec.order is not None:
        out["ranking"] = [[letters.get(c, c) for c in tier] for tier in spec.order]
    if spec.margins is not None:
        out["margins"] = [LABEL_OF_MAGNITUDE[m].value for m in sorted(spec.margins)]
    if spec.note:
        out["note"] = spec.note
    return out


def vote_in_letters(vote: Vote, letters: dict[str, str]) -> dict[str, object]:
    if vote.ranks is None:
        return {"verdict": "no preference (not rankable / both bad)"}
    groups: dict[int, list[str]] = {}
    for cid, group in sorted(vote.ranks.items(), key=lambda kv: letters.get(kv[0], kv[0])):
        groups.setdefault(group, []).append(letters.get(cid, cid))
    out: dict[str, object] = {"ranking": [groups[g] for g in sorted(groups)]}
    if vote.margin:
        out["margin"] = LABEL_OF_MAGNITUDE[abs(vote.margin)].value
    return out


# --- standing ------------------------------------------------------------------------------


def set_standing(
    db: Session, actor: User | None, project: Project, user_id: int, standing: Standing, reason: str | None
) -> LabelerQuality:
    """Record a labeler's standing (an admin's override, a screening result, a pause)."""
    row = repo.standing(db, project.id, user_id) or LabelerQuality(project_id=project.id, user_id=user_id)
    before = row.standing
    row.standing = standing
    row.reason = reason
    row.decided_by = actor.id if actor else None
    row.updated_at = utcnow()
    repo.save_standing(db, row)
    if before != standing:
        audit.record(db, actor, "quality.standing", project.slug, {
            "project": project.public_id, "labeler": user_id, "from": str(before) if before else None,
            "to": standing.value, "reason": reason,
        })
    return row


def override_standing(
    db: Session, actor: User, ref: str, user_public_id: str, standing: Standing, reason: str | None
) -> LabelerQuality:
    project = admin_project(db, actor, ref)
    user = repo.user_by_public_id(db, user_public_id)
    if user is None or not repo.is_member(db, project.id, user.id):
        raise NotFound("No such labeler in this project.")
    return set_standing(db, actor, project, user.id, standing, reason)


# --- exports ---------------------------------------------------------------------------------


def snapshot_figures(db: Session, project: Project) -> Figures:
    """Agreement and gold accuracy counted afresh from ``db`` (an export's read-only
    snapshot): every item two labelers or more judged, and every judged gold item."""
    total: Counter[BinKey] = Counter()
    ids = repo.shared_or_gold_item_ids(db, project.task_kind, project.id)
    for start in range(0, len(ids), RECOMPUTE_CHUNK):
        for loaded in repo.load_items(db, project, ids[start : start + RECOMPUTE_CHUNK]).values():
            total.update(contributions(loaded.valid()).bins)
    settings = settings_of(db, project.id)
    return summarize(
        [(*key, n) for key, n in total.items()],
        seed=project.id,
        thresholds=Thresholds(settings.gold_min_accuracy, settings.gold_min_answers),
    )


def labelers_below(figures: Figures, min_agreement: float | None, min_gold: float | None) -> frozenset[int]:
    """Labelers whose agreement or gold accuracy is under the bar (unmeasured ones stay)."""
    low = set()
    for lf in figures.labelers:
        if min_agreement is not None and lf.agreement.value is not None and lf.agreement.value < min_agreement:
            low.add(lf.user_id)
        if min_gold is not None and lf.gold.value is not None and lf.gold.value < min_gold:
            low.add(lf.user_id)
    return frozenset(low)


def manifest_figures(
    figures: Figures, exported: frozenset[int], pseudonym: Callable[[int], str]
) -> dict[str, object]:
    """What the manifest says about the quality of the exported judgements."""
    return {
        "agreement": figures.agreement.as_dict(),
        "kendall_tau": figures.tau.as_dict(),
        "margin_agreement": figures.margin.as_dict(),
        "krippendorff_alpha": figures.alpha.as_dict(),
        "labelers": {
            pseudonym(lf.user_id): {"agreement": lf.agreement.as_dict(), "gold_accuracy": lf.gold.as_dict()}
            for lf in figures.labelers if lf.user_id in exported
        },
        "definitions": "app/quality/stats.py",
    }
