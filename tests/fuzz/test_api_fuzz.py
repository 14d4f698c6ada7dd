"""Property-based fuzzing of every API operation with schemathesis, as an admin and as a
labeler, on SQLite and PostgreSQL.

Every operation gets ``RANKWISE_FUZZ_CASES`` generated requests per role and mode
(schema-conforming and schema-violating), half of them aimed at objects that exist
(a project with work, a user, a model, a job, an export) so that they get past the
404s. Each answer must be:

- no 5xx (``not_a_server_error``),
- a documented status with the documented content type and body schema
  (``status_code_conformance``, ``content_type_conformance``,
  ``response_schema_conformance``),
- for a request that breaks the schema, a 4xx (``negative_data_rejection``).

The budget is fixed so CI stays within minutes; ``RANKWISE_FUZZ_CASES=200`` runs the
long campaign (≥ 20,000 requests per database). Failures are collected, not shrunk,
and reported together with a curl line to reproduce each.

Endpoint registration is fuzzed too: the server resolves and checks every URL it is
given (app/registry/safety.py). Here name resolution is replaced by one that knows no
names and the address policy by one that allows none, so no generated URL can make
the test send a single packet off this machine.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from app.models import Role, TaskKind
from app.registry import safety
from tests.factories import (
    add_member,
    bearer,
    make_labelers,
    make_project,
    make_ranking_item,
    make_user,
)

CASES = int(os.environ.get("RANKWISE_FUZZ_CASES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class Campaign:
    cases: int = 0
    failures: dict[str, str] = field(default_factory=dict)  # one per (operation, kind of failure)
    statuses: dict[int, int] = field(default_factory=dict)
    unbreakable: list[str] = field(default_factory=list)


@pytest.fixture
def no_outside_world(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution knows no names and the address policy allows no address."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "the fuzz test resolves no names")

    async def refuse_async(*_args: Any, **_kwargs: Any) -> Any:
        refuse()

    monkeypatch.setattr(safety.socket, "getaddrinfo", refuse)
    monkeypatch.setattr(safety.asyncio.AbstractEventLoop, "getaddrinfo", refuse_async, raising=False)
    monkeypatch.setattr(safety.EndpointPolicy, "allows", lambda *_a, **_k: False)


def _world(db: Session, client: Any) -> tuple[dict[str, dict[str, str]], dict[str, list[str]]]:
    """The callers and the objects that exist: path parameters can name them."""
    admin = make_user(db, Role.admin)
    labeler = make_user(db, Role.labeler)
    other = make_labelers(db, 1)[0]
    headers = {"admin": bearer(db, admin), "labeler": bearer(db, labeler)}
    projects = [make_project(db, kind.value) for kind in TaskKind]
    ranking = projects[[k for k in TaskKind].index(TaskKind.ranking)]
    for project in projects:
        add_member(db, project, labeler, other)
    for _ in range(3):
        make_ranking_item(db, ranking)
    task = client.post(f"/api/v1/projects/{ranking.public_id}/next", headers=headers["labeler"])
    assignment = task.json()["assignment_id"] if task.status_code == 200 else "none"
    token = client.post(f"/api/v1/users/{other.public_id}/tokens", json={"name": "t"}, headers=headers["admin"])
    job = client.post("/api/v1/jobs", json={"kind": "diagnostic", "params": {}}, headers=headers["admin"])
    export = client.post(f"/api/v1/projects/{ranking.public_id}/exports", json={}, headers=headers["admin"])
    known = {
        "pid": [p.public_id for p in projects] + [ranking.slug],
        "uid": [other.public_id],
        "tid": [token.json()["id"]],
        "jid": [job.json()["id"]],
        "eid": [export.json()["id"]] if export.status_code in (200, 201) else [],
        "other": [export.json()["id"]] if export.status_code in (200, 201) else [],
        "aid": [assignment],
    }
    return headers, known


def _path_values(operation: Any, known: dict[str, list[str]]) -> st.SearchStrategy[dict[str, str]] | None:
    names = [p.name for p in operation.path_parameters]
    if not names or any(not known.get(n) for n in names):
        return None
    return st.fixed_dictionaries({n: st.sampled_from(known[n]) for n in names})


def _runner(operation: Any, mode: GenerationMode, strategy: st.SearchStrategy[Any], campaign: Campaign,
            on_case: Callable[[], None]) -> Callable[[], None]:
    checks = [*CHECKS, negative_data_rejection] if mode == GenerationMode.NEGATIVE else CHECKS

    @given(case=strategy)
    @hypothesis_settings(max_examples=CASES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case: Any) -> None:
        on_case()
        campaign.cases += 1
        response = case.call()
        campaign.statuses[response.status_code] = campaign.statuses.get(response.status_code, 0) + 1
        # 413 refuses a body over the size limit before its schema is looked at: a rejection
        # too, though schemathesis does not count it as one.
        wanted = CHECKS if response.status_code == 413 else checks
        try:
            case.validate_response(response, checks=wanted)
        except (Exception, BaseExceptionGroup) as exc:  # collected, not shrunk: all are reported
            for failure in getattr(exc, "exceptions", [exc]):
                key = f"{operation.label} [{mode.value}] {type(failure).__name__}"
                campaign.failures.setdefault(key, f"{failure}\n{case.as_curl_command()}"[:2000])

    return run


def _fuzz(app: FastAPI, headers: dict[str, str], known: dict[str, list[str]], campaign: Campaign,
          on_case: Callable[[], None]) -> None:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in MODES:
            strategies = [operation.as_strategy(generation_mode=mode, headers=headers)]
            fixed = _path_values(operation, known)
            if fixed is not None:
                strategies.append(fixed.flatmap(lambda values, mode=mode, operation=operation: operation.as_strategy(
                    generation_mode=mode, headers=headers, path_parameters=values)))
            try:
                _runner(operation, mode, st.one_of(strategies), campaign, on_case)()
            except Unsatisfiable:
                # Nothing to break: no parameters and no body (e.g. GET /auth/me in negative mode).
                campaign.unbreakable.append(f"{operation.label} [{mode.value}]")


def _report(campaign: Campaign, backend: str, seconds: float) -> str:
    lines = [f"{backend}: {campaign.cases} cases in {seconds:.0f} s, statuses {dict(sorted(campaign.statuses.items()))}"]
    lines += [f"--- {key}\n{text}" for key, text in sorted(campaign.failures.items())]
    return "\n".join(lines)


@pytest.mark.usefixtures("no_outside_world")
@pytest.mark.timeout(0)
def test_every_operation_as_admin_and_labeler(
    app: FastAPI, client: Any, db: Session, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    headers, known = _world(db, client)
    campaign = Campaign()
    started = time.monotonic()
    for role in ("admin", "labeler"):
        # The submit limiter (240/min) is meant for people, not for a fuzzer.
        _fuzz(app, headers[role], known, campaign, on_case=app.state.submit_limiter.reset)
    report = _report(campaign, backend, time.monotonic() - started)
    with capsys.disabled():
        print("\n" + report.split("\n", 1)[0])
    assert campaign.cases >= CASES * 2
    assert not campaign.failures, report
