"""The task-kind table: every kind has its module, page and script, and the API
documents each kind's own submit body and answer."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from app.labeling.kinds import kind_of, table
from app.models import TaskKind

ROOT = Path(__file__).resolve().parents[2]


class TestTheKindTable:
    def test_every_task_kind_has_a_module_with_its_page_and_script(self) -> None:
        assert set(table()) == set(TaskKind)
        for task_kind in TaskKind:
            kind = kind_of(task_kind)
            assert kind.task_kind == task_kind
            page = ROOT / "templates" / kind.template
            scripts = re.findall(r'src="/static/js/(work-[a-z-]+\.js)"', page.read_text())
            assert len(scripts) == 1, f"{page} names no work script"
            assert (ROOT / "static" / "js" / scripts[0]).exists()

    def test_only_kinds_that_show_completions_take_completions(self) -> None:
        takes = {k for k in TaskKind if kind_of(k).item_plan.takes_completions}
        assert takes == {TaskKind.ranking, TaskKind.pairwise, TaskKind.evaluation}


class TestTheDocument:
    def test_the_submit_body_is_documented_as_one_schema_per_kind(self, client: TestClient) -> None:
        doc = client.get("/api/v1/openapi.json").json()
        body = doc["paths"]["/api/v1/assignments/{aid}/submit"]["post"]["requestBody"]
        refs = {s["$ref"].rsplit("/", 1)[1] for s in body["content"]["application/json"]["schema"]["anyOf"]}
        assert refs == {"PromptWritingIn", "DemonstrationIn", "RankingIn", "PairwiseIn"}
        ranking = doc["components"]["schemas"]["RankingIn"]
        assert ranking["additionalProperties"] is False and "verdict" in ranking["required"]

    def test_a_judgements_answer_is_documented_as_one_model_per_kind(self, client: TestClient) -> None:
        schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
        answer = schemas["JudgementOut"]["properties"]["answer"]
        refs = {s["$ref"].rsplit("/", 1)[1] for s in answer["anyOf"]}
        assert refs == {"PromptWritingAnswerOut", "DemonstrationAnswerOut", "RankingAnswerOut", "PairwiseAnswerOut"}
        assert schemas["JudgementSummary"]["properties"]["round"]["type"] == "integer"
