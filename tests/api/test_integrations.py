"""The help desks' endpoints without Temporal: configuration, signatures, bad bodies, and the
deliveries that need no ticket (ignored ones), recorded once and listed. Deliveries that open
and work tickets run on a real stack: tests/e2e/test_desk_webhooks.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from api.deps import get_desk
from settings import Settings
from store import Store
from telemetry import DESK_DELIVERIES
from tests.api.conftest import FakeDesk, NoTemporal
from tests.support.access import call, keyed_app
from tests.support.desks import (
    desks_config,
    fixture,
    jira_body,
    jira_headers,
    minutes_ago,
    zendesk_body,
    zendesk_headers,
)
from tests.support.http import asgi_client


@pytest.fixture(scope="module")
def desks_settings(api_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    config = desks_config(tmp_path_factory.mktemp("desks") / "sla.yaml")
    return Settings(
        config=config,
        data_dir=api_settings.data_dir,
        task_queue="no-temporal",
        max_request_seconds=5,
    )


def desks_app(settings: Settings, store: Store) -> FastAPI:
    app = create_app(settings, cast(Client, NoTemporal()), store)
    desk = FakeDesk(settings.sla_config)
    app.dependency_overrides[get_desk] = lambda: desk
    return app


@pytest.fixture
async def desks(desks_settings: Settings, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(desks_app(desks_settings, store)) as client:
        yield client


def raw(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def unmapped_jira(key: str) -> bytes:
    body = jira_body("issue_created", key, minutes_ago(5))
    body["issue"]["fields"]["priority"] = {"name": "Whenever"}
    return raw(body)


async def test_a_desk_not_configured_is_404_saying_so(http: httpx.AsyncClient) -> None:
    body = raw(fixture("jira/issue_created.json"))
    jira = await http.post("/integrations/jira", content=body, headers=jira_headers(body, "1"))
    assert jira.status_code == 404
    assert jira.json()["detail"] == "Jira is not configured: add integrations.jira to the config"
    zendesk = await http.post(
        "/integrations/zendesk", content=body, headers=zendesk_headers(body, "1")
    )
    assert zendesk.status_code == 404 and "integrations.zendesk" in zendesk.json()["detail"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature": "sha256=" + "0" * 64},
        {"X-Hub-Signature": "not-a-signature"},
        jira_headers(b"another body", "1"),
        jira_headers(b"{}", "1", secret="not-the-secret"),
    ],
    ids=["missing", "zeros", "malformed", "another-body", "another-secret"],
)
async def test_jira_without_its_signature_is_401(
    desks: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    body = unmapped_jira("SIG-1")
    response = await desks.post(
        "/integrations/jira",
        content=body,
        headers={"content-type": "application/json", **headers},
    )
    assert response.status_code == 401, response.text
    assert "X-Hub-Signature" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (lambda h: {k: v for k, v in h.items() if "Signature" not in k}, "are needed"),
        (lambda h: h | {"X-Zendesk-Webhook-Signature": "AAAA"}, "does not match"),
        (lambda h: h | {"X-Zendesk-Webhook-Signature-Timestamp": "2021-03-25T05:09:27Z"},
         "does not match"),
    ],
    ids=["missing", "wrong", "timestamp-changed"],
)  # fmt: skip
async def test_zendesk_without_its_signature_is_401(
    desks: httpx.AsyncClient, change: Any, why: str
) -> None:
    body = raw(zendesk_body("agent_replied", "401", minutes_ago(5), minutes_ago(1)))
    headers = change(zendesk_headers(body, "inv-401"))
    response = await desks.post("/integrations/zendesk", content=body, headers=headers)
    assert response.status_code == 401 and why in response.json()["detail"]
    stale = zendesk_headers(body, "inv-401", signed_at=minutes_ago(120))
    response = await desks.post("/integrations/zendesk", content=body, headers=stale)
    assert response.status_code == 401 and "too far from now" in response.json()["detail"]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
async def test_a_signed_body_that_is_not_a_json_object_is_422(
    desks: httpx.AsyncClient, body: bytes
) -> None:
    response = await desks.post("/integrations/jira", content=body, headers=jira_headers(body, "x"))
    assert response.status_code == 422, response.text


async def test_an_unmapped_priority_is_ignored_with_why_once_however_often_it_comes(
    desks: httpx.AsyncClient,
) -> None:
    key = f"IGN-{uuid.uuid4().hex[:6]}"
    body = unmapped_jira(key)
    delivery = f"delivery-{uuid.uuid4().hex}"
    counted = DESK_DELIVERIES.labels("jira", "ignored")._value.get()
    first = await desks.post(
        "/integrations/jira", content=body, headers=jira_headers(body, delivery)
    )
    assert first.status_code == 200, first.text
    answer = first.json()
    assert (answer["outcome"], answer["ticket_id"], answer["duplicate"]) == ("ignored", key, False)
    assert answer["reason"] == "priority 'Whenever' is not in integrations.jira.priorities"
    assert answer["event"] == "jira:issue_created" and answer["steps"] == []
    again = await desks.post(
        "/integrations/jira", content=body, headers=jira_headers(body, delivery)
    )
    assert again.status_code == 200 and again.json() == answer | {"duplicate": True}
    assert DESK_DELIVERIES.labels("jira", "ignored")._value.get() == counted + 1  # once
    listed = await desks.get(
        "/integrations/events", params={"outcome": "ignored", "ticket_id": key}
    )
    assert [e["delivery_id"] for e in listed.json()["events"]] == [delivery]


async def test_a_delivery_without_an_identifier_is_known_by_its_body(
    desks: httpx.AsyncClient,
) -> None:
    body = unmapped_jira(f"NOID-{uuid.uuid4().hex[:6]}")
    headers = jira_headers(body, "")
    del headers["X-Atlassian-Webhook-Identifier"]
    first = (await desks.post("/integrations/jira", content=body, headers=headers)).json()
    again = (await desks.post("/integrations/jira", content=body, headers=headers)).json()
    assert first["delivery_id"].startswith("sha256-") and again["duplicate"] is True


async def test_a_zendesk_update_for_a_ticket_slaflow_does_not_have_is_ignored(
    desks: httpx.AsyncClient,
) -> None:
    body = raw(zendesk_body("agent_replied", uuid.uuid4().hex[:8], minutes_ago(5), minutes_ago(1)))
    response = await desks.post(
        "/integrations/zendesk", content=body, headers=zendesk_headers(body, uuid.uuid4().hex)
    )
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "ignored"
    assert "its creation was not received" in response.json()["reason"]


async def test_the_events_page_through_and_filter(desks: httpx.AsyncClient) -> None:
    prefix = f"PG{uuid.uuid4().hex[:4]}".upper()
    for n in range(3):
        body = unmapped_jira(f"{prefix}-{n}")
        await desks.post(
            "/integrations/jira", content=body, headers=jira_headers(body, f"{prefix}{n}")
        )
    seen: list[str] = []
    token = None
    while True:
        params = {"source": "jira", "outcome": "ignored", "page_size": "50"}
        page = (
            await desks.get(
                "/integrations/events", params=params | ({"page_token": token} if token else {})
            )
        ).json()
        seen += [e["ticket_id"] for e in page["events"] if e["ticket_id"].startswith(prefix)]
        if not (token := page["next_page_token"]):
            break
    assert sorted(seen) == [f"{prefix}-{n}" for n in range(3)]
    assert (
        await desks.get(
            "/integrations/events", params={"outcome": "applied", "ticket_id": f"{prefix}-0"}
        )
    ).json()["events"] == []
    assert (await desks.get("/integrations/events", params={"outcome": "nope"})).status_code == 422
    assert (
        await desks.get("/integrations/events", params={"page_token": "garbage"})
    ).status_code == 422


async def test_with_keys_the_desks_need_no_key_and_only_staff_read_the_events(
    desks_settings: Settings, store: Store, tmp_path: Path
) -> None:
    def build(keys: Path) -> FastAPI:
        return desks_app(desks_settings.model_copy(update={"api_keys_file": keys}), store)

    async with keyed_app(build, tmp_path / "keys.yaml") as keyed:
        body = unmapped_jira(f"KEY-{uuid.uuid4().hex[:6]}")
        signed = await keyed.http.post(
            "/integrations/jira", content=body, headers=jira_headers(body, uuid.uuid4().hex)
        )
        assert signed.status_code == 200, signed.text
        unsigned = await keyed.http.post(
            "/integrations/jira", content=body, headers={"content-type": "application/json"}
        )
        assert unsigned.status_code == 401
        for who, status in [
            ("admin", 200),
            ("agent", 200),
            ("acme", 403),
            ("integration", 403),
            (None, 401),
        ]:
            assert (await call(keyed, who, "GET", "/integrations/events")).status_code == status, (
                who
            )


async def test_a_desks_body_may_be_larger_than_the_apis_own_limit(desks: httpx.AsyncClient) -> None:
    body = jira_body("issue_created", f"BIG-{uuid.uuid4().hex[:6]}", minutes_ago(5))
    body["issue"]["fields"]["priority"] = "Whenever"
    body["issue"]["fields"]["customfield_99999"] = "x" * 200_000
    content = raw(body)
    big = await desks.post(
        "/integrations/jira", content=content, headers=jira_headers(content, uuid.uuid4().hex)
    )
    assert big.status_code == 200, big.text
    huge = b" " * (1024 * 1024 + 1)
    assert (
        await desks.post("/integrations/jira", content=huge, headers=jira_headers(huge, "h"))
    ).status_code == 413
    assert (
        await desks.post("/tickets", content=content, headers={"content-type": "application/json"})
    ).status_code == 413
