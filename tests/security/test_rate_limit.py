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


def _app_with(settings: object, **overrides: object) -> TestClient:
    from app.main import create_app

    changed = settings.model_copy(update=overrides)  # type: ignore[attr-defined]
    return TestClient(create_app(changed, migrate=False), base_url="http://testserver")


class TestTheLimitKeysOnTheNormalisedAddress:
    """Padding and capitals used to make a fresh limit each: unlimited guesses."""

    def test_padded_and_capitalised_variants_share_one_limit(self, client: TestClient) -> None:
        variants = ["victim@example.org", "  victim@example.org", "VICTIM@example.org  ",
                    "\tVictim@Example.org", " victim@example.org "]
        codes = [client.post("/api/v1/auth/login", json={"email": variants[i % len(variants)],
                                                          "password": f"guess-number-{i}"}).status_code
                 for i in range(12)]
        assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]

    def test_the_login_form_counts_against_the_same_limit(self, client: TestClient) -> None:
        for i in range(10):
            client.post("/api/v1/auth/login", json={"email": " a@example.org", "password": f"wrong-{i:04}"})
        r = client.post("/login", data={"email": "A@EXAMPLE.ORG ", "password": "wrong-again"})
        assert r.status_code == 429

    def test_a_forwarded_for_header_is_ignored_unless_the_proxy_is_trusted(self, settings: object) -> None:
        with _app_with(settings) as c:
            codes = [c.post("/api/v1/auth/login", json={"email": "x@example.org", "password": f"wrong-{i:04}"},
                            headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(11)]
        assert codes[-1] == 429  # a new forwarded address per try did not reset the limit

    def test_a_trusted_proxy_forwards_the_client_address(self, settings: object) -> None:
        with _app_with(settings, forwarded_allow_ips="testclient") as c:
            codes = [c.post("/api/v1/auth/login", json={"email": "x@example.org", "password": f"wrong-{i:04}"},
                            headers={"X-Forwarded-For": f"10.0.0.{i}"}).status_code for i in range(11)]
            assert codes == [401] * 11  # eleven clients, one try each
            same = [c.post("/api/v1/auth/login", json={"email": "x@example.org", "password": "wrong-0000"},
                           headers={"X-Forwarded-For": "10.0.0.99"}).status_code for _ in range(11)]
            assert same[-1] == 429
