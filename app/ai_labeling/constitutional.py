"""Constitutional AI, the supervised stage (Bai et al. 2022, arXiv:2212.08073, §3): for a
demonstration project's prompts the model answers, critiques its answer against one
principle of the constitution (drawn per prompt), and revises it. The revisions either

* become **candidates** people review on the demonstration page (accept as is, edit, or
  reject and write their own): each is stored as a completion of the prompt's
  demonstration item, and a demonstration submitted from it records the model it came
  from (``Demonstration.suggestion_model_id``); or
* are **exported** straight away as SFT data marked AI-written: an export folder in the
  job's folder (``manifest.json`` and ``sft.train.jsonl``, the data contract), each
  record with ``labeler_kind: "ai"`` and the principle, first answer and critique.

The model is any sampler of the registry (app/sampling/generation.py: a local folder, or
an endpoint with bounded concurrency and retries). Prompts are processed in chunks; each
prompt's candidate is stored in its own short transaction, so a cancelled run keeps what
it finished, and a prompt that already has a candidate from this job is not redone.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app import access, audit
from app.ai_labeling import repository as repo
from app.ai_labeling.schemas import Principle, PublicId
from app.errors import InvalidInput
from app.exports.writer import JsonlWriter
from app.inputs import ProjectRef, RequestModel
from app.jobs import service as jobs
from app.jobs.context import JobContext
from app.models import Job, JobKind, TaskKind, User, utcnow
from app.sampling.generation import Model, Sampling, generator
from trainer.contract import SCHEMA_VERSION

CHUNK_PROMPTS = 8
CRITIQUE = ("Critique request: identify specific ways in which the assistant's last response does not "
            "follow this principle: {principle}")
REVISION = ("Revision request: rewrite the assistant's last response so that it follows the principle "
            "({principle}), keeping what was good. Write only the revised response.")
Mode = Literal["candidates", "export"]


class ConstitutionalIn(RequestModel):
    project_id: ProjectRef = Field(description="a demonstration project: its prompts are answered and revised")
    model_id: PublicId = Field(description="the model that answers, critiques and revises")
    principles: list[Principle] = Field(min_length=1, max_length=50)
    mode: Mode = Field(default="candidates", description="offer the revisions to people, or export them as SFT data")
    max_prompts: int = Field(default=100, ge=1, le=100_000)
    max_tokens: int = Field(default=256, ge=1, le=4096)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    concurrency: int = Field(default=4, ge=1, le=64)


class ConstitutionalParams(BaseModel):
    project_id: str
    model_id: str
    principles: list[str]
    mode: Mode
    max_prompts: int
    max_tokens: int
    temperature: float
    seed: int
    concurrency: int


def submit(db: Session, actor: User, body: ConstitutionalIn) -> Job:
    project = access.writable_project(db, actor, body.project_id)
    if project.task_kind != TaskKind.demonstration:
        raise InvalidInput("The Constitutional AI stage writes demonstrations: choose a demonstration project.",
                           details=[{"field": "project_id", "message": "not a demonstration project"}])
    mv = repo.model_by_public_id(db, body.model_id)
    if mv is None or mv.retired:
        raise InvalidInput("model_id: no model version in use has this id.",
                           details=[{"field": "model_id", "message": "unknown or retired model version"}])
    # The job names the project by its public id, however the request named it.
    job = jobs.enqueue(db, JobKind.constitutional, {**body.model_dump(), "project_id": project.public_id}, actor=actor,
                       project_id=project.id)
    audit.record(db, actor, "project.constitutional", project.slug,
                 {"job": job.public_id, "model": mv.name, "mode": body.mode, "principles": len(body.principles)})
    return job


def critique_turn(principle: str) -> dict[str, str]:
    return {"role": "user", "content": CRITIQUE.format(principle=principle)}


def revision_turn(principle: str) -> dict[str, str]:
    return {"role": "user", "content": REVISION.format(principle=principle)}


def run(ctx: JobContext) -> dict[str, Any]:
    p = ConstitutionalParams.model_validate(ctx.params)
    tag = ctx.spec.public_id
    with ctx.session() as db:
        project = access.by_ref(db, access.writable(None), p.project_id)
        mv = repo.model_by_public_id(db, p.model_id)
        if project is None or mv is None:
            raise InvalidInput("The project or the model no longer exists.")
        project_id, slug, model = project.id, project.slug, Model.of(mv)
        prompts = repo.demonstration_prompts(db, project_id, tag, p.max_prompts)
    sampling = Sampling(temperature=p.temperature, top_p=1.0, max_tokens=p.max_tokens, k=1, seed=p.seed, job=tag)
    ctx.progress(0, len(prompts), stage="loading", message=f"loading {model.name}")
    generate = generator(ctx, model, sampling, concurrency=p.concurrency)
    rng = random.Random(p.seed)
    out_dir = ctx.job_dir / "sft-export"
    writer = None
    if p.mode == "export":
        out_dir.mkdir(parents=True, exist_ok=True)
        writer = JsonlWriter(out_dir / "sft.train.jsonl")
    done = 0
    for start in range(0, len(prompts), CHUNK_PROMPTS):
        ctx.check_stop({"prompts": done})
        chunk = prompts[start:start + CHUNK_PROMPTS]
        principles = [rng.choice(p.principles) for _ in chunk]
        answers = [r[0] for r in generate([messages for _, _, messages, _ in chunk])]
        asked = [[*messages, {"role": "assistant", "content": a}, critique_turn(pr)]
                 for (_, _, messages, _), a, pr in zip(chunk, answers, principles, strict=True)]
        critiques = [r[0] for r in generate(asked)]
        revisions = [r[0] for r in generate([
            [*conv, {"role": "assistant", "content": c}, revision_turn(pr)]
            for conv, c, pr in zip(asked, critiques, principles, strict=True)])]
        for (prompt_id, public_id, messages, category), pr, a, c, rev in zip(
                chunk, principles, answers, critiques, revisions, strict=True):
            trail = {"principle": pr, "initial": a, "critique": c, "job": tag}
            text = rev.strip()[:ctx.settings.max_text_chars]
            if not text:
                continue
            if writer is not None:
                writer.write({
                    "id": f"d_cai_{tag}_{public_id}", "messages": [*messages, {"role": "assistant", "content": text}],
                    "category": category, "labeler": f"ai:{model.name}", "labeler_kind": "ai",
                    "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "constitutional": trail,
                })
            else:
                with ctx.session() as db:
                    repo.add_candidate(db, project_id, prompt_id, f"cai-{tag}", text, model, trail)
        done += len(chunk)
        ctx.progress(done, len(prompts), stage="revising")
    result: dict[str, Any] = {"prompts": done, "model": model.name, "mode": p.mode}
    if writer is not None:
        info = writer.close()
        _manifest(out_dir, slug, model.name, info.records, info.sha256)
        result.update({"export": str(out_dir), "records": info.records})
    return result


def _manifest(folder: Path, slug: str, model: str, records: int, sha256: str) -> None:
    """The export's manifest, written last: the folder is complete once it is there."""
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "created_at": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "project": slug,
        "filters": {"ai": "only", "source": "constitutional", "model": model},
        "split": {"validation_fraction": 0.0, "seed": 0, "unit": "prompt"},
        "counts": {"judgements_by_source": {"human": 0, "ai": records}},
        "files": {"sft.train.jsonl": {"records": records, "sha256": sha256}},
    }
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
