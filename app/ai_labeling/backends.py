"""The two kinds of judge behind one function: conversations in, replies out.

* a **local folder** (transformers, in the job's child process): the rationale, when
  asked for, is generated greedily; the verdict is read from the next-token
  distribution after the cue "Verdict:" (trainer/judging.py), so a local judge always
  gives a soft preference;
* an **OpenAI-compatible endpoint** (app/registry/endpoint.py: bounded concurrency,
  retries with backoff, the operator's EndpointPolicy checked before every request):
  replies at temperature 0 with ``top_logprobs`` asked for; where the endpoint returns
  them, the verdict letter's alternatives give the soft preference, else the verdict is
  read from the text (hard).

transformers and the trainer are imported inside the local judge only: the web
process never imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from app.ai_labeling.judge import VERDICT_CUE, Conversation, Reply, hard_letter
from app.config import Settings
from app.errors import InvalidInput
from app.registry.endpoint import ChatParams, EndpointClient, EndpointPolicy, TokenLogprob

# (conversations, pairwise verdict wanted?) -> one reply each
Judge = Callable[[list[Conversation], bool], list[Reply]]
TOP_LOGPROBS = 5
VERDICT_LETTERS = ("A", "B")


@dataclass(frozen=True)
class JudgeModel:
    """A model version's values, read in a short transaction and kept after it."""

    name: str
    kind: str  # ModelKind value
    path: str | None
    base_url: str | None
    endpoint_model: str | None
    api_key: str | None


def _merge(logprobs: list[float]) -> float:
    top = max(logprobs)
    return top + math.log(sum(math.exp(x - top) for x in logprobs))


def verdict_logprobs(tokens: list[TokenLogprob] | None, rationale: bool) -> dict[str, float] | None:
    """log P("A"), log P("B") at the verdict token of an endpoint's reply: its first
    token without a rationale, else the last token that spells a verdict letter."""
    if not tokens:
        return None
    candidates = [t for t in tokens if t.token.strip()]
    if not candidates:
        return None
    if rationale:
        letters = [t for t in candidates if t.token.strip() in VERDICT_LETTERS]
        if not letters:
            return None
        at = letters[-1]
    else:
        at = candidates[0]
    found: dict[str, list[float]] = {}
    for token, lp in {**at.top, at.token: at.logprob}.items():
        letter = token.strip()
        if letter in VERDICT_LETTERS and math.isfinite(lp):
            found.setdefault(letter, []).append(lp)
    return {letter: _merge(values) for letter, values in found.items()} or None


def endpoint_judge(settings: Settings, model: JudgeModel, *, max_tokens: int, rationale: bool,
                   concurrency: int) -> Judge:
    if not model.base_url or not model.endpoint_model:
        raise InvalidInput(f"Model version {model.name!r} has no endpoint URL or model name.")
    client = EndpointClient(model.base_url, model.endpoint_model, model.api_key,
                            max_concurrency=concurrency, policy=EndpointPolicy.of(settings))
    params = ChatParams(temperature=0.0, top_p=1.0, max_tokens=max_tokens)

    def judge(conversations: list[Conversation], verdict: bool) -> list[Reply]:
        replies = client.replies_sync(conversations, params, top_logprobs=TOP_LOGPROBS if verdict else None)
        return [Reply(r.content, verdict_logprobs(r.tokens, rationale) if verdict else None) for r in replies]

    return judge


def local_judge(model: JudgeModel, *, max_tokens: int, rationale: bool) -> Judge:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from trainer.generation import sample_completions
    from trainer.judging import letter_logprobs

    if not model.path:
        raise InvalidInput(f"Model version {model.name!r} has no folder.")
    lm = AutoModelForCausalLM.from_pretrained(model.path)
    lm.eval()  # type: ignore[no-untyped-call]  # transformers returns an untyped model here
    tokenizer = AutoTokenizer.from_pretrained(model.path)

    def write(conversations: list[Conversation]) -> list[str]:
        texts = sample_completions(lm, tokenizer, conversations, 1, temperature=0.0, max_new_tokens=max_tokens)
        return [t[0] for t in texts]

    def judge(conversations: list[Conversation], verdict: bool) -> list[Reply]:
        if not verdict:
            return [Reply(text) for text in write(conversations)]
        reasons = write(conversations) if rationale else [""] * len(conversations)
        out = []
        for conversation, reason in zip(conversations, reasons, strict=True):
            # A rationale that already names its verdict is cut there: the cue comes once.
            cut = reason.split(VERDICT_CUE)[0].rstrip() if hard_letter(reason) else reason.rstrip()
            prefix = f"{cut}\n{VERDICT_CUE}" if cut else VERDICT_CUE
            lp = letter_logprobs(lm, tokenizer, conversation, prefix, VERDICT_LETTERS)
            letter = max(lp, key=lambda k: lp[k]) if lp else "?"
            out.append(Reply(f"{prefix} {letter}", lp or None))
        return out

    return judge


def judge_for(settings: Settings, model: JudgeModel, *, max_tokens: int, rationale: bool,
              concurrency: int) -> Judge:
    if model.kind == "local":
        return local_judge(model, max_tokens=max_tokens, rationale=rationale)
    return endpoint_judge(settings, model, max_tokens=max_tokens, rationale=rationale, concurrency=concurrency)
