"""The HTML routes: login form, logout, role checks, and the page shells."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.cookies import SESSION_COOKIE
from app.models import Project, Role, User, WebSession
from tests.factories import PASSWORD, add_member, login, make_labelers, make_project

ADMIN_PAGES = [
    "/admin",
    "/admin/projects",
    "/admin/users",
    "/admin/projects/{pid}",
    "/admin/projects/{pid}/import",
    "/admin/projects/{pid}/progress",
    "/admin/projects/{pid}/judgements",
    "/admin/judgements/somejudgement",
]


def _form_login(client: TestClient, user: User, password: str = PASSWORD, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/login", data={"email": user.email, "password": password, **extra}, follow_redirects=False
    )


def _csrf_from(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([0-9a-f]+)">', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def _session_count(db: Session) -> int:
    db.expire_all()
    return int(db.scalar(select(func.count()).select_from(WebSession)) or 0)


class TestLoginForm:
    def test_shows_a_labelled_form(self, client: TestClient) -> None:
        r = client.get("/login")
        assert r.status_code == 200
        assert '<label for="email">' in r.text and '<label for="password">' in r.text

    def test_right_credentials_start_a_session_and_redirect_home(
        self, client: TestClient, db: Session
    ) -> None:
        (user,) = make_labelers(db, 1)
        r = _form_login(client, user)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert "HttpOnly" in r.headers["set-cookie"]
        assert client.get("/api/v1/auth/me").json()["email"] == user.email

    def test_an_admin_lands_on_the_dashboard(self, client: TestClient, db: Session) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        assert _form_login(client, admin).headers["location"] == "/admin"

    def test_login_rotates_the_session(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        login(client, user)
        before = client.cookies.get(SESSION_COOKIE)
        _form_login(client, user)
        after = client.cookies.get(SESSION_COOKIE)
        assert before and after and before != after
        assert _session_count(db) == 1

    def test_wrong_password_shows_the_form_again_with_a_message(
        self, client: TestClient, db: Session
    ) -> None:
        (user,) = make_labelers(db, 1)
        r = _form_login(client, user, password="not the password")
        assert r.status_code == 401
        assert "Wrong e-mail or password." in r.text
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")

    def test_next_goes_only_to_paths_on_this_site(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        assert _form_login(client, user, next="//evil.example/x").headers["location"] == "/"
        assert _form_login(client, user, next="/admin/users").headers["location"] == "/admin/users"

    def test_a_cross_site_post_is_refused(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        r = client.post(
            "/login",
            data={"email": user.email, "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert r.status_code == 403
        assert _session_count(db) == 0


class TestLogout:
    def test_needs_the_csrf_token(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        login(client, user)
        r = client.post("/logout", data={}, follow_redirects=False)
        assert r.status_code == 403
        assert _session_count(db) == 1

    def test_with_the_token_from_the_page_ends_the_session(
        self, client: TestClient, db: Session
    ) -> None:
        (user,) = make_labelers(db, 1)
        login(client, user)
        token = _csrf_from(client.get("/").text)
        r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert _session_count(db) == 0


@pytest.fixture
def project(db: Session) -> Project:
    return make_project(db, "ranking", guidelines="# Rules\n\nBe <script>alert(1)</script> kind.")


class TestAdminPages:
    def test_anonymous_users_are_sent_to_login(self, client: TestClient, project: Project) -> None:
        for path in ADMIN_PAGES:
            url = path.format(pid=project.public_id)
            r = client.get(url, follow_redirects=False)
            assert r.status_code == 303, url
            assert r.headers["location"] == f"/login?next={url}"

    def test_labelers_are_refused(self, client: TestClient, db: Session, project: Project) -> None:
        (user,) = make_labelers(db, 1)
        add_member(db, project, user)
        login(client, user)
        for path in ADMIN_PAGES:
            r = client.get(path.format(pid=project.public_id))
            assert r.status_code == 403, path
            assert "admin role" in r.text

    def test_admins_get_every_page(self, client: TestClient, db: Session, project: Project) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        login(client, admin)
        for path in ADMIN_PAGES:
            r = client.get(path.format(pid=project.public_id))
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("text/html")

    def test_an_unknown_project_is_404(self, client: TestClient, db: Session) -> None:
        (admin,) = make_labelers(db, 1, role=Role.admin)
        login(client, admin)
        assert client.get("/admin/projects/nosuchproject/progress").status_code == 404


class TestLabelerPages:
    def test_home_lists_only_my_projects(self, client: TestClient, db: Session, project: Project) -> None:
        other = make_project(db, "pairwise")
        (user,) = make_labelers(db, 1)
        add_member(db, project, user)
        login(client, user)
        r = client.get("/")
        assert project.name in r.text and other.name not in r.text
        assert f"/projects/{project.public_id}/work" in r.text

    def test_the_work_page_matches_the_task_kind(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        pages = {
            "ranking": "work-ranking.js",
            "pairwise": "work-pairwise.js",
            "evaluation": "work-pairwise.js",
            "demonstration": "work-demonstration.js",
            "prompt_writing": "work-prompt.js",
        }
        projects = {kind: make_project(db, kind) for kind in pages}
        for p in projects.values():
            add_member(db, p, user)
        login(client, user)
        for kind, script in pages.items():
            r = client.get(f"/projects/{projects[kind].public_id}/work")
            assert r.status_code == 200 and script in r.text, kind

    def test_an_admin_who_is_not_a_labeler_is_told_how_to_work_in_a_project(
        self, client: TestClient, db: Session, project: Project
    ) -> None:
        # The project tabs offer every admin the work page; it must not be a dead end.
        (admin,) = make_labelers(db, 1, role=Role.admin)
        (stranger,) = make_labelers(db, 1)
        login(client, admin)
        r = client.get(f"/projects/{project.slug}/work")
        assert r.status_code == 403
        assert "add yourself on its Settings &amp; labelers page" in r.text
        assert 'href="/admin"' in r.text  # the error page keeps the navigation
        add_member(db, project, admin)
        assert client.get(f"/projects/{project.slug}/work").status_code == 200
        login(client, stranger)
        assert client.get(f"/projects/{project.slug}/work").status_code == 404

    def test_guidelines_are_rendered_and_cannot_run_scripts(
        self, client: TestClient, db: Session, project: Project
    ) -> None:
        (user,) = make_labelers(db, 1)
        add_member(db, project, user)
        login(client, user)
        r = client.get(f"/projects/{project.public_id}/work")
        assert "<h1>Rules</h1>" in r.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
        assert "<script>alert" not in r.text

    def test_a_project_i_am_not_on_is_404(self, client: TestClient, db: Session, project: Project) -> None:
        (user,) = make_labelers(db, 1)
        login(client, user)
        assert client.get(f"/projects/{project.public_id}/work").status_code == 404

    def test_pages_forbid_inline_scripts(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        login(client, user)
        r = client.get("/")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", r.text) is None


class TestMarkdownApi:
    def test_renders_sanitised_html_for_a_logged_in_user(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        headers = login(client, user)
        r = client.post(
            "/api/v1/markdown", json={"texts": ["**b**", "<script>x()</script>"]}, headers=headers
        )
        assert r.status_code == 200
        first, second = r.json()["html"]
        assert "<strong>b</strong>" in first and "<script" not in second

    def test_refuses_anonymous_callers(self, client: TestClient) -> None:
        assert client.post("/api/v1/markdown", json={"texts": ["x"]}).status_code == 401

    def test_refuses_too_many_texts(self, client: TestClient, db: Session) -> None:
        (user,) = make_labelers(db, 1)
        headers = login(client, user)
        r = client.post("/api/v1/markdown", json={"texts": ["x"] * 65}, headers=headers)
        assert r.status_code == 422


class TestHomesAndErrorPages:
    def test_an_engineer_without_projects_lands_on_the_studio_not_a_dead_end(
        self, client: TestClient, db: Session
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        login(client, engineer)
        r = client.get("/")
        assert r.status_code == 200
        assert "not assigned to any project" not in r.text
        assert 'id="studio-jobs"' in r.text and 'href="/admin/training"' in r.text

    def test_a_labeler_without_projects_is_told_how_to_get_one(self, client: TestClient, db: Session) -> None:
        (labeler,) = make_labelers(db, 1)
        login(client, labeler)
        r = client.get("/")
        assert "not assigned to any project" in r.text and 'id="studio"' not in r.text

    def test_a_403_page_keeps_the_navigation_of_the_logged_in_user(
        self, client: TestClient, db: Session
    ) -> None:
        (labeler,) = make_labelers(db, 1)
        login(client, labeler)
        r = client.get("/admin/users")
        assert r.status_code == 403
        assert 'aria-label="Main"' in r.text and labeler.display_name in r.text
        assert 'href="/me/history"' in r.text and 'href="/admin/users"' not in r.text

    def test_a_404_for_an_unknown_path_has_navigation_and_role_links(
        self, client: TestClient, db: Session
    ) -> None:
        (engineer,) = make_labelers(db, 1, role=Role.engineer)
        login(client, engineer)
        r = client.get("/no/such/page")
        assert r.status_code == 404
        assert 'aria-label="Main"' in r.text and 'href="/admin/training"' in r.text

    def test_an_anonymous_404_offers_the_login(self, client: TestClient) -> None:
        r = client.get("/no/such/page")
        assert r.status_code == 404
        assert 'href="/login"' in r.text and 'aria-label="Main"' not in r.text
