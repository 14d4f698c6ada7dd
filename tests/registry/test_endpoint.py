"""The OpenAI-compatible client against a fake server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from app.registry.endpoint import ChatParams, EndpointClient, EndpointError
from app.registry.safety import EndpointPolicy
from tests.registry.fake_openai import FakeOpenAI, fake_openai_server

PARAMS = ChatParams(temperature=0.5, top_p=1.0, max_tokens=16)
LOOPBACK = EndpointPolicy(hosts=frozenset({"127.0.0.1"}))


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, FakeOpenAI]]:
    with fake_openai_server() as pair:
        yield pair


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def client(url: str, **kw: object) -> EndpointClient:
    options: dict[str, object] = {"backoff": 0.01, "timeout": 5.0, "policy": LOOPBACK}
    options.update(kw)
    return EndpointClient(url, "fake-model", "sk-secret-123", **options)  # type: ignore[arg-type]


class TestEndpointClient:
    def test_answers_come_back_in_request_order(self, server: tuple[str, FakeOpenAI]) -> None:
        url, _ = server
        replies = client(url).chat_many_sync([user("a"), user("slow:0.1"), user("c")], PARAMS)
        assert replies[0].startswith("reply to a") and replies[2].startswith("reply to c")
        assert "t=0.5" in replies[1]

    def test_never_more_requests_in_flight_than_the_limit(
        self, server: tuple[str, FakeOpenAI]
    ) -> None:
        url, app = server
        app.state.max_in_flight = 0
        started = time.monotonic()
        client(url, max_concurrency=3).chat_many_sync([user("slow:0.2")] * 12, PARAMS)
        assert app.state.max_in_flight == 3
        assert time.monotonic() - started >= 0.8  # 12 requests / 3 lanes x 0.2 s

    def test_server_errors_are_retried_until_an_answer(
        self, server: tuple[str, FakeOpenAI]
    ) -> None:
        url, app = server
        reply = client(url, max_retries=3).chat_many_sync([user("fail500:2:x1")], PARAMS)[0]
        assert reply.startswith("reply to fail500")
        assert app.state.seen["x1"] == 3

    def test_rate_limits_are_retried(self, server: tuple[str, FakeOpenAI]) -> None:
        url, app = server
        client(url, max_retries=2).chat_many_sync([user("rate429:2:x2")], PARAMS)
        assert app.state.seen["x2"] == 3

    def test_gives_up_after_the_last_retry_with_the_last_error(
        self, server: tuple[str, FakeOpenAI]
    ) -> None:
        url, app = server
        with pytest.raises(EndpointError, match=r"after 3 attempts; last: HTTP 500"):
            client(url, max_retries=2).chat_many_sync([user("fail500:9:x3")], PARAMS)
        assert app.state.seen["x3"] == 3

    def test_a_request_that_hangs_times_out(self, server: tuple[str, FakeOpenAI]) -> None:
        url, _ = server
        started = time.monotonic()
        with pytest.raises(EndpointError, match=r"no answer \(no connection, or nothing within 0\.3 s\)"):
            client(url, timeout=0.3, max_retries=1).chat_many_sync([user("hang")], PARAMS)
        assert time.monotonic() - started < 3

    def test_a_refused_key_is_not_retried_and_not_echoed(
        self, server: tuple[str, FakeOpenAI]
    ) -> None:
        url, app = server
        before = app.state.requests
        with pytest.raises(EndpointError, match=r"HTTP 401.*Check the API key") as err:
            client(url).chat_many_sync([user("deny")], PARAMS)
        assert app.state.requests == before + 1
        assert "sk-secret-123" not in str(err.value)
        assert "sk-secret-123" not in repr(client(url))

    def test_sends_the_key_as_a_bearer_header(self, server: tuple[str, FakeOpenAI]) -> None:
        url, app = server
        client(url).chat_many_sync([user("hello")], PARAMS)
        assert app.state.auth_headers[-1] == "Bearer sk-secret-123"

    def test_an_unreachable_server_is_a_clear_error(self) -> None:
        with pytest.raises(EndpointError, match=r"no answer \(no connection, or nothing within"):
            client("http://127.0.0.1:9/v1", max_retries=1).chat_many_sync([user("x")], PARAMS)
