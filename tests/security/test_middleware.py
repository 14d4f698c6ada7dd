"""Protective middleware: body-size limit, security headers, cross-site refusal."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def backend() -> str:
    # Pure HTTP behaviour: one backend is enough.
    return "sqlite"


class TestSecurityHeaders:
    def test_every_answer_carries_the_security_headers(self, client: TestClient) -> None:
        r = client.get("/api/v1/auth/me")
        assert r.status_code == 401
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"


class TestBodySizeLimit:
    def test_a_json_body_over_the_limit_gets_413_with_the_limit_named(
        self, client: TestClient
    ) -> None:
        limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
        body = b'{"email": "' + b"a" * limit + b'", "password": "x"}'
        r = client.post(
            "/api/v1/auth/login", content=body, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert "KiB" in r.json()["detail"]
        assert r.headers["x-content-type-options"] == "nosniff"

    def test_a_streamed_body_without_length_is_cut_off_too(self, client: TestClient) -> None:
        limit = client.app.state.settings.max_body_bytes  # type: ignore[attr-defined]

        def chunks():  # no Content-Length: the middleware must count while reading
            for _ in range(limit // 4096 + 2):
                yield b"x" * 4096

        r = client.post(
            "/api/v1/auth/login", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


class TestCrossSiteGuard:
    def test_a_cross_site_post_is_refused_before_it_reaches_a_route(
        self, client: TestClient
    ) -> None:
        r = client.post(
            "/api/v1/auth/login",
            json={"email": "a@example.org", "password": "whatever-long"},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert r.status_code == 403
        assert "Cross-site" in r.json()["detail"]

    def test_a_same_origin_post_passes(self, client: TestClient) -> None:
        r = client.post(
            "/api/v1/auth/login",
            json={"email": "a@example.org", "password": "whatever-long"},
            headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        )
        assert r.status_code == 401  # reached the route: wrong credentials, not refused

    def test_an_opaque_origin_is_refused(self, client: TestClient) -> None:
        r = client.post(
            "/api/v1/auth/login",
            json={"email": "a@example.org", "password": "whatever-long"},
            headers={"Origin": "null"},
        )
        assert r.status_code == 403
