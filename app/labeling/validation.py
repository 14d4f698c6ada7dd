"""Check a whole submission against its task before anything is stored.

Every problem is collected (not just the first) so the labeler can fix them all at
once; the error names the completion, the field and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import InvalidInput
from app.labeling.schemas import MessageIn, SubmitIn
from app.models import MarginLabel, Project, Safety, TaskKind

KIND_FIELDS: dict[TaskKind, frozenset[str]] = {
    TaskKind.prompt_writing: frozenset({"messages", "category"}),
    TaskKind.demonstration: frozenset({"turns"}),
    TaskKind.ranking: frozenset({"verdict", "ranking", "ratings", "flags", "reason"}),
    TaskKind.pairwise: frozenset({"verdict", "preferred", "margin_label", "safety", "reason"}),
    TaskKind.evaluation: frozenset({"verdict", "preferred", "margin_label", "safety", "reason"}),
}
COMMON_FIELDS = frozenset({"idempotency_key", "seconds"})
PROMPT_ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Task:
    """What the labeler was shown: the item's completions in their shown order."""

    project: Project
    shown: list[str]
    category: str | None
    max_chars: int


@dataclass
class PromptAnswer:
    messages: list[dict[str, str]]
    category: str | None


@dataclass
class DemoAnswer:
    turns: list[dict[str, str]]


@dataclass
class RankingAnswer:
    verdict: str
    groups: list[list[str]] = field(default_factory=list)
    ratings: dict[str, int] = field(default_factory=dict)
    flags: dict[str, list[str]] = field(default_factory=dict)
    reason: str | None = None


@dataclass
class PairAnswer:
    verdict: str
    preferred: str | None = None
    margin_label: MarginLabel | None = None
    safety: dict[str, Safety] = field(default_factory=dict)
    reason: str | None = None


Answer = PromptAnswer | DemoAnswer | RankingAnswer | PairAnswer


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str | None]] = []

    def add(self, where: str | None, message: str) -> None:
        self.items.append({"field": where, "message": message})

    def raise_if_any(self) -> None:
        if not self.items:
            return
        first = str(self.items[0]["message"])
        detail = first if len(self.items) == 1 else f"{len(self.items)} problems; first: {first}"
        raise InvalidInput(detail, details=self.items)


def validate(body: SubmitIn, task: Task) -> Answer:
    problems = _Problems()
    kind = task.project.task_kind
    allowed = KIND_FIELDS[kind] | COMMON_FIELDS
    for name in sorted(body.model_fields_set - allowed):
        if getattr(body, name) is not None:
            problems.add(name, f"'{name}' does not belong to a {kind.value.replace('_', ' ')} task; remove it.")
    answer: Answer
    if kind == TaskKind.prompt_writing:
        answer = _prompt(body, task, problems)
    elif kind == TaskKind.demonstration:
        answer = _demonstration(body, task, problems)
    elif kind == TaskKind.ranking:
        answer = _ranking(body, task, problems)
    else:
        answer = _pair(body, task, problems)
    problems.raise_if_any()
    return answer


def _text(value: str, where: str, task: Task, problems: _Problems, what: str = "text") -> str:
    text = value.strip()
    if not text:
        problems.add(where, f"The {what} is empty; write something before submitting.")
    elif len(text) > task.max_chars:
        problems.add(
            where, f"The {what} has {len(text)} characters; shorten it to at most {task.max_chars}."
        )
    return text


def _prompt(body: SubmitIn, task: Task, problems: _Problems) -> PromptAnswer:
    messages: list[dict[str, str]] = []
    if not body.messages:
        problems.add("messages", "Write the prompt: at least one user message is needed.")
    for i, msg in enumerate(body.messages or []):
        if msg.role not in PROMPT_ROLES:
            problems.add(f"messages.{i}.role", f"Message {i + 1} has role '{msg.role}'; use system, user or assistant.")
        messages.append({"role": msg.role, "content": _text(msg.content, f"messages.{i}.content", task, problems, f"message {i + 1}")})
    if messages and messages[-1]["role"] != "user":
        problems.add("messages", "A prompt must end with a user message (the turn the model answers).")
    if len(messages) > 1 and not task.project.multi_turn:
        user_turns = sum(1 for m in messages if m["role"] != "system")
        if user_turns > 1:
            problems.add("messages", "This project takes single-turn prompts: write one user message.")
    category = body.category or task.category
    if category is not None and category not in task.project.categories:
        problems.add("category", f"Unknown category '{category}'; pick one of: {', '.join(task.project.categories)}.")
    return PromptAnswer(messages=messages, category=category)


