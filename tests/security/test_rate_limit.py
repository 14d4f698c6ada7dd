"""Login attempts are rate limited per client and e-mail."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.errors import RateLimited
from app.security.rate_limit import RateLimiter


@pytest.fixture
def backend() -> str:
    return "sqlite"


class TestRateLimiter:
    def test_refuses_past_the_limit_and_says_when_to_retry(self) -> None:
        limiter = RateLimiter(limit=3, window_seconds=60)
        for _ in range(3):
            limiter.hit("k")
        with pytest.raises(RateLimited) as err:
            limiter.hit("k")
        assert 1 <= err.value.retry_after <= 61
        limiter.hit("other")  # keys are independent


class TestLoginRateLimit:
    def test_the_eleventh_login_attempt_in_a_minute_gets_429(self, client: TestClient) -> None:
        body = {"email": "ghost@example.org", "password": "not-the-password"}
        codes = [client.post("/api/v1/auth/login", json=body).status_code for _ in range(11)]
        assert codes[:10] == [401] * 10
        assert codes[10] == 429
        r = client.post("/api/v1/auth/login", json=body)
        assert int(r.headers["retry-after"]) > 0
