"""How an AI labeler judges: the prompts it is sent, how its replies are read, and how
the verdicts of both orders become one soft preference and a margin label. Pure
functions, no model, no SQL.

Following RLAIF (Lee et al. 2023, arXiv:2309.00267, §2.1–2.2 and §4):

- every pair is judged in **both orders** (the canonical answer shown first, then
  second) and the two preferences averaged, which cancels a judge's position bias:
  a judge that always answers "A" gives P = 1 in one order and 0 in the other, so
  0.5 — no preference — instead of a spurious win for whichever answer came first;
- an optional **rationale** (chain of thought) is written before the verdict;
- where the model exposes log-probabilities the verdict is **soft**: P(A better) =
  softmax over the two verdict tokens ("A", "B") at the verdict position.

Soft preference → margin label (``margin_for``), where p = P(the preferred answer is
better) ≥ 0.5 after combining both orders:

==========================  =================
p                           margin label
==========================  =================
p ≥ 0.90                    significantly_better
0.75 ≤ p < 0.90             better
0.60 ≤ p < 0.75             slightly_better
0.50 ≤ p < 0.60             negligibly_better (also "unsure")
==========================  =================

The steps are Llama 2's four margins (Touvron et al. 2023, §3.2.2) read as confidence:
the judge's probability that one answer is better. Without log-probabilities a verdict
is hard (p ∈ {0, 1} per order): both orders agreeing gives ``better`` (two consistent
votes, strength unknown), disagreeing gives ``negligibly_better``. At exactly 0.5 the
side is a coin flip seeded by the item, so a judge with no preference favours neither
canonical position.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from app.models import MarginLabel

Conversation = list[dict[str, str]]

LETTERS = "ABCDEFGHI"
# (lowest p, label), highest first; see the table above.
MARGIN_THRESHOLDS: tuple[tuple[float, MarginLabel], ...] = (
    (0.90, MarginLabel.significantly_better),
    (0.75, MarginLabel.better),
    (0.60, MarginLabel.slightly_better),
    (0.50, MarginLabel.negligibly_better),
)
HARD_AGREE = MarginLabel.better
HARD_DISAGREE = MarginLabel.negligibly_better
PLACEHOLDERS = ("guidelines", "principles", "prompt", "answer_a", "answer_b", "answers", "instruction")

DEFAULT_TEMPLATE = """You are judging answers written by an AI assistant, as a careful human labeler would.

{guidelines}
{principles}
Conversation so far:
{prompt}

Answer A:
{answer_a}

Answer B:
{answer_b}

{instruction}"""

LISTWISE_TEMPLATE = """You are ranking answers written by an AI assistant, as a careful human labeler would.

{guidelines}
{principles}
Conversation so far:
{prompt}

{answers}

{instruction}"""

VERDICT_ONLY = 'Which answer is better? Reply with one letter, "A" or "B", and nothing else.'
WITH_RATIONALE = (
    "Which answer is better? First explain your reasoning in a few sentences, then end with "
    'a last line of the form "Verdict: A" or "Verdict: B".'
)
LISTWISE_INSTRUCTION = (
    "Rank all the answers from best to worst. End with a last line of the form "
    '"Ranking: C > A > B" naming every answer once.'
)
VERDICT_CUE = "Verdict:"
# Projects that collect safety labels (Llama 2's safety reward model) get one more call per
# answer, read with the same letter machinery: "A" safe, "B" unsafe.
SAFETY_TEMPLATE = """You are checking an answer written by an AI assistant, as a careful human labeler would.

{principles}
Conversation so far:
{prompt}

Answer:
{answer_a}

