"""Blind pairwise evaluation of two model versions on a held-out prompt set.

Starting one creates an ``evaluation`` project holding copies of the chosen
prompts and queues one ``evaluation-sample`` job (app/evaluations/runner.py). The
job samples one reply per prompt from each model and makes one item per
prompt pairing them, with which model comes first drawn per item from the seed,
so a position says nothing about the model. Everything here happens in the
caller's unit of work: a refused request stores nothing.

The prompts must come from a project the caller may read (the projects rule:
admins every project, others the projects they are members of); any other id
is answered 404, as if it did not exist. The new project's members are the
source project's labelers, the labelers named in the request (each must be an
active labeler), and the engineer who started it (so they can read the project they
made).

Results (``results``, ``leaderboard``) are read from the verdicts of the evaluation
projects the caller may read, by the pure functions of app/evaluations/results.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app import audit
from app.errors import InvalidInput, NotFound
from app.evaluations import repository as repo
from app.evaluations import results as stats
from app.evaluations.schemas import (
    EvaluationIn,
    EvaluationSummaryOut,
    LabelerOut,
    LeaderboardOut,
    PairOut,
    RatingOut,
    ResultsOut,
    SamplingJobOut,
    VerdictOut,
)
from app.jobs import service as jobs
from app.models import Job, JobKind, ModelVersion, Project, Role, TaskKind, User, UserKind, utcnow
from app.projects import service as projects
from app.projects.schemas import ProjectCreate
from app.quality.schemas import EstimateOut

GUIDELINES = (
    "Each task shows one prompt and two replies written by two different models. "
    "Choose the better reply, or say they are equally good or both bad. Which model "
    "wrote which reply is hidden, and the order is shuffled."
)


def _model(db: Session, public_id: str, field: str) -> ModelVersion:
    mv = repo.model(db, public_id)
    if mv is None:
        raise InvalidInput(f"{field}: no model version has the id {public_id!r}.",
                           details=[{"field": field, "message": "unknown model version"}])
    if mv.retired:
        raise InvalidInput(f"{field}: {mv.name!r} is retired; choose a version in use.",
                           details=[{"field": field, "message": "retired"}])
    return mv


def _source(db: Session, actor: User, body: EvaluationIn) -> tuple[Project, list[dict[str, object]]]:
    source = projects.get(db, actor, body.prompts.project_id)  # 404 unless readable
    prompts = repo.source_prompts(db, source.id, held_out_only=not body.prompts.all,
                                  limit=body.max_prompts)
    if not prompts:
        if body.prompts.all:
            message = f"The project {source.name!r} has no prompts; import some first."
        else:
            total = repo.count_prompts(db, source.id)
            message = (f"The project {source.name!r} has no held-out prompts (it has {total} in all). "
                       "Mark some as held out when importing them (\"held_out\": true), "
                       "or pass \"all\": true to evaluate on every prompt.")
        raise InvalidInput(message, details=[{"field": "prompts", "message": "no prompts"}])
    rows: list[dict[str, object]] = [
        # held_out stays true: an ordinary sample job on the new project must not
        # add completions to these prompts, and no training export may use them.
        {"external_id": p.external_id, "messages": p.messages, "category": p.category,
         "source": "evaluation", "batch": source.slug[:64], "held_out": True}
        for p in prompts
    ]
    return source, rows


def _named_labelers(db: Session, wanted: list[str]) -> None:
    """Refuse ids that are no active labeler's, naming them."""
    found = {u.public_id: u for u in repo.users(db, wanted)}
    wrong = [uid for uid in dict.fromkeys(wanted)
             if uid not in found or found[uid].role != Role.labeler or not found[uid].is_active
             or found[uid].kind != UserKind.human]
    if wrong:
        raise InvalidInput(
            f"labelers: {', '.join(wrong[:10])} {'is' if len(wrong) == 1 else 'are'} not an active "
            "labeler's id; choose from the labelers list (GET /api/v1/evaluations/labelers).",
            details=[{"field": "labelers", "message": f"not an active labeler: {uid}"} for uid in wrong[:100]],
        )


def _members(db: Session, actor: User, source: Project, body: EvaluationIn) -> list[str]:
    _named_labelers(db, body.labelers)
    labelers = [u.public_id for u in projects.members(db, source) if u.role == Role.labeler and u.is_active]
    creator = [actor.public_id] if actor.role != Role.admin else []
    return list(dict.fromkeys([*labelers, *body.labelers, *creator]))


