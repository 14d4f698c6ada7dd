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
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["ChatParams", "EndpointClient", "EndpointError"]

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class EndpointError(Exception):
    """The endpoint could not give an answer (after retries, where retrying makes sense)."""


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
        base = min(self.max_backoff, self.backoff * (2**attempt))
        return base * (0.5 + random.random() / 2)

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
        last = "no attempt was made"
        for attempt in range(self.max_retries + 1):
            retry_after: str | None = None
            try:
                response = await client.post(self.url, json=body, headers=self._headers(),
                                             timeout=self.timeout)
            except httpx.TimeoutException:
                last = f"no answer within {self.timeout:g} s"
            except httpx.TransportError as exc:
                last = f"could not connect ({type(exc).__name__})"
            else:
                if response.status_code == 200:
                    try:
                        data: dict[str, Any] = response.json()
                    except ValueError as exc:
                        raise EndpointError(f"{self.url} answered with something that is not JSON.") from exc
                    return data
                snippet = self._scrub(response.text[:200])
                if response.status_code not in RETRY_STATUS:
                    hint = " Check the API key." if response.status_code in (401, 403) else ""
                    raise EndpointError(
                        f"{self.url} refused the request with HTTP {response.status_code}: "
                        f"{snippet}.{hint}"
                    )
                last = f"HTTP {response.status_code}: {snippet}"
                retry_after = response.headers.get("retry-after")
            if attempt < self.max_retries:
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise EndpointError(
            f"{self.url} gave no answer after {self.max_retries + 1} attempts; last: {last}."
        )

    async def _chat(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore,
        messages: Sequence[dict[str, str]], params: ChatParams,
    ) -> str:
        body = {
            "model": self.model,
            "messages": list(messages),
            "temperature": params.temperature,
            "top_p": params.top_p,
            "max_tokens": params.max_tokens,
        }
        async with gate:
            data = await self._post(client, body)
        try:
            content = data["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise EndpointError(
                f"{self.url} answered without choices[0].message.content; is it an "
                "OpenAI-compatible chat-completions endpoint?"
            ) from exc
        return str(content or "")

    async def chat_many(
        self, conversations: Sequence[Sequence[dict[str, str]]], params: ChatParams
    ) -> list[str]:
        """One reply per conversation, in order; at most ``max_concurrency`` in flight."""
        gate = asyncio.Semaphore(self.max_concurrency)
        limits = httpx.Limits(max_connections=self.max_concurrency)
        async with httpx.AsyncClient(transport=self._transport, limits=limits) as client:
            tasks = [self._chat(client, gate, conv, params) for conv in conversations]
            return list(await asyncio.gather(*tasks))

    async def chat(self, messages: Sequence[dict[str, str]], params: ChatParams) -> str:
        return (await self.chat_many([messages], params))[0]

    def chat_many_sync(
        self, conversations: Sequence[Sequence[dict[str, str]]], params: ChatParams
    ) -> list[str]:
        """For synchronous callers (a worker child, a threadpool route): own event loop."""
        return asyncio.run(self.chat_many(conversations, params))
