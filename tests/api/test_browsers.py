"""No cross-site use of the API (api/browsers.py): JSON bodies only, loopback Host names only
without keys, and the headers that keep answers out of other sites' pages and frames; the
board's pages under a strict Content-Security-Policy (their scripts run in tests/e2e/test_board.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from settings import Settings
from tests.support.access import INCIDENT, write_keys
from tests.support.http import asgi_client

JSON_ONLY = "request bodies must be application/json"


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("browsers") / "keys.yaml"
    return path, write_keys(path)


@pytest.fixture
async def keyed_http(
    api_settings: Settings,
    app_for: Callable[[Settings], FastAPI],
    keys_file: tuple[Path, dict[str, str]],
) -> AsyncIterator[httpx.AsyncClient]:
    settings = api_settings.model_copy(update={"api_keys_file": keys_file[0]})
    async with asgi_client(app_for(settings)) as client:
        yield client


# --- bodies ---------------------------------------------------------------------------------


# What a page on another site can make a browser send without asking the API first (a form,
# a fetch with a "simple" type), and a body with no type at all.
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
     None, "application/jsonx", "text/json"],
)  # fmt: skip
async def test_a_body_that_is_not_json_is_refused_with_415_before_anything_else(
    http: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await http.post(
        "/availability/incidents", content=json.dumps(INCIDENT), headers=headers
    )
    assert response.status_code == 415, response.text
    assert response.json() == {"detail": f"{JSON_ONLY} (Content-Type: application/json)"}


async def test_415_comes_before_the_key_is_looked_at(keyed_http: httpx.AsyncClient) -> None:
    response = await keyed_http.post("/tickets", content=b"title=x", headers={
        "content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert response.status_code == 415 and JSON_ONLY in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "Application/JSON",
     "application/vnd.slaflow+json"],
)  # fmt: skip
async def test_json_bodies_pass_with_any_parameters(
    http: httpx.AsyncClient, content_type: str
) -> None:
    response = await http.post(
        "/availability/incidents",
        content=json.dumps(INCIDENT),
        headers={"content-type": content_type},
    )
    assert response.status_code == 201, response.text


async def test_a_request_without_a_body_needs_no_content_type(http: httpx.AsyncClient) -> None:
    # POST without a body (Content-Length: 0), and with an explicit empty one.
    retry = await http.post("/deliveries/" + "0" * 32 + "/retry")
    assert retry.status_code == 404, retry.text
    empty = await http.post("/deliveries/" + "0" * 32 + "/retry", headers={"content-length": "0"})
    assert empty.status_code == 404, empty.text
    assert (await http.get("/policies")).status_code == 200


# --- Host -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["localhost", "localhost:8000", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]",
     "[::1]:8000"],
)  # fmt: skip
async def test_without_keys_loopback_names_are_answered(http: httpx.AsyncClient, host: str) -> None:
    assert (await http.get("/policies", headers={"host": host})).status_code == 200


# A page at http://attacker.example:8000 whose name the attacker re-points at 127.0.0.1 (DNS
# rebinding) reaches the API with its own name in Host: refused, for every path.
@pytest.mark.parametrize(
    "host",
    ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io:8000", "0.0.0.0:8000",
     "192.0.2.10", "[::1]x", "localhost:80:80", "::1", ""],
)  # fmt: skip
@pytest.mark.parametrize("path", ["/policies", "/healthz", "/board", "/board/static/board.js"])
async def test_without_keys_any_other_host_is_421_saying_how_to_allow_it(
    http: httpx.AsyncClient, host: str, path: str
) -> None:
    response = await http.get(path, headers={"host": host})
    assert response.status_code == 421, response.text
    detail = response.json()["detail"]
    assert "localhost, 127.0.0.1, [::1]" in detail and "SLAFLOW_ALLOWED_HOSTS" in detail
    assert "keys file" in detail


async def test_a_refused_request_changes_nothing(http: httpx.AsyncClient) -> None:
    incident = {**INCIDENT, "service": "rebinding-drill"}
    refused = await http.post(
        "/availability/incidents", json=incident, headers={"host": "attacker.example"}
    )
    assert refused.status_code == 421
    listed = await http.get(
        "/availability", params={"month": "2001-01", "service": "rebinding-drill"}
    )
    assert listed.json()["incidents"] == []


async def test_allowed_hosts_add_names(
    api_settings: Settings, app_for: Callable[[Settings], FastAPI],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("SLAFLOW_ALLOWED_HOSTS", " Slaflow.Internal, 10.1.2.3 ,")
    allowed = Settings().allowed_hosts
    assert allowed == ["slaflow.internal", "10.1.2.3"]
    settings = api_settings.model_copy(update={"allowed_hosts": allowed})
    async with asgi_client(app_for(settings)) as http:
        for host in ("slaflow.internal:8000", "SLAFLOW.internal", "10.1.2.3", "localhost"):
            assert (await http.get("/policies", headers={"host": host})).status_code == 200, host
        other = await http.get("/policies", headers={"host": "other.internal"})
    assert other.status_code == 421
    assert "slaflow.internal, 10.1.2.3" in other.json()["detail"]


@pytest.mark.parametrize("names", ["host:8000", "http://host", "a b", "host/path"])
def test_allowed_hosts_are_names_only(monkeypatch: pytest.MonkeyPatch, names: str) -> None:
    monkeypatch.setenv("SLAFLOW_ALLOWED_HOSTS", names)
    with pytest.raises(ValueError, match="not a host name"):
        Settings()


async def test_with_keys_any_host_is_answered_and_the_key_decides(
    keyed_http: httpx.AsyncClient, keys_file: tuple[Path, dict[str, str]]
) -> None:
    headers = {"host": "slaflow.example.com"}
    assert (await keyed_http.get("/policies", headers=headers)).status_code == 401
    auth = {**headers, "authorization": f"Bearer {keys_file[1]['agent']}"}
    assert (await keyed_http.get("/policies", headers=auth)).status_code == 200


# --- headers --------------------------------------------------------------------------------


def directives(policy: str) -> dict[str, str]:
    parts = (d.strip().split(None, 1) for d in policy.split(";") if d.strip())
    return {p[0]: p[1] if len(p) > 1 else "" for p in parts}


@pytest.mark.parametrize("path", ["/board", "/board/tickets/T-1", "/board/reports"])
async def test_board_pages_send_a_strict_policy_and_carry_no_inline_script_or_style(
    http: httpx.AsyncClient, path: str
) -> None:
    page = await http.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert directives(page.headers["content-security-policy"]) == {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
    }
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    # What the policy would block: a script without src, a style element or attribute, handlers.
    html = page.text
    assert re.findall(r"<script\b[^>]*>", html)
    assert all(" src=" in tag for tag in re.findall(r"<script\b[^>]*>", html)), html
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html, re.IGNORECASE)


async def test_the_temporal_link_comes_from_the_settings(
    http: httpx.AsyncClient, api_settings: Settings, app_for: Callable[[Settings], FastAPI]
) -> None:
    def config(html: str) -> dict[str, str]:
        found = re.search(r"data-config='([^']*)'", html)
        assert found, html
        loaded: dict[str, str] = json.loads(found[1])
        return loaded

    page = await http.get("/board/tickets/T-1", params={"temporal_ui": "https://evil.example"})
    assert config(page.text)["temporal_ui"] == f"http://127.0.0.1:{api_settings.ui_port}"
    elsewhere = api_settings.model_copy(update={"temporal_ui_url": "https://temporal.example/"})
    async with asgi_client(app_for(elsewhere)) as other:
        page = await other.get("/board/tickets/T-1")
    assert config(page.text)["temporal_ui"] == "https://temporal.example"


@pytest.mark.parametrize("url", ["javascript:alert(1)//", "data:text/html,x", "//evil.example"])
def test_the_temporal_link_must_be_http(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SLAFLOW_TEMPORAL_UI_URL", url)
    with pytest.raises(ValueError, match="not an http"):
        Settings()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [("GET", "/policies", {}, 200), ("GET", "/no-such-path", {}, 404),
     ("GET", "/policies", {"host": "attacker.example"}, 421),
     ("POST", "/availability/incidents", {"content-type": "text/plain"}, 415)],
)  # fmt: skip
async def test_api_answers_are_neither_sniffed_nor_framed(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = await http.request(
        method, path, headers=headers, content=b"{}" if method == "POST" else None
    )
    assert response.status_code == status, response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert directives(response.headers["content-security-policy"]) == {
        "default-src": "'none'",
        "frame-ancestors": "'none'",
    }


async def test_the_schema_documents_both_refusals_on_every_operation(
    http: httpx.AsyncClient,
) -> None:
    schema = (await http.get("/openapi.json")).json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"415", "421"} <= operation["responses"].keys(), (method, path)