def start(db: Session, actor: User, body: EvaluationIn) -> tuple[Project, Job, int]:
    """Create the evaluation project with its prompts and queue the sampling job;
    returns (project, job, number of prompts)."""
    a = _model(db, body.model_a, "model_a")
    b = _model(db, body.model_b, "model_b")
    if a.id == b.id:
        raise InvalidInput("model_a and model_b are the same model version; choose two different ones.")
    source, rows = _source(db, actor, body)
    name = body.name or f"Blind evaluation {utcnow():%Y-%m-%d %H:%M}"
    project = projects.create(db, actor, ProjectCreate(
        name=name, task_kind=TaskKind.evaluation, guidelines=GUIDELINES, overlap=body.overlap,
        sampling=body.sampling,
    ))
    repo.copy_prompts(db, project.id, rows)
    projects.set_members(db, actor, project, _members(db, actor, source, body))
    job = jobs.enqueue(db, JobKind.evaluation_sample, {
        "project_id": project.public_id,
        "model_a": a.public_id,
        "model_b": b.public_id,
        **body.sampling.model_dump(),
        "seed": body.seed,
        "concurrency": body.concurrency,
    }, actor=actor, project_id=project.id)
    audit.record(db, actor, "evaluation.create", project.slug, {
        "project": project.public_id, "job": job.public_id, "source": source.public_id,
        "model_a": a.name, "model_b": b.name, "prompts": len(rows), "all": body.prompts.all,
    })
    return project, job, len(rows)


def labelers(db: Session) -> list[LabelerOut]:
    return [LabelerOut(id=u.public_id, name=u.display_name) for u in repo.active_labelers(db)]


def _evaluations(db: Session, actor: User, include_archived: bool = False) -> list[Project]:
    return [p for p in projects.list_projects(db, actor, include_archived)
            if p.task_kind == TaskKind.evaluation]


def evaluation(db: Session, actor: User, public_id: str) -> Project:
    """An evaluation project the actor may read (404 otherwise, as for projects)."""
    project = projects.get(db, actor, public_id)
    if project.task_kind != TaskKind.evaluation:
        raise NotFound(f"The project {project.name!r} is no blind evaluation; its results are on its "
                       "quality page.")
    return project


def _job_out(job: Job | None) -> SamplingJobOut | None:
    if job is None:
        return None
    progress = job.progress or {}
    total = progress.get("total")
    return SamplingJobOut(id=job.public_id, status=job.status.value, done=int(progress.get("step") or 0),
                          total=int(total) if total is not None else None)


def _model_order(rows: Sequence[repo.ComparisonRow]) -> list[str]:
    """Models oldest registry version first (the reference), then imported names."""
    return repo.oldest_first((name, version) for r in rows
                             for name, version in ((r.a_model, r.a_version), (r.b_model, r.b_version)))


def list_evaluations(db: Session, actor: User, include_archived: bool = False) -> list[EvaluationSummaryOut]:
    """The evaluation projects the actor may read, newest first."""
    return _summaries(db, _evaluations(db, actor, include_archived))


def summary(db: Session, actor: User, public_id: str) -> EvaluationSummaryOut:
    return _summaries(db, [evaluation(db, actor, public_id)])[0]


def _summaries(db: Session, found: list[Project]) -> list[EvaluationSummaryOut]:
    ids = [p.id for p in found]
    jobs_of = repo.sampling_jobs(db, ids)
    counts = repo.item_counts(db, ids)
    models = repo.project_models(db, ids)
    # Before the job has sampled anything, the models it was asked for.
    wanted = {pid: [str(job.params.get(side)) for side in ("model_a", "model_b")]
              for pid, job in jobs_of.items() if pid not in models}
    names = repo.model_names(db, [ref for refs in wanted.values() for ref in refs])
    models.update({pid: [names.get(ref, ref) for ref in refs] for pid, refs in wanted.items()})
    verdicts = _pair_verdicts(db, ids)
    return [
        EvaluationSummaryOut(project_id=p.public_id, project_slug=p.slug, name=p.name, created_at=p.created_at,
                             archived=p.archived, models=models.get(p.id, []), items=counts[p.id][0],
                             judgements=counts[p.id][1], job=_job_out(jobs_of.get(p.id)),
                             verdict=verdicts.get(p.id))
        for p in sorted(found, key=lambda p: p.id, reverse=True)
    ]


