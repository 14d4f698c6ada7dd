"""Endpoints and model folders cannot be turned against the server (SSRF, disk probing).

The address rules are tested without connecting anywhere; the only connections go
to fake servers on 127.0.0.1 with the operator's allow setting on, or nowhere at
all (httpx's mock transport).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.models import Role
from app.registry import service as registry
from app.registry.endpoint import ChatParams, EndpointClient, EndpointError
from app.registry.safety import EndpointPolicy, UnsafeEndpoint, check_address, pin
from tests.factories import bearer, make_user
from tests.registry.fake_openai import fake_openai_server

STRICT = EndpointPolicy()
PARAMS = ChatParams(max_tokens=8)
PUBLIC = "93.184.216.34"  # never connected to: the mock transport answers


@pytest.fixture
def backend() -> str:
    return "sqlite"


@contextmanager
def strict_client(settings: Settings) -> Iterator[TestClient]:
    """The app as an operator runs it by default: no internal endpoint addresses."""
    app = create_app(settings.model_copy(update={"endpoint_allow": ""}), migrate=False)
    with TestClient(app, base_url="http://testserver") as c:
        yield c
    app.state.engine.dispose()


class TestAddressRules:
    @pytest.mark.parametrize("address", [
        "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
        "0.0.0.0", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fc00::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::", "ff02::1",
    ])
    def test_internal_addresses_are_refused_by_default(self, address: str) -> None:
        assert not STRICT.allows("h", ipaddress.ip_address(address))

    @pytest.mark.parametrize("address", ["8.8.8.8", PUBLIC, "2606:4700:4700::1111"])
    def test_public_addresses_are_allowed(self, address: str) -> None:
        assert STRICT.allows("h", ipaddress.ip_address(address))

    def test_the_operator_allows_networks_hosts_or_everything(self) -> None:
        settings = Settings(env="test", secret_key="x" * 40, data_dir=Path("/tmp/rw-safety"),
                            endpoint_allow="10.0.0.0/8, gpu-1")
        policy = EndpointPolicy.of(settings)
        assert policy.allows("any", ipaddress.ip_address("10.9.8.7"))
        assert not policy.allows("any", ipaddress.ip_address("192.168.1.1"))
        assert policy.allows("GPU-1", ipaddress.ip_address("192.168.1.1"))
        assert EndpointPolicy(allow_private=True).allows("x", ipaddress.ip_address("127.0.0.1"))

    @pytest.mark.parametrize("url", [
        "http://127.0.0.1:8000/v1", "http://[::1]/v1", "http://169.254.169.254/latest/meta-data",
        "http://localhost:11434/v1", "http://0x7f000001/v1",
    ])
    def test_registration_refuses_internal_urls(self, url: str) -> None:
        with pytest.raises(UnsafeEndpoint, match="RANKWISE_ALLOW_PRIVATE_ENDPOINTS"):
            check_address(url, STRICT)

    @pytest.mark.parametrize("url", ["ftp://x.test/v1", "http:///v1", "http://user:pw@x.test/v1", "http://x.test:0/v1"])
    def test_malformed_urls_are_refused(self, url: str) -> None:
        with pytest.raises(UnsafeEndpoint):
            check_address(url, STRICT)

    def test_the_request_is_aimed_at_the_checked_address_and_keeps_the_name(self) -> None:
        policy = EndpointPolicy(hosts=frozenset({"localhost"}))
        target = asyncio.run(pin("http://localhost:8000/v1/chat/completions", policy))
        assert target.url in ("http://127.0.0.1:8000/v1/chat/completions", "http://[::1]:8000/v1/chat/completions")
        assert target.headers == {"Host": "localhost:8000"}
        secure = asyncio.run(pin(f"https://{PUBLIC}/v1", STRICT))
        assert secure.extensions == {"sni_hostname": PUBLIC}


class TestWhoRegistersWhat:
    def test_engineers_cannot_register_endpoints(self, client: TestClient, db: Session) -> None:
        engineer = bearer(db, make_user(db, Role.engineer))
        r = client.post("/api/v1/models", headers=engineer, json={
            "kind": "endpoint", "name": "ep", "base_url": f"http://{PUBLIC}/v1", "endpoint_model": "m"})
        assert r.status_code == 403 and "admins" in r.json()["detail"]

    def test_an_internal_url_is_refused_at_registration(self, settings: Settings, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        with strict_client(settings) as c:
            for url in ("http://127.0.0.1:8080/v1", "http://169.254.169.254/v1", "http://localhost/v1"):
                r = c.post("/api/v1/models", headers=admin, json={
                    "kind": "endpoint", "name": "ep", "base_url": url, "endpoint_model": "m"})
                assert r.status_code == 422 and "RANKWISE_ALLOW_PRIVATE_ENDPOINTS" in r.json()["detail"], r.text

    def test_the_allow_setting_makes_a_local_server_easy(self, client: TestClient, db: Session) -> None:
        admin = bearer(db, make_user(db, Role.admin))
        with fake_openai_server() as (url, fake):
            r = client.post("/api/v1/models", headers=admin, json={
                "kind": "endpoint", "name": "local-vllm", "base_url": url, "endpoint_model": "m"})
            assert r.status_code == 201, r.text
            test = client.post(f"/api/v1/models/{r.json()['id']}/test", headers=admin, json={"prompt": "hi"})
            assert test.status_code == 200 and fake.state.requests == 1


class TestCallTime:
    def test_an_endpoint_is_checked_again_before_every_request(self, settings: Settings, db: Session) -> None:
        admin_user = make_user(db, Role.admin)
        admin = bearer(db, admin_user)
        with fake_openai_server() as (url, fake):
            # Registered while allowed (or its name resolved elsewhere then): refused now.
            mv = registry.register_endpoint(db, admin_user, name="ep", base_url=url.replace("127.0.0.1", "localhost"),
                                            endpoint_model="m", api_key="sk-key")
            db.commit()
            with strict_client(settings) as c:
                r = c.post(f"/api/v1/models/{mv.public_id}/test", headers=admin, json={"prompt": "hi"})
            assert r.status_code == 502 and "not allowed" in r.json()["detail"]
            assert fake.state.requests == 0  # nothing was sent, the key least of all

    def test_redirects_are_not_followed(self) -> None:
        seen: list[str] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(str(request.url))
            return httpx.Response(302, headers={"location": "http://127.0.0.1/admin"})

        client = EndpointClient(f"http://{PUBLIC}/v1", "m", "sk-key", policy=STRICT,
                                transport=httpx.MockTransport(answer))
        with pytest.raises(EndpointError, match="redirect"):
            client.chat_many_sync([[{"role": "user", "content": "x"}]], PARAMS)
        assert seen == [f"http://{PUBLIC}/v1/chat/completions"]

    def test_a_foreign_body_is_never_echoed(self) -> None:
        page = "<html><h1>Internal admin</h1><p>SECRET-TOKEN-123</p></html>"
        client = EndpointClient(f"http://{PUBLIC}/v1", "m", None, policy=STRICT, transport=httpx.MockTransport(
            lambda _: httpx.Response(404, text=page, headers={"content-type": "text/html"})))
        with pytest.raises(EndpointError) as err:
            client.chat_many_sync([[{"role": "user", "content": "x"}]], PARAMS)
        assert "HTTP 404" in str(err.value) and "SECRET" not in str(err.value) and "<" not in str(err.value)

    def test_a_json_error_gives_a_short_printable_excerpt(self) -> None:
        message = "model not found\x1b[31m " + "x" * 500
        client = EndpointClient(f"http://{PUBLIC}/v1", "m", None, policy=STRICT, transport=httpx.MockTransport(
            lambda _: httpx.Response(400, json={"error": {"message": message}})))
        with pytest.raises(EndpointError) as err:
            client.chat_many_sync([[{"role": "user", "content": "x"}]], PARAMS)
        text = str(err.value)
        assert "model not found" in text and "\x1b" not in text and text.count("x") < 130

    def test_a_closed_port_and_a_silent_one_read_the_same(self) -> None:
        loopback = EndpointPolicy(hosts=frozenset({"127.0.0.1"}))
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            closed_port = closed.getsockname()[1]
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:  # accepts and never answers
            listener.settimeout(0.1)
            while not stop.is_set():
                try:
                    accepted.append(listener.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        messages = []
        try:
            for port in (closed_port, listener.getsockname()[1]):
                client = EndpointClient(f"http://127.0.0.1:{port}/v1", "m", None, policy=loopback,
                                        timeout=0.3, max_retries=0)
                with pytest.raises(EndpointError) as err:
                    client.chat_many_sync([[{"role": "user", "content": "x"}]], PARAMS)
                messages.append(str(err.value).replace(str(port), "PORT"))
        finally:
            stop.set()
            thread.join(timeout=2)
            for conn in accepted:
                conn.close()
            listener.close()
        assert messages[0] == messages[1]

    def test_a_nul_in_a_reply_is_dropped(self) -> None:
        reply = {"choices": [{"message": {"role": "assistant", "content": "a\u0000b"}}]}
        client = EndpointClient(f"http://{PUBLIC}/v1", "m", None, policy=STRICT, transport=httpx.MockTransport(
            lambda _: httpx.Response(200, content=json.dumps(reply).encode(), headers={"content-type": "application/json"})))
        assert client.chat_many_sync([[{"role": "user", "content": "x"}]], PARAMS) == ["ab"]


class TestLocalModelFolders:
    def _register(self, client: TestClient, headers: dict[str, str], path: str) -> httpx.Response:
        return client.post("/api/v1/models", headers=headers, json={"kind": "local", "name": "m", "path": path})

    def test_outside_the_models_folder_nothing_is_revealed(self, client: TestClient, db: Session, tmp_path: Path) -> None:
        engineer = bearer(db, make_user(db, Role.engineer))
        answers = [self._register(client, engineer, p) for p in ("/etc", "/etc/passwd", "/no/such/folder-xyz", "/root")]
        assert {r.status_code for r in answers} == {422}
        details = {r.json()["detail"] for r in answers}
        assert len(details) == 1 and "RANKWISE_MODELS_DIR" in details.pop()

    def test_a_link_inside_pointing_outside_is_refused(self, client: TestClient, db: Session, settings: Settings) -> None:
        engineer = bearer(db, make_user(db, Role.engineer))
        link = settings.data_dir / "models" / "escape"
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/etc")
        r = self._register(client, engineer, str(link))
        assert r.status_code == 422 and "RANKWISE_MODELS_DIR" in r.json()["detail"]

    def test_inside_the_models_folder_the_reasons_are_given(self, client: TestClient, db: Session, settings: Settings) -> None:
        engineer = bearer(db, make_user(db, Role.engineer))
        folder = settings.data_dir / "models" / "not-a-model"
        folder.mkdir(parents=True)
        r = self._register(client, engineer, str(folder))
        assert r.status_code == 422 and "no config.json" in r.json()["detail"]


class TestForeignJsonCannotCrashTheServer:
    def test_a_reply_nested_past_the_parser_is_an_endpoint_error(self) -> None:
        deep = b"[" * 100_000 + b"]" * 100_000
        for status in (200, 400):
            client = EndpointClient(f"http://{PUBLIC}/v1", "m", None, policy=STRICT, max_retries=0,
                                    transport=httpx.MockTransport(lambda _, status=status: httpx.Response(
                                        status, content=deep, headers={"content-type": "application/json"})))
            with pytest.raises(EndpointError):
                client.chat_many_sync([[{"role": "user", "content": "x"}]], PARAMS)

    def test_a_rankwise_json_nested_past_the_parser_is_a_422(self, client: TestClient, db: Session, settings: Settings) -> None:
        engineer = bearer(db, make_user(db, Role.engineer))
        folder = settings.data_dir / "models" / "deep"
        folder.mkdir(parents=True)
        (folder / "config.json").write_text("{}")
        (folder / "rankwise.json").write_text("[" * 100_000 + "]" * 100_000)
        r = client.post("/api/v1/models", headers=engineer, json={"kind": "local", "name": "deep", "path": str(folder)})
        assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
