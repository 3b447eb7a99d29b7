"""Standard Webhooks (https://www.standardwebhooks.com): every delivery to a real receiver verifies
with the stock `standardwebhooks` library, for a `whsec_` secret, a plain secret and a rotation;
a replay outside the library's 5-minute tolerance is refused; a retry keeps the id and takes a
new timestamp."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import Notifier
from sla.notifications import (
    Delivery,
    DeliveryResult,
    Event,
    NotificationsConfig,
    WebhookTarget,
    event_id,
    verify,
)
from tests.support.receiver import Receiver

NEW = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
OLD = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
PLAIN = "a-plain-secret-0123"
EVENT = Event(
    id=event_id("T-1:breach:response:c1"),
    type="breach",
    ticket_id="T-1",
    at=datetime(2026, 11, 27, 9, 15, tzinfo=UTC),
    data={"metric": "response", "priority": "P1"},
)
TO_OPS = Delivery(event=EVENT, target="webhook:ops")


def notifier(url: str, clock: Callable[[], float] = time.time, **secret: object) -> Notifier:
    hook = WebhookTarget.model_validate({"name": "ops", "url": url, **secret})
    return Notifier(NotificationsConfig(webhooks=[hook]), timeout=5, clock=clock)


async def deliver(notifier: Notifier, attempt: int = 1) -> DeliveryResult:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(notifier.deliver, TO_OPS)


async def test_a_whsec_secret_signs_what_the_stock_verifier_accepts(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(204)
    await deliver(notifier(hook.url, secret=NEW))
    [got] = hook.received
    assert Webhook(NEW).verify(got.body, got.headers) == json.loads(got.body)
    assert got.headers["webhook-id"] == EVENT.id == got.headers["x-slaflow-event-id"]
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 5
    with pytest.raises(WebhookVerificationError):
        Webhook(OLD).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):  # one byte changed
        Webhook(NEW).verify(got.body.replace(b"P1", b"P2"), got.headers)
    # The deprecated header is still there, keyed with the secret's text as before.
    assert verify(got.body, NEW, got.headers["x-slaflow-signature"])


async def test_a_plain_secret_verifies_as_its_raw_bytes(receiver: Callable[..., Receiver]) -> None:
    hook = receiver(204)
    await deliver(notifier(hook.url, secret=PLAIN))
    [got] = hook.received
    # The stock library reads a str without whsec_ as base64: hand it the bytes, or their base64.
    Webhook(PLAIN.encode()).verify(got.body, got.headers)
    Webhook("whsec_" + base64.b64encode(PLAIN.encode()).decode()).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(PLAIN).verify(got.body, got.headers)
    assert verify(got.body, PLAIN, got.headers["x-slaflow-signature"])


async def test_during_a_rotation_either_secret_alone_verifies(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(204)
    await deliver(notifier(hook.url, secrets=[NEW, OLD]))
    [got] = hook.received
    assert [s.split(",")[0] for s in got.headers["webhook-signature"].split(" ")] == ["v1", "v1"]
    Webhook(NEW).verify(got.body, got.headers)
    Webhook(OLD).verify(got.body, got.headers)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(got.body, got.headers)
    assert verify(got.body, NEW, got.headers["x-slaflow-signature"])  # the first secret


async def test_a_replayed_delivery_is_refused_by_the_stock_verifiers_tolerance(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(204)
    # What a delivery made six minutes ago looks like when an attacker replays it now.
    await deliver(notifier(hook.url, clock=lambda: time.time() - 6 * 60, secret=NEW))
    [got] = hook.received
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(NEW).verify(got.body, got.headers)
    # Nor can the replayer freshen the timestamp: it is signed.
    fresh = {**got.headers, "webhook-timestamp": str(int(time.time()))}
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(NEW).verify(got.body, fresh)


async def test_a_retry_keeps_the_id_and_body_and_signs_a_new_timestamp(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(503, 200)
    sender = notifier(hook.url, secret=NEW)
    with pytest.raises(ApplicationError):
        await deliver(sender, attempt=1)
    await asyncio.sleep(1.1)  # the timestamp counts whole seconds
    await deliver(sender, attempt=2)
    first, second = hook.received
    for got in (first, second):
        Webhook(NEW).verify(got.body, got.headers)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == EVENT.id
    assert first.body == second.body
    assert int(first.headers["webhook-timestamp"]) < int(second.headers["webhook-timestamp"])
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
