"""A small client for OpenAI-compatible chat-completions endpoints (vLLM, TGI,
llama.cpp server, Ollama, OpenAI itself).

``base_url`` is everything before ``/chat/completions`` (e.g.
``http://gpu-1:8000/v1``). Requests run concurrently but never more than
``max_concurrency`` at a time (an ``asyncio.Semaphore``: a sampling job must not
flood a shared inference server). Each request has its own timeout; 429, 5xx,
timeouts and connection errors are retried with exponential backoff and jitter
(honouring ``Retry-After`` up to ``max_backoff``); other 4xx are not retried.

Errors: every failure surfaces as :class:`EndpointError` with a sentence a
person can act on. The API key is sent only in the ``Authorization`` header; it
is scrubbed from every message this module produces and never logged.

Safety (app/registry/safety.py): before every attempt the host is resolved and
checked against the operator's :class:`EndpointPolicy`, and the request goes to
the checked address. Redirects are never followed. A foreign answer is never
echoed: only the status and, from a JSON error body, a short excerpt of printable
text. A refused connection, a silent port and a timeout read the same, so the
client cannot be used to tell open ports from closed ones.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from app.registry.safety import EndpointPolicy, UnsafeEndpoint, pin

__all__ = ["ChatParams", "ChatReply", "EndpointClient", "EndpointError", "EndpointPolicy", "TokenLogprob"]

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
EXCERPT_CHARS = 120


def _excerpt(response: httpx.Response) -> str:
    """A short, printable excerpt of a JSON error message; nothing from other bodies."""
    if "json" not in response.headers.get("content-type", ""):
        return ""
    try:
        data = json.loads(response.content[:16_384])
    except (ValueError, RecursionError):
        return ""
    error = data.get("error", data.get("detail")) if isinstance(data, dict) else None
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str):
        return ""
    text = " ".join("".join(c if c.isprintable() else " " for c in message).split())
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


class EndpointError(Exception):
    """The endpoint could not give an answer (after retries, where retrying makes sense)."""


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability and the most likely alternatives."""

    token: str
    logprob: float
    top: dict[str, float]


@dataclass(frozen=True)
class ChatReply:
    content: str
    tokens: list[TokenLogprob] | None  # None: the endpoint returned no log-probabilities


def _token_logprobs(choice: Any) -> list[TokenLogprob] | None:
    """``choices[0].logprobs.content`` as OpenAI documents it; None when absent or malformed
    (a foreign answer never fails a reply that has its content)."""
    try:
        content = choice.get("logprobs", {}).get("content") if isinstance(choice, dict) else None
        if not isinstance(content, list):
            return None
        out = []
        for entry in content:
            top = {str(t["token"]): float(t["logprob"]) for t in entry.get("top_logprobs") or []}
            out.append(TokenLogprob(str(entry["token"]), float(entry["logprob"]), top))
        return out
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class ChatParams:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256


class EndpointClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: EndpointPolicy,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self._api_key = api_key or None
        self.max_concurrency = max_concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._transport = transport
        self.policy = policy

    def __repr__(self) -> str:  # never show the key
        return f"EndpointClient({self.url!r}, model={self.model!r}, key={'set' if self._api_key else 'not set'})"

    def _scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self.max_backoff, max(0.0, float(retry_after)))
            except ValueError:
                pass
        base: float = min(self.max_backoff, self.backoff * (2**attempt))
        return base * (0.5 + random.random() / 2)

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        last = "no attempt was made"
        for attempt in range(self.max_retries + 1):
            retry_after: str | None = None
            try:
                target = await pin(self.url, self.policy)
            except UnsafeEndpoint as exc:
                raise EndpointError(f"{self.url} is not allowed: {exc}.") from None
            try:
                response = await client.post(
                    target.url, json=body, headers={**self._headers(), **target.headers},
                    extensions=target.extensions, timeout=self.timeout,
                )
            except (httpx.TimeoutException, httpx.TransportError):
                # The same words for a refused, a silent and a slow port.
                last = f"no answer (no connection, or nothing within {self.timeout:g} s)"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        data = response.json()
                    except (ValueError, RecursionError):  # not JSON, or nested past the parser
                        data = None
                    if not isinstance(data, dict):
                        raise EndpointError(f"{self.url} answered with something that is not a JSON object.")
                    return data
                excerpt = self._scrub(_excerpt(response))
                said = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
                if 300 <= status < 400:
                    raise EndpointError(f"{self.url} answered with a redirect ({said}); register the final URL.")
                if status not in RETRY_STATUS:
                    hint = " Check the API key." if status in (401, 403) else ""
                    raise EndpointError(f"{self.url} refused the request with {said}.{hint}")
                last = said
                retry_after = response.headers.get("retry-after")
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise EndpointError(
            f"{self.url} gave no answer after {self.max_retries + 1} attempts; last: {last}."
        )

    async def _chat(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore,
        messages: Sequence[dict[str, str]], params: ChatParams, top_logprobs: int | None = None,
    ) -> ChatReply:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(messages),
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        if top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = top_logprobs
        async with gate:
            data = await self._post(client, body)
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EndpointError(
                f"{self.url} answered without choices[0].message.content; is it an "
                "OpenAI-compatible chat-completions endpoint?"
            ) from exc
        # PostgreSQL cannot store NUL; a model that emits one loses nothing else.
        return ChatReply(str(content or "").replace("\x00", ""), _token_logprobs(choice))

    async def _many(
        self, conversations: Sequence[Sequence[dict[str, str]]], params: ChatParams, top_logprobs: int | None
    ) -> list[ChatReply]:
        gate = asyncio.Semaphore(self.max_concurrency)
        limits = httpx.Limits(max_connections=self.max_concurrency)
        async with httpx.AsyncClient(transport=self._transport, limits=limits, follow_redirects=False,
                                     trust_env=False) as client:
            tasks = [self._chat(client, gate, conv, params, top_logprobs) for conv in conversations]
            return list(await asyncio.gather(*tasks))

    async def chat_many(
        self, conversations: Sequence[Sequence[dict[str, str]]], params: ChatParams
    ) -> list[str]:
        """One reply per conversation, in order; at most ``max_concurrency`` in flight."""
        return [r.content for r in await self._many(conversations, params, None)]

    def replies_sync(
        self, conversations: Sequence[Sequence[dict[str, str]]], params: ChatParams, *, top_logprobs: int | None
    ) -> list[ChatReply]:
        """``chat_many`` with the replies' token log-probabilities where the endpoint gives
        them (OpenAI's ``logprobs`` / ``top_logprobs``; many servers return none)."""
        return asyncio.run(self._many(conversations, params, top_logprobs))

    def chat_many_sync(
        self, conversations: Sequence[Sequence[dict[str, str]]], params: ChatParams
    ) -> list[str]:
        """For synchronous callers (a worker child, a threadpool route): own event loop."""
        return asyncio.run(self.chat_many(conversations, params))
