"""The rankwise command, called in-process against the test databases."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.cli import main
from app.models import ItemCompletion, Project, Prompt, Role, TaskKind, User, WorkItem
from app.security.passwords import verify_password
from tests.projects.builders import project


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> Path:
    monkeypatch.setenv("RANKWISE_DATABASE_URL", database_url)
    monkeypatch.setenv("RANKWISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RANKWISE_ENV", "test")
    monkeypatch.setenv("RANKWISE_START_WORKER", "false")
    return tmp_path


class TestUserCommands:
    def test_create_user_prints_a_generated_password_that_works(
        self, env: Path, db: Session, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["create-user", "Root@Example.org", "--role", "admin"]) == 0
        password = capsys.readouterr().out.split("password: ")[1].strip()
        user = db.scalar(select(User).where(User.email == "root@example.org"))
        assert user is not None and user.role == Role.admin
        assert verify_password(user.password_hash, password)

    def test_a_duplicate_user_exits_2_with_the_reason(self, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["create-user", "a@example.org", "--password", "long enough pw"]) == 0
        assert main(["create-user", "a@example.org"]) == 2
        assert "already exists" in capsys.readouterr().err

    def test_create_token_prints_a_token_that_authenticates(
        self, env: Path, db: Session, capsys: pytest.CaptureFixture[str]
    ) -> None:
        main(["create-user", "bot@example.org", "--password", "long enough pw"])
        capsys.readouterr()
        assert main(["create-token", "bot@example.org", "sampler"]) == 0
        raw = capsys.readouterr().out.strip()
        user = auth_service.user_for_api_token(db, raw)
        assert user is not None and user.email == "bot@example.org"


class TestImportCommands:
    def test_a_good_file_is_stored(self, env: Path, db: Session) -> None:
        slug = project(db, TaskKind.demonstration).slug
        path = env / "prompts.jsonl"
        path.write_text(json.dumps({"text": "Hello"}) + "\n" + json.dumps({"text": "Bye"}) + "\n")
        assert main(["import-prompts", slug, str(path)]) == 0
        assert db.scalar(select(func.count()).select_from(WorkItem)) == 2

    def test_errors_print_file_and_line_and_store_nothing(
        self, env: Path, db: Session, capsys: pytest.CaptureFixture[str]
    ) -> None:
        slug = project(db, TaskKind.ranking).slug
        prompts = env / "p.csv"
        prompts.write_text("id,prompt\nq1,Hello\n")
        assert main(["import-prompts", slug, str(prompts)]) == 0
        comps = env / "c.jsonl"
        comps.write_text(json.dumps({"prompt_id": "q1", "content": "hi", "model": "m"}) + "\n{oops\n")
        assert main(["import-completions", slug, str(comps)]) == 2
        err = capsys.readouterr().err
        assert f"{comps}:2: not valid JSON" in err and "nothing was stored" in err
        db.rollback()
        assert db.scalar(select(func.count()).select_from(Prompt)) == 1
        assert main(["import-completions", slug, str(env / "missing.jsonl")]) == 2


class TestDemo:
    def test_seeding_twice_is_idempotent_and_ranking_items_have_4_to_9_completions(
        self, env: Path, db: Session, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["demo", "--no-serve"]) == 0
        first = capsys.readouterr().out
        counts = [db.scalar(select(func.count()).select_from(m)) for m in (User, Project, Prompt, WorkItem)]
        db.rollback()
        assert main(["demo", "--no-serve"]) == 0
        second = capsys.readouterr().out
        assert [db.scalar(select(func.count()).select_from(m)) for m in (User, Project, Prompt, WorkItem)] == counts
        assert counts[:2] == [4, 5]  # an admin, two labelers and an engineer; one project per kind
        assert {p.task_kind for p in db.scalars(select(Project))} == set(TaskKind)
        sizes = db.execute(
            select(func.count())
            .select_from(ItemCompletion)
            .join(WorkItem, WorkItem.id == ItemCompletion.item_id)
            .join(Project, Project.id == WorkItem.project_id)
            .where(Project.task_kind == TaskKind.ranking)
            .group_by(ItemCompletion.item_id)
        ).scalars().all()
        assert len(sizes) >= 5 and all(4 <= n <= 9 for n in sizes)
        # New passwords on every run: the printed ones always work.
        assert first.split("admin@example.com")[1].split()[0] != second.split("admin@example.com")[1].split()[0]


class TestTrain:
    def test_train_forwards_every_argument_to_the_trainer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[list[str]] = []
        fake = types.ModuleType("trainer.cli")

        def fake_main(argv: list[str]) -> int:
            seen.append(argv)
            return 0

        fake.main = fake_main  # type: ignore[attr-defined]
        package = types.ModuleType("trainer")
        package.cli = fake  # type: ignore[attr-defined]
        # Stand-ins for the real trainer, which would import torch.
        monkeypatch.setitem(sys.modules, "trainer", package)
        monkeypatch.setitem(sys.modules, "trainer.cli", fake)
        assert main(["train", "sft", "--help", "--data", "x"]) == 0
        assert seen == [["sft", "--help", "--data", "x"]]