def _demonstration(body: SubmitIn, task: Task, problems: _Problems) -> DemoAnswer:
    turns: list[MessageIn] = body.turns or []
    if not turns:
        problems.add("turns", "Write the assistant's reply before submitting.")
    if len(turns) > 1 and not task.project.multi_turn:
        problems.add("turns", "This project takes a single reply: send exactly one assistant turn.")
    out: list[dict[str, str]] = []
    for i, turn in enumerate(turns):
        expected = "assistant" if i % 2 == 0 else "user"
        if turn.role != expected:
            problems.add(
                f"turns.{i}.role",
                f"Turn {i + 1} must be '{expected}': turns alternate, starting with the assistant.",
            )
        out.append({"role": turn.role, "content": _text(turn.content, f"turns.{i}.content", task, problems, f"turn {i + 1}")})
    if turns and turns[-1].role != "assistant":
        problems.add("turns", "The conversation must end with an assistant turn.")
    return DemoAnswer(turns=out)


def _known(cid: str, task: Task, where: str, problems: _Problems) -> bool:
    if cid in task.shown:
        return True
    problems.add(where, f"Completion '{cid}' is not one of the answers shown in this task.")
    return False


def _ranking(body: SubmitIn, task: Task, problems: _Problems) -> RankingAnswer:
    if body.verdict == "not_rankable":
        reason = _text(body.reason or "", "reason", task, problems, "reason")
        for name in ("ranking", "ratings", "flags"):
            if getattr(body, name):
                problems.add(name, f"A task marked not rankable takes no '{name}'; remove it or rank the answers.")
        return RankingAnswer(verdict="not_rankable", reason=reason)
    if body.verdict != "ranked":
        problems.add("verdict", "Set verdict to 'ranked' (with a ranking) or 'not_rankable' (with a reason).")
        return RankingAnswer(verdict="ranked")
    groups: list[list[str]] = []
    seen: set[str] = set()
    for g, group in enumerate(body.ranking or []):
        if not group:
            problems.add(f"ranking.{g}", f"Tie group {g + 1} is empty; remove it.")
        for cid in group:
            if not _known(cid, task, f"ranking.{g}", problems):
                continue
            if cid in seen:
                problems.add(f"ranking.{g}", f"Completion '{cid}' appears twice in the ranking; place each answer once.")
            seen.add(cid)
        if group:
            groups.append(list(group))
    for cid in task.shown:
        if cid not in seen:
            problems.add("ranking", f"The ranking is missing completion '{cid}': rank every answer.")
    ratings: dict[str, int] = {}
    for cid, value in (body.ratings or {}).items():
        if _known(cid, task, f"ratings.{cid}", problems):
            ratings[cid] = value
    allowed = set(task.project.flags)
    flags: dict[str, list[str]] = {}
    for cid, names in (body.flags or {}).items():
        if not _known(cid, task, f"flags.{cid}", problems):
            continue
        for name in names:
            if name not in allowed:
                problems.add(f"flags.{cid}", f"Unknown flag '{name}'; use one of: {', '.join(task.project.flags)}.")
        if len(set(names)) != len(names):
            problems.add(f"flags.{cid}", f"A flag is repeated for completion '{cid}'; give each flag once.")
        flags[cid] = list(dict.fromkeys(names))
    return RankingAnswer(verdict="ranked", groups=groups, ratings=ratings, flags=flags)


def _pair(body: SubmitIn, task: Task, problems: _Problems) -> PairAnswer:
    safety: dict[str, Safety] = {}
    for cid, label in (body.safety or {}).items():
        if _known(cid, task, f"safety.{cid}", problems):
            safety[cid] = label
    if task.project.safety_labels:
        for cid in task.shown:
            if cid not in safety:
                problems.add("safety", f"Label completion '{cid}' as safe or unsafe: this project asks for both.")
    if body.verdict == "both_bad":
        if body.preferred or body.margin_label:
            problems.add("verdict", "'both_bad' takes no preferred answer or margin; remove them.")
        reason = body.reason.strip() if body.reason else None
        if reason and len(reason) > task.max_chars:
            problems.add("reason", f"The reason is longer than {task.max_chars} characters; shorten it.")
        return PairAnswer(verdict="both_bad", safety=safety, reason=reason or None)
    if body.verdict != "preferred":
        problems.add("verdict", "Set verdict to 'preferred' (with the better answer) or 'both_bad'.")
        return PairAnswer(verdict="preferred")
    if not body.preferred:
        problems.add("preferred", "Pick the better answer: 'preferred' must be one of the two completion ids.")
    elif body.preferred not in task.shown:
        problems.add("preferred", f"Completion '{body.preferred}' is not one of the two answers shown.")
    if body.margin_label is None:
        problems.add(
            "margin_label",
            "Say how much better: significantly_better, better, slightly_better or negligibly_better.",
        )
    return PairAnswer(
        verdict="preferred",
        preferred=body.preferred,
        margin_label=body.margin_label,
        safety=safety,
        reason=(body.reason or "").strip() or None,
    )
