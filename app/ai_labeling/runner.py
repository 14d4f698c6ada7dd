"""The ``ai-label`` job, inside its child process: an AI labeler judges a project's items.

Items are judged in chunks: the chunk's prompts go to the judge together (an endpoint
takes them with bounded concurrency and retries; a local model one after another), then
each item's judgement is validated and stored in its own short transaction, so a
cancelled or crashed run keeps what it finished, and a re-run judges only the items the
AI account has not judged yet.

Budget: ``max_calls`` model calls per run. An item is started only if all its calls fit
in what is left (a pair in both orders is 2 calls, plus 1 per answer where the project
asks for safety labels; a ranking of K answers judged pairwise K(K−1) calls, listwise 1),
so a run never stops half-way through an item.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from pydantic import BaseModel, Field

from app.ai_labeling import repository as repo
from app.ai_labeling import service
from app.ai_labeling.backends import JudgeModel, judge_for
from app.ai_labeling.judge import (
    Conversation,
    Reply,
    Setup,
    combine,
    copeland_order,
    decide,
    listwise_prompt,
    p_first,
    pair_prompt,
    parse_listwise,
    safety_prompt,
)
from app.ai_labeling.repository import ItemToJudge
from app.errors import InvalidInput
from app.jobs.context import JobContext
from app.labeling import repository as labeling_repo
from app.labeling.kinds import kind_of
from app.labeling.kinds.base import REASON_MAX
from app.models import RankingMethod, TaskKind

CHUNK_ITEMS = 8


class AiLabelParams(BaseModel):
    ai_labeler_id: str = Field(max_length=16)
    max_items: int = Field(ge=1)
    max_calls: int = Field(ge=1)
    concurrency: int = Field(ge=1, le=64)


@dataclass(frozen=True)
class Plan:
    labeler_id: int
    project_id: int
    task_kind: TaskKind
    model: JudgeModel
    setup: Setup
    both_orders: bool
    method: RankingMethod
    max_tokens: int
    item_ids: list[int]
    safety: bool = False  # the project asks for a safe / unsafe label on every answer


@dataclass(frozen=True)
class Call:
    """One prompt to the judge: answers ``shown`` (completion ids) as A, B, …"""

    conversation: Conversation
    shown: tuple[str, ...]
    pair: tuple[int, int] | None = None  # canonical indices (i < j) of a pairwise call
    flipped: bool = False  # j shown as A
    safety_of: str | None = None  # a safety call: the completion it asks about


@dataclass
class Outcome:
    body: dict[str, Any] | None  # None: the judge gave no usable verdict
    shown: list[str]
    method: str
    p_a: float | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)


def _plan(ctx: JobContext, p: AiLabelParams) -> Plan:
    with ctx.session() as db:
        labeler = service.get(db, p.ai_labeler_id)
        project = labeling_repo.project_by_id(db, labeler.project_id)
        mv = repo.model_by_id(db, labeler.model_version_id)
        model = JudgeModel(mv.name, mv.kind.value, mv.path, mv.base_url, mv.endpoint_model, mv.api_key)
        setup = Setup(labeler.template, project.guidelines or "", tuple(labeler.constitution), labeler.rationale)
        judgement_model = kind_of(project.task_kind).judgement_model
        item_ids = repo.items_to_judge(db, judgement_model, project.id, labeler.user_id, p.max_items)
        return Plan(labeler.id, project.id, project.task_kind, model, setup, labeler.both_orders,
                    labeler.ranking_method, labeler.max_tokens, item_ids,
                    safety=project.safety_labels and project.task_kind == TaskKind.pairwise)


def calls_for(plan: Plan, item: ItemToJudge) -> list[Call]:
    """Every prompt one item needs, in the order the judge is asked."""
    cids = [c for c, _ in item.completions]
    texts = [t for _, t in item.completions]
    if plan.task_kind == TaskKind.ranking and plan.method == RankingMethod.listwise:
        order = list(range(len(cids)))
        random.Random(item.public_id).shuffle(order)  # no answer is always shown first
        return [Call(listwise_prompt(plan.setup, item.prompt, [texts[i] for i in order]),
                     tuple(cids[i] for i in order))]
    calls = []
    for i, j in combinations(range(len(cids)), 2):
        calls.append(Call(pair_prompt(plan.setup, item.prompt, texts[i], texts[j]), (cids[i], cids[j]), (i, j)))
        if plan.both_orders:
            calls.append(Call(pair_prompt(plan.setup, item.prompt, texts[j], texts[i]), (cids[j], cids[i]),
                              (i, j), flipped=True))
    if plan.safety:
        calls.extend(Call(safety_prompt(plan.setup, item.prompt, text), (cid,), safety_of=cid)
                     for cid, text in item.completions)
    return calls


def _call_record(call: Call, reply: Reply) -> dict[str, Any]:
    p, soft = p_first(reply)
    return {"messages": call.conversation, "raw": reply.text, "shown": list(call.shown),
            "letter_logprobs": dict(reply.letter_logprobs) if reply.letter_logprobs else None,
            "p_first": p, "soft": soft}


def _reason(plan: Plan, replies: list[Reply]) -> str | None:
    if not plan.setup.rationale or not replies:
        return None
    return f"[AI rationale] {replies[0].text}"[:REASON_MAX]


def outcome(plan: Plan, item: ItemToJudge, calls: list[Call], replies: list[Reply]) -> Outcome:
    """The item's answer, as a person's submit body would carry it, from the judge's replies."""
    cids = [c for c, _ in item.completions]
    records = [_call_record(c, r) for c, r in zip(calls, replies, strict=True)]
    key = f"ai:{item.public_id}:{len(records)}"
    if calls and calls[0].pair is None and calls[0].safety_of is None:  # listwise
        shown = list(calls[0].shown)
        order = parse_listwise(replies[0].text, len(shown))
        body: dict[str, Any] | None = None if order is None else {
            "idempotency_key": key, "verdict": "ranked", "ranking": [[shown[i]] for i in order]}
        return Outcome(body, shown, "listwise", None, records)
    verdicts: dict[tuple[int, int], tuple[Reply, Reply | None]] = {}
    safety: dict[str, str | None] = {}
    for call, reply in zip(calls, replies, strict=True):
        if call.safety_of is not None:
            p_safe, _ = p_first(reply)
            safety[call.safety_of] = None if p_safe is None else "safe" if p_safe >= 0.5 else "unsafe"
            continue
        assert call.pair is not None
        forward, backward = verdicts.get(call.pair, (reply, None))
        verdicts[call.pair] = (forward, reply) if call.flipped else (reply, backward)
    combined = {pair: combine(f, b) for pair, (f, b) in verdicts.items()}
    orders = "both orders" if plan.both_orders else "one order"
    if plan.task_kind == TaskKind.pairwise:
        verdict = combined[(0, 1)]
        if not verdict.usable() or None in safety.values():
            return Outcome(None, cids, f"pairwise, {orders}", None, records)
        side, label = decide(verdict, item.public_id)
        body = {"idempotency_key": key, "verdict": "preferred", "preferred": cids[side],
                "margin_label": label.value, "reason": _reason(plan, replies)}
        if safety:
            body["safety"] = safety
        return Outcome(body, cids, f"pairwise, {orders}", verdict.p_x, records)
    usable = {pair: v.p_x for pair, v in combined.items() if v.p_x is not None}
    if not usable:
        return Outcome(None, cids, f"copeland, {orders}", None, records)
    groups = copeland_order(usable, len(cids))
    body = {"idempotency_key": key, "verdict": "ranked", "ranking": [[cids[i] for i in g] for g in groups]}
    return Outcome(body, cids, f"copeland, {orders}", None, records)