Is this answer safe: free of harmful, dangerous, hateful, sexual or illegal content and advice?
Reply with one letter: "A" if it is safe, "B" if it is unsafe."""


def fill(template: str, values: Mapping[str, str]) -> str:
    """The template with its ``{name}`` placeholders replaced. Only the known names are
    touched, and nothing else is interpreted (unlike ``str.format``, which would let an
    admin's template read attributes of the values)."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return values.get(name, match.group(0)) if name in PLACEHOLDERS else match.group(0)

    return re.sub(r"\{(\w+)\}", one, template)


def render_prompt(messages: Sequence[Mapping[str, str]]) -> str:
    return "\n".join(f"[{m['role']}] {m['content']}" for m in messages)


def principles_text(principles: Sequence[str]) -> str:
    if not principles:
        return ""
    listed = "\n".join(f"{i}. {p}" for i, p in enumerate(principles, 1))
    return f"Judge by these principles:\n{listed}\n"


@dataclass(frozen=True)
class Setup:
    """What every prompt of one AI labeler shares."""

    template: str
    guidelines: str
    principles: tuple[str, ...]
    rationale: bool


def pair_prompt(setup: Setup, prompt: Sequence[Mapping[str, str]], first: str, second: str) -> Conversation:
    """The judge's conversation for two answers, ``first`` shown as A."""
    text = fill(setup.template, {
        "guidelines": setup.guidelines.strip(),
        "principles": principles_text(setup.principles),
        "prompt": render_prompt(prompt),
        "answer_a": first,
        "answer_b": second,
        "instruction": WITH_RATIONALE if setup.rationale else VERDICT_ONLY,
    })
    return [{"role": "user", "content": text}]


def safety_prompt(setup: Setup, prompt: Sequence[Mapping[str, str]], answer: str) -> Conversation:
    """Is one answer safe? "A" safe, "B" unsafe (the verdict letters of every judge)."""
    text = fill(SAFETY_TEMPLATE, {
        "principles": principles_text(setup.principles), "prompt": render_prompt(prompt), "answer_a": answer})
    return [{"role": "user", "content": text}]


def listwise_prompt(setup: Setup, prompt: Sequence[Mapping[str, str]], answers: Sequence[str]) -> Conversation:
    shown = "\n\n".join(f"Answer {LETTERS[i]}:\n{a}" for i, a in enumerate(answers))
    template = setup.template if "{answers}" in setup.template else LISTWISE_TEMPLATE
    text = fill(template, {
        "guidelines": setup.guidelines.strip(),
        "principles": principles_text(setup.principles),
        "prompt": render_prompt(prompt),
        "answers": shown,
        "instruction": LISTWISE_INSTRUCTION,
    })
    return [{"role": "user", "content": text}]


# ------------------------------------------------------------------ reading replies


@dataclass(frozen=True)
class Reply:
    """What a judge said: its text and, where the model exposes them, the log-probabilities
    of the verdict tokens "A" and "B" at the verdict position."""

    text: str
    letter_logprobs: Mapping[str, float] | None = None


_VERDICT = re.compile(r"verdict\s*[:=]\s*\**\s*(?:answer\s+)?([AB])\b", re.IGNORECASE)
_BARE = re.compile(r"^\W*(?:answer\s+)?([AB])\b", re.IGNORECASE)


def hard_letter(text: str) -> str | None:
    """The letter a reply names as better: the last "Verdict: X", else a reply that starts
    with the letter; None when it names neither."""
    found = _VERDICT.findall(text)
    if found:
        return str(found[-1]).upper()
    bare = _BARE.match(text.strip())
    return bare.group(1).upper() if bare else None


def p_first(reply: Reply) -> tuple[float | None, bool]:
    """(P(the answer shown first is better), soft?) from one reply; (None, False) when the
    reply gives no verdict."""
    lp = reply.letter_logprobs
    if lp and "A" in lp and "B" in lp:
        top = max(lp["A"], lp["B"])
        a, b = math.exp(lp["A"] - top), math.exp(lp["B"] - top)
        return a / (a + b), True
    if lp and ("A" in lp) != ("B" in lp):
        # Only one letter among the top log-probabilities: the other is less likely than
        # every listed token; treat it as certain, like a hard verdict.
        return (1.0 if "A" in lp else 0.0), True
    letter = hard_letter(reply.text)
    if letter is None:
        return None, False
    return (1.0 if letter == "A" else 0.0), False


@dataclass(frozen=True)
class PairVerdict:
    """The combined verdict on a pair, by canonical position (x = position 0)."""

    p_x: float | None  # P(x better); None when no order gave a verdict
    soft: bool
    orders: int  # how many orders gave a verdict
    agree: bool  # both orders (where two) named the same answer

    def usable(self) -> bool:
        return self.p_x is not None


def combine(forward: Reply, backward: Reply | None) -> PairVerdict:
    """``forward`` showed x as A; ``backward`` (both-order judging) showed y as A, so its
    P(A) is P(y better) and counts as 1 − P(x better)."""
    p1, soft1 = p_first(forward)
    if backward is None:
        return PairVerdict(p1, soft1, int(p1 is not None), True)
    q, soft2 = p_first(backward)
    p2 = None if q is None else 1.0 - q
    found = [p for p in (p1, p2) if p is not None]
    if not found:
        return PairVerdict(None, False, 0, False)
    agree = p1 is not None and p2 is not None and ((p1 > 0.5 and p2 > 0.5) or (p1 < 0.5 and p2 < 0.5))
    return PairVerdict(sum(found) / len(found), soft1 and soft2, len(found), agree)


def margin_for(p_preferred: float) -> MarginLabel:
    """The margin label of a soft preference ``p_preferred`` ≥ 0.5 (the table above)."""
    p = round(p_preferred, 9)  # 1 − 0.1 is 0.8999…: a threshold is met at its printed value
    for low, label in MARGIN_THRESHOLDS:
        if p >= low:
            return label
    return MarginLabel.negligibly_better


def decide(verdict: PairVerdict, seed: str) -> tuple[int, MarginLabel]:
    """(preferred canonical position 0 or 1, margin label) of a usable verdict."""
    assert verdict.p_x is not None
    p = verdict.p_x
    side = random.Random(seed).randrange(2) if p == 0.5 else 0 if p > 0.5 else 1
    if verdict.soft:
        return side, margin_for(max(p, 1.0 - p))
    if verdict.orders == 2:
        return side, HARD_AGREE if verdict.agree else HARD_DISAGREE
    return side, HARD_DISAGREE if p == 0.5 else HARD_AGREE


# ------------------------------------------------------------------ rankings of K answers


def copeland_order(p: Mapping[tuple[int, int], float], k: int) -> list[list[int]]:
    """Indices best first (tie groups) from pairwise P(i better than j), i < j: a point for
    each answer one beats (p > 0.5), half for a tie (Copeland's method). Soft scores
    break no ties on purpose: the order says only what the majority of pairs says."""
    score = [0.0] * k
    for i, j in combinations(range(k), 2):
        value = p.get((i, j), 0.5)
        score[i] += 1.0 if value > 0.5 else 0.5 if value == 0.5 else 0.0
        score[j] += 1.0 if value < 0.5 else 0.5 if value == 0.5 else 0.0
    tiers: dict[float, list[int]] = {}
    for index in range(k):
        tiers.setdefault(score[index], []).append(index)
    return [tiers[s] for s in sorted(tiers, reverse=True)]


_RANKING = re.compile(r"ranking\s*[:=]\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def parse_listwise(text: str, k: int) -> list[int] | None:
    """Indices best first from the last "Ranking: C > A > B" line; None unless it names
    every one of the ``k`` answers exactly once."""
    lines = _RANKING.findall(text)
    if not lines:
        return None
    letters = re.findall(r"\b([A-I])\b", lines[-1].upper())
    order = [LETTERS.index(letter) for letter in letters]
    if sorted(order) != list(range(k)):
        return None
    return order
