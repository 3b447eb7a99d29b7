"""POST /notifications/test over HTTP: a signed test event to a real receiver, and what it said.

The receivers listen on the fixed ports that tests/e2e/sla-test.yaml names (18765, 18766)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as email_policy

import httpx
import pytest
from aiosmtpd.controller import Controller

from sla.notifications import verify
from tests.activities.test_notify import Inbox, Receiver

RECEIVER_PORT = 18765
SMTP_PORT = 18766


@pytest.fixture
def hook() -> Iterator[Receiver]:
    receiver = Receiver((200,), port=RECEIVER_PORT)
    yield receiver
    receiver.close()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    yield inbox
    controller.stop()


async def test_a_test_event_reaches_the_named_webhook_signed_and_the_answer_is_reported(
    http: httpx.AsyncClient, hook: Receiver
) -> None:
    response = await http.post("/notifications/test", json={"target": "webhook:e2e-receiver"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["target"], body["ok"], body["status_code"]) == ("webhook:e2e-receiver", True, 200)
    [got] = hook.received
    assert verify(got.body, "e2e-secret", got.headers["x-slaflow-signature"])
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
    assert isinstance(envelope.content, bytes)
    message = message_from_bytes(envelope.content, policy=email_policy)
    assert isinstance(message, EmailMessage)
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