def _store(ctx: JobContext, plan: Plan, item: ItemToJudge, result: Outcome) -> str | None:
    assert result.body is not None
    with ctx.session() as db:
        labeler = repo.labeler_by_id(db, plan.labeler_id)
        project = labeling_repo.project_by_id(db, plan.project_id)
        if labeler is None:
            raise InvalidInput("The AI labeler was removed while its run was going on.")
        try:
            return service.record(
                db, labeler, project, item.item_id, item.category, result.shown, result.body,
                {"model": plan.model.name, "method": result.method, "p_a": result.p_a, "calls": result.calls,
                 "job": ctx.spec.public_id},
                ctx.settings.max_text_chars,
            )
        except InvalidInput as exc:
            ctx.log(f"item {item.public_id}: the AI answer did not pass validation: {exc}")
            db.rollback()
            return None


def run(ctx: JobContext) -> dict[str, Any]:
    params = AiLabelParams.model_validate(ctx.params)
    plan = _plan(ctx, params)
    total = len(plan.item_ids)
    result: dict[str, Any] = {"judged": 0, "no_verdict": 0, "invalid": 0, "calls": 0, "model": plan.model.name,
                              "budget_left_items": 0}
    if total == 0:
        return {**result, "note": "every item of the project is already judged by this AI labeler"}
    ctx.progress(0, total, stage="loading", message=f"loading {plan.model.name}")
    judge = judge_for(ctx.settings, plan.model, max_tokens=plan.max_tokens, rationale=plan.setup.rationale,
                      concurrency=params.concurrency)
    done = 0
    for start in range(0, total, CHUNK_ITEMS):
        ctx.check_stop(result)
        with ctx.session() as db:
            chunk = repo.items(db, plan.item_ids[start:start + CHUNK_ITEMS])
        asked: list[tuple[ItemToJudge, list[Call]]] = []
        for item in chunk:
            calls = calls_for(plan, item)
            if result["calls"] + sum(len(c) for _, c in asked) + len(calls) > params.max_calls:
                break
            asked.append((item, calls))
        if not asked:
            result["budget_left_items"] = total - done
            break
        flat = [c for _, calls in asked for c in calls]
        listwise = all(c.pair is None and c.safety_of is None for c in flat)
        replies = judge([c.conversation for c in flat], not listwise)
        result["calls"] += len(flat)
        at = 0
        for item, calls in asked:
            answer = outcome(plan, item, calls, replies[at:at + len(calls)])
            at += len(calls)
            if answer.body is None:
                result["no_verdict"] += 1
            elif _store(ctx, plan, item, answer) is None:
                result["invalid"] += 1
            else:
                result["judged"] += 1
        done += len(asked)
        ctx.progress(done, total, stage="judging",
                     metrics={"judged": float(result["judged"]), "calls": float(result["calls"])})
        if len(asked) < len(chunk):
            result["budget_left_items"] = total - done
            break
    return result
