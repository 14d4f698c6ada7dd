"""The OpenAPI document describes what the server really answers."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Role
from tests.factories import bearer, make_user


@pytest.fixture
def backend() -> str:
    return "sqlite"


class TestErrorsAreDocumented:
    def test_422_is_the_error_body_not_httpvalidationerror(self, app: FastAPI) -> None:
        spec = app.openapi()
        assert "HTTPValidationError" not in spec["components"]["schemas"]
        error = spec["components"]["schemas"]["ErrorOut"]
        assert error["properties"]["detail"]["type"] == "string" and error["required"] == ["error", "detail"]
        op = spec["paths"]["/api/v1/projects"]["post"]
        assert op["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorOut"}

    def test_every_route_documents_the_errors_it_can_give(self, app: FastAPI) -> None:
        paths = app.openapi()["paths"]
        submit = paths["/api/v1/assignments/{aid}/submit"]["post"]["responses"]
        assert {"401", "403", "404", "409", "410", "413", "422", "429"} <= set(submit)
        me = paths["/api/v1/auth/me"]["get"]["responses"]
        assert "401" in me and "404" not in me and "413" not in me
        users = paths["/api/v1/users"]["get"]["responses"]
        assert {"401", "403"} <= set(users)
        login = paths["/api/v1/auth/login"]["post"]["responses"]
        assert {"401", "422", "429"} <= set(login)
        upload = paths["/api/v1/projects/{pid}/prompts:import"]["post"]
        assert "multipart/form-data" in upload["requestBody"]["content"] and "415" in upload["responses"]

    def test_a_real_error_matches_the_documented_shape(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        body = client.post("/api/v1/projects", json={"name": ""}, headers=admin).json()
        assert set(body) == {"error", "detail", "errors"} and isinstance(body["detail"], str)


class TestUnknownMethods:
    def test_trace_is_405_with_allow(self, client: TestClient) -> None:
        r = client.request("TRACE", "/api/v1/auth/login")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert r.json()["error"] == "method_not_allowed"

    def test_allow_names_every_method_of_the_path(self, client: TestClient) -> None:
        r = client.request("PUT", "/login")
        assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "POST"}


class TestFavicon:
    def test_the_favicon_is_served_and_linked(self, client: TestClient) -> None:
        r = client.get("/favicon.ico")
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert '<link rel="icon"' in client.get("/login").text
