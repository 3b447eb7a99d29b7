"""POST /notifications/test: a signed test event to a real receiver, and what it said. No
Temporal takes part: the endpoint calls the notifier itself.

The API tests' config, with e2e-receiver and the SMTP server pointed at this test's own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI
from standardwebhooks import Webhook

from settings import Settings
from sla.notifications import verify
from tests.support.http import API_CONFIG, asgi_client
from tests.support.mail import Inbox, parsed
from tests.support.receiver import Receiver


@pytest.fixture
def hook(receiver: Callable[..., Receiver]) -> Receiver:
    return receiver(200)


@pytest.fixture
def inbox(mail_server: Callable[..., Inbox]) -> Inbox:
    return mail_server()


@pytest.fixture
async def http(
    tmp_path: Path,
    api_settings: Settings,
    app_for: Callable[[Settings], FastAPI],
    hook: Receiver,
    inbox: Inbox,
) -> AsyncIterator[httpx.AsyncClient]:
    """The open API, its notifications going to `hook` and `inbox`."""
    config = yaml.safe_load(API_CONFIG.read_text())
    config["notifications"]["webhooks"][0]["url"] = hook.url  # e2e-receiver
    config["notifications"]["email"]["smtp_url"] = f"smtp://127.0.0.1:{inbox.port}?tls=none"
    path = tmp_path / "sla.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = Settings(**{**api_settings.model_dump(), "config": path})
    async with asgi_client(app_for(settings)) as client:
        yield client


async def test_a_test_event_reaches_the_named_webhook_signed_and_the_answer_is_reported(
    http: httpx.AsyncClient, hook: Receiver
) -> None:
    response = await http.post("/notifications/test", json={"target": "webhook:e2e-receiver"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["target"], body["ok"], body["status_code"]) == ("webhook:e2e-receiver", True, 200)
    [got] = hook.received
    assert verify(got.body, "e2e-secret", got.headers["x-slaflow-signature"])
    assert Webhook(b"e2e-secret").verify(got.body, got.headers)["id"] == body["event_id"]
    event = json.loads(got.body)
    assert got.headers["x-slaflow-event-id"] == event["id"] == body["event_id"]
    assert (event["type"], event["ticket_id"]) == ("test", None)


async def test_every_test_event_has_its_own_id(http: httpx.AsyncClient, hook: Receiver) -> None:
    for _ in range(2):
        response = await http.post("/notifications/test", json={"target": "webhook:e2e-receiver"})
        assert response.json()["ok"] is True
    assert len({r.headers["x-slaflow-event-id"] for r in hook.received}) == 2


async def test_a_receiver_that_is_down_is_reported_as_not_ok_with_200(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/notifications/test", json={"target": "webhook:e2e-down"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["status_code"]) == (False, None)
    assert body["detail"]
    assert "127.0.0.1:1" not in body["detail"]  # the URL (it may hold a token) is not echoed


async def test_a_test_mail_reaches_the_smtp_server(http: httpx.AsyncClient, inbox: Inbox) -> None:
    response = await http.post("/notifications/test", json={"target": "mailto:ops@example.test"})
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    [envelope] = inbox.messages
    message = parsed(envelope)
    assert message["Subject"] == "[slaflow] test"
    assert message["X-Slaflow-Event-Id"] == response.json()["event_id"]


async def test_an_unknown_webhook_is_404_naming_the_configured_ones(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post("/notifications/test", json={"target": "webhook:nope"})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "unknown webhook 'nope'" in detail
    assert "e2e-receiver" in detail


@pytest.mark.parametrize(
    "body",
    [
        {"target": "ops"},
        {"target": "sms:+49123"},
        {"target": ""},
        {},
        {"target": "webhook:e2e-receiver", "extra": 1},
    ],
)
async def test_a_malformed_test_request_is_422(
    http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await http.post("/notifications/test", json=body)
    assert response.status_code == 422, response.text