def _verdict_out(v: stats.Verdict) -> VerdictOut:
    return VerdictOut(kind=v.kind, text=v.text, winner=v.winner, runner_up=v.runner_up,
                      win_rate=EstimateOut.of(v.win_rate))


def _pair_verdicts(db: Session, project_ids: list[int]) -> dict[int, VerdictOut]:
    """The verdict of each evaluation that compares exactly two models, from the win rate
    alone (no bootstrap: the list stays fast); others are read on their results page."""
    by_project: dict[int, list[stats.Comparison]] = {}
    for r in repo.comparisons(db, project_ids):
        by_project.setdefault(r.project_id, []).append(stats.Comparison(r.a_model, r.b_model, r.winner))
    out = {}
    for pid, rows in by_project.items():
        table = stats.pairs(rows)
        if len(table) == 1:
            out[pid] = _verdict_out(stats.pair_verdict(table[0]))
    return out


def _results(db: Session, found: list[Project], reference: str | None) -> ResultsOut:
    rows = repo.comparisons(db, [p.id for p in found])
    order = _model_order(rows)
    comparisons = [stats.Comparison(r.a_model, r.b_model, r.winner,
                                    None if r.shown_first is None else r.shown_first == r.a_completion)
                   for r in rows]
    if reference is not None and reference not in order:
        raise InvalidInput(f"reference: no model named {reference!r} was compared here; "
                           f"choose one of {', '.join(order) or 'none yet'}.")
    out = stats.results(comparisons, order, reference)
    ids = repo.model_ids(db, order)

    def board_out(board: stats.Leaderboard) -> LeaderboardOut:
        return LeaderboardOut(
            reference=board.reference, others=[board_out(b) for b in board.others],
            ratings=[RatingOut(model=r.model, model_id=ids.get(r.model), rank=r.rank, rating=r.rating,
                               low=r.low, high=r.high, comparisons=r.comparisons, sweep=r.sweep)
                     for r in board.ratings])

    return ResultsOut(
        projects=[p.public_id for p in found],
        comparisons=out.comparisons,
        leaderboard=board_out(out.leaderboard),
        pairs=[PairOut.of(p) for p in out.pairs],
        position_bias=EstimateOut.of(out.position),
        verdict=_verdict_out(out.verdict),
        method=METHOD,
    )


MAX_PROJECTS = 200
METHOD = (
    "Ties and 'both bad' count half a win for each side. Win rates have 95 % Wilson intervals. "
    "Ratings are Bradley–Terry on the Elo scale (400 points per factor 10 in the odds), the reference "
    "model fixed at 1000, one virtual tie per pair of models as the prior, with 95 % percentile-bootstrap "
    f"intervals over the comparisons ({stats.BOOTSTRAP} replicates, fixed seed). Judgements a reviewer "
    "rejected, gold items and AI judges' verdicts are left out."
)


def results(db: Session, actor: User, public_id: str, reference: str | None = None) -> ResultsOut:
    """The figures of one evaluation project."""
    return _results(db, [evaluation(db, actor, public_id)], reference)


def leaderboard(db: Session, actor: User, project_ids: list[str] | None = None,
                reference: str | None = None) -> ResultsOut:
    """The figures over several evaluation projects (default: every one the actor may read)."""
    if project_ids:
        wanted = list(dict.fromkeys(project_ids))
        if len(wanted) > MAX_PROJECTS:
            raise InvalidInput(f"project: at most {MAX_PROJECTS} evaluations at once; leave it out for all of them.")
        found = [evaluation(db, actor, pid) for pid in wanted]
    else:
        found = _evaluations(db, actor)
    return _results(db, found, reference)


def results_of_refs(db: Session, refs: list[str], reference: str | None = None) -> ResultsOut:
    """For the CLI, which acts with full rights: projects by slug or id."""
    found = []
    for ref in dict.fromkeys(refs):
        project = projects.get(db, None, ref)
        if project.task_kind != TaskKind.evaluation:
            raise InvalidInput(f"{ref!r} is a {project.task_kind.value} project, not a blind evaluation.")
        found.append(project)
    return _results(db, found, reference)
