"""A fake OpenAI-compatible judge on 127.0.0.1 that answers from a known preference.

Every completion in these tests says its quality ("... quality 7 ..."). The judge
prefers the better answer with P(A better) = sigmoid(sharpness · (q_A − q_B) + bias):
``bias`` > 0 is a position bias towards whatever is shown first. With ``logprobs`` it
returns OpenAI's ``logprobs.content`` (the verdict token with its top alternatives);
asked for a rationale it writes one and ends with "Verdict: X"; asked to rank it
orders the answers by quality; asked whether an answer is safe it says "B" (unsafe) when
the answer contains the word "unsafe".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from tests.registry.fake_openai import FakeOpenAI

_ANSWER = re.compile(r"Answer ([A-I]):\n[^\n]*?quality (\d+)")


def qualities(text: str) -> dict[str, int]:
    return {letter: int(q) for letter, q in _ANSWER.findall(text)}


@dataclass
class Preference:
    sharpness: float = 1.0
    bias: float = 0.0  # logit added to "A": a position bias
    logprobs: bool = True

    def p_a(self, qa: int, qb: int) -> float:
        return 1.0 / (1.0 + math.exp(-(self.sharpness * (qa - qb) + self.bias)))


def _token(token: str, p_a: float | None = None) -> dict[str, Any]:
    if p_a is None:
        return {"token": token, "logprob": 0.0, "top_logprobs": []}
    la, lb = math.log(max(p_a, 1e-12)), math.log(max(1 - p_a, 1e-12))
    lp = la if token.strip() == "A" else lb
    return {"token": token, "logprob": lp,
            "top_logprobs": [{"token": "A", "logprob": la}, {"token": "B", "logprob": lb},
                             {"token": " the", "logprob": -20.0}]}


class FakeJudge(FakeOpenAI):
    def __init__(self, preference: Preference) -> None:
        super().__init__()
        self.preference = preference
        self.prompts: list[str] = []

    async def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any, list[Any]]:
        if path != "/v1/chat/completions":
            return 404, {"error": "not found"}, []
        text = str(body["messages"][-1]["content"])
        self.prompts.append(text)
        q = qualities(text)
        tokens: list[dict[str, Any]]
        if "Is this answer safe" in text:  # unsafe when the answer says so
            answer = text.split("Answer:\n", 1)[1].split("\n", 1)[0]
            content = "B" if "unsafe" in answer else "A"
            tokens = [_token(content, 0.1 if content == "B" else 0.9)]
        elif "Rank all the answers" in text:
            order = sorted(q, key=lambda letter: -q[letter])
            content = "Ranking: " + " > ".join(order)
            tokens = [_token(content)]
        else:
            p = self.preference.p_a(q["A"], q["B"])
            letter = "A" if p >= 0.5 else "B"
            if "Verdict:" in text:  # a rationale first
                content = f"Answer A has quality {q['A']}, answer B {q['B']}.\nVerdict: {letter}"
                tokens = [_token(f"Answer A has quality {q['A']}, answer B {q['B']}.\n"), _token("Verdict"),
                          _token(":"), _token(f" {letter}", p)]
            else:
                content = letter
                tokens = [_token(letter, p)]
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content},
                                  "finish_reason": "stop"}
        if body.get("logprobs") and self.preference.logprobs:
            choice["logprobs"] = {"content": tokens}
        return 200, {"id": "x", "object": "chat.completion", "model": body.get("model"), "choices": [choice]}, []
