"""Prompt and completion uploads: every line checked, all or nothing, items made."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Completion, ItemCompletion, Prompt, Role, TaskKind, WorkItem
from tests.factories import bearer, make_user
from tests.projects.builders import project


def _jsonl(*records: Any) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records).encode() + b"\n"


def _upload(client: TestClient, headers: dict[str, str], pid: str, what: str, data: bytes, name: str = "f.jsonl", dry_run: bool = False) -> Any:
    return client.post(
        f"/api/v1/projects/{pid}/{what}:import?dry_run={str(dry_run).lower()}",
        files={"file": (name, data)},
        headers=headers,
    )


def _count(db: Session, model: type) -> int:
    return int(db.scalar(select(func.count()).select_from(model)) or 0)


class TestPromptImport:
    def test_a_good_file_stores_every_prompt_and_makes_demonstration_items(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration, overlap=2)
        data = _jsonl(
            {"id": "q1", "text": "Explain TCP vs UDP.", "category": "open_qa"},
            "",
            {"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]},
        )
        r = _upload(client, admin, proj.public_id, "prompts", data)
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["ok"], body["lines"], body["valid"], body["stored"], body["items"]) == (True, 2, 2, 2, 2)
        assert body["preview"][0]["prompt"] == [{"role": "user", "content": "Explain TCP vs UDP."}]
        rows = db.scalars(select(Prompt).order_by(Prompt.id)).all()
        assert rows[0].external_id == "q1" and rows[1].messages[0]["role"] == "system"
        assert set(db.scalars(select(WorkItem.required))) == {2}

    def test_one_bad_line_stores_nothing_and_is_named(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        data = _jsonl({"text": "fine"}, '{"text": "broken"', {"text": "fine too"})
        r = _upload(client, admin, proj.public_id, "prompts", data)
        assert r.status_code == 422
        body = r.json()
        assert body["errors"][0]["line"] == 2 and "not valid JSON" in body["errors"][0]["message"]
        assert "nothing was stored" in body["detail"]
        assert _count(db, Prompt) == 0 and _count(db, WorkItem) == 0

    def test_every_kind_of_bad_line_gets_an_actionable_message(self, client: TestClient, db: Session, settings: Any) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration, categories=["chat"])
        too_long = "x" * (settings.max_text_chars + 1)
        data = _jsonl(
            {"id": "a", "text": "ok"},
            {"id": "a", "text": "again"},
            {"text": "hi", "category": "poetry"},
            {"prompt": [{"role": "robot", "content": "hi"}]},
            {"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
            {"text": too_long},
            {"text": "hi", "extra": 1},
            [1, 2],
        ) + b'{"text": "caf\xe9"}\n'
        r = _upload(client, admin, proj.public_id, "prompts", data, dry_run=True)
        assert r.status_code == 200
        body = r.json()
        messages = {e["line"]: e["message"] for e in body["errors"]}
        assert (body["ok"], body["lines"], body["error_count"], body["valid"]) == (False, 9, 8, 1)
        assert "duplicate id 'a' (first used on line 1)" in messages[2]
        assert "unknown category 'poetry'" in messages[3] and "chat" in messages[3]
        assert "role 'robot'" in messages[4]
        assert "last message must be the user's" in messages[5]
        assert f"the limit is {settings.max_text_chars}" in messages[6]
        assert "unknown field 'extra'" in messages[7]
        assert "one JSON object" in messages[8]
        assert "UTF-8" in messages[9]

    def test_ids_already_in_the_project_are_refused(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        assert _upload(client, admin, proj.public_id, "prompts", _jsonl({"id": "q1", "text": "a"})).status_code == 200
        r = _upload(client, admin, proj.public_id, "prompts", _jsonl({"id": "q2", "text": "b"}, {"id": "q1", "text": "c"}))
        assert r.status_code == 422
        assert r.json()["errors"] == [{"line": 2, "message": "a prompt with id 'q1' is already in this project"}]
        assert _count(db, Prompt) == 1

    def test_a_dry_run_reports_but_stores_nothing(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        r = _upload(client, admin, proj.public_id, "prompts", _jsonl({"text": "a"}), dry_run=True)
        assert (r.status_code, r.json()["ok"], r.json()["stored"]) == (200, True, 0)
        assert _count(db, Prompt) == 0

    def test_csv_rows_become_plain_text_prompts(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        data = b'\xef\xbb\xbfid,prompt,category\nc1,"Write a haiku,\nabout rain",generation\n,Summarise this,\n'
        r = _upload(client, admin, proj.public_id, "prompts", data, name="p.csv")
        assert r.status_code == 200, r.text
        rows = db.scalars(select(Prompt).order_by(Prompt.id)).all()
        assert rows[0].messages == [{"role": "user", "content": "Write a haiku,\nabout rain"}]
        assert (rows[0].external_id, rows[0].category, rows[1].category) == ("c1", "generation", None)

    def test_csv_errors_name_the_row_start_line(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        data = b'prompt,category\n"multi\nline",chat\n,chat\nok,nope\n'
        body = _upload(client, admin, proj.public_id, "prompts", data, name="p.csv").json()
        assert [(e["line"], e["message"][:20]) for e in body["errors"]] == [
            (4, "prompt is empty"), (5, "unknown category 'no"),
        ]

    def test_a_file_that_is_neither_jsonl_nor_csv_is_refused(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        r = _upload(client, admin, proj.public_id, "prompts", b"hi", name="p.xlsx")
        assert r.status_code == 422 and ".jsonl nor .csv" in r.json()["detail"]

    def test_labelers_cannot_import(self, client: TestClient, db: Session) -> None:
        proj = project(db, TaskKind.demonstration)
        r = _upload(client, bearer(db, make_user(db)), proj.public_id, "prompts", _jsonl({"text": "a"}))
        assert r.status_code == 403


class TestCompletionImport:
    def _prompts(self, client: TestClient, admin: dict[str, str], pid: str) -> None:
        r = _upload(client, admin, pid, "prompts", _jsonl({"id": "q1", "text": "a"}, {"id": "q2", "text": "b"}))
        assert r.status_code == 200, r.text

    def test_completions_make_ranking_items_with_k_completions(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        pid = project(db, TaskKind.ranking, k_min=4, k_max=5).public_id
        self._prompts(client, admin, pid)
        q2 = db.scalar(select(Prompt.public_id).where(Prompt.external_id == "q2"))
        db.rollback()  # end the read: SQLite lets one writer at a time
        lines = [{"prompt_id": "q1", "content": f"answer {i}", "model": "sft-v1"} for i in range(6)]
        lines += [{"prompt_id": q2, "content": f"other {i}", "model": "sft-v1", "id": f"o{i}"} for i in range(3)]
        r = _upload(client, admin, pid, "completions", _jsonl(*lines))
        assert r.status_code == 200, r.text
        assert (r.json()["stored"], r.json()["items"]) == (9, 1)
        assert _count(db, ItemCompletion) == 5
        assert set(db.scalars(select(Completion.model_name))) == {"sft-v1"}

    def test_unknown_prompts_and_duplicate_ids_store_nothing(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.pairwise)
        self._prompts(client, admin, proj.public_id)
        data = _jsonl(
            {"prompt_id": "q1", "content": "a", "model": "m", "id": "c1"},
            {"prompt_id": "q1", "content": "b", "model": "m", "id": "c1"},
            {"prompt_id": "nope", "content": "c", "model": "m"},
            {"prompt_id": "q2", "content": "d"},
        )
        r = _upload(client, admin, proj.public_id, "completions", data)
        assert r.status_code == 422
        messages = {e["line"]: e["message"] for e in r.json()["errors"]}
        assert "duplicate id 'c1'" in messages[2]
        assert "'nope' names no prompt in this project" in messages[3]
        assert '"model" is missing' in messages[4]
        assert _count(db, Completion) == 0 and _count(db, WorkItem) == 0

    def test_projects_without_completions_refuse_them(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        r = _upload(client, admin, proj.public_id, "completions", _jsonl({"prompt_id": "x", "content": "a", "model": "m"}))
        assert r.status_code == 422 and "demonstration project" in r.json()["detail"]


class TestEveryParserErrorIsALineError:
    """Lines that crashed the parser (500, also with dry_run) or were silently merged."""

    def _prompts(self, client: TestClient, db: Session, data: bytes, name: str, dry_run: bool) -> Any:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.demonstration)
        return _upload(client, admin, proj.public_id, "prompts", data, name=name, dry_run=dry_run)

    def test_a_line_nested_50000_deep(self, client: TestClient, db: Session) -> None:
        data = _jsonl({"id": "a", "text": "fine"}, '{"text": ' + "[" * 50_000 + "]" * 50_000 + "}")
        for dry_run in (True, False):
            r = self._prompts(client, db, data, "deep.jsonl", dry_run)
            assert r.status_code == (200 if dry_run else 422), r.text
            assert [(e["line"], "nested too deeply" in e["message"]) for e in r.json()["errors"]] == [(2, True)]
        assert _count(db, Prompt) == 0

    def test_an_id_of_5000_digits(self, client: TestClient, db: Session) -> None:
        data = _jsonl('{"id": ' + "7" * 5000 + ', "text": "x"}', '{"id": ' + "7" * 200 + ', "text": "y"}')
        for dry_run in (True, False):
            r = self._prompts(client, db, data, "ids.jsonl", dry_run)
            assert r.status_code == (200 if dry_run else 422), r.text
            assert [e["line"] for e in r.json()["errors"]] == [1, 2]
        assert _count(db, Prompt) == 0

    def test_a_completion_naming_its_prompt_by_a_huge_number(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        proj = project(db, TaskKind.ranking)
        data = _jsonl('{"prompt_id": ' + "9" * 5000 + ', "content": "c", "model": "m"}')
        r = _upload(client, admin, proj.public_id, "completions", data)
        assert r.status_code == 422 and r.json()["errors"][0]["line"] == 1

    def test_an_unterminated_csv_quote_names_its_line(self, client: TestClient, db: Session) -> None:
        data = b'id,prompt\nx1,"never closed\nx2,ok\n'
        for dry_run in (True, False):
            r = self._prompts(client, db, data, "q.csv", dry_run)
            assert r.status_code == (200 if dry_run else 422), r.text
            body = r.json()
            assert body["errors"][0]["line"] == 2 and "never closed" in body["errors"][0]["message"]
        assert _count(db, Prompt) == 0

    def test_a_quoted_cell_over_several_lines_that_is_closed_is_one_prompt(self, client: TestClient, db: Session) -> None:
        data = b'id,prompt\nx1,"two\nlines"\nx2,ok\n'
        r = self._prompts(client, db, data, "q.csv", False)
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 2
