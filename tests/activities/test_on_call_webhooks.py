"""The deliver activity to Slack, Teams and PagerDuty as real HTTP receivers that check each body
the way the service documents it and answer as it does (tests/support/services.py): a breach
and its resolution to each, PagerDuty's incident acknowledged on the first response; the
same retries, rejections, ids and headers as any webhook; the routing key kept out of details
and logs."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import MAX_REJECTED_ATTEMPTS, Notifier
from sla.notifications import Delivery, DeliveryResult, Event, NotificationsConfig, event_id
from tests.support.receiver import Answer, Receiver
from tests.support.services import PagerDuty, Slack, Teams

AT = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)
BASE = "https://slaflow.example.test"
ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TICKET = {"customer_id": "acme", "priority": "P1", "metric": "response", "cycle": 1}


def event(kind: str, ticket: str = "T-1", **data: Any) -> Event:
    return Event(
        id=event_id(f"{ticket}:{kind}:response:c1"),
        type=kind,
        ticket_id=ticket,
        at=AT,
        data=TICKET | data,
    )


def notifier(url: str, form: str, **hook: Any) -> Notifier:
    if form == "pagerduty":
        hook.setdefault("routing_key", ROUTING_KEY)
    config = NotificationsConfig.model_validate(
        {"link_base": BASE, "webhooks": [{"name": "oncall", "url": url, "format": form, **hook}]}
    )
    return Notifier(config, timeout=5.0)


async def deliver(notify: Notifier, what: Event, attempt: int = 1) -> DeliveryResult:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(notify.deliver, Delivery(event=what, target="webhook:oncall"))


async def failure(notify: Notifier, what: Event, attempt: int = 1) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await deliver(notify, what, attempt)
    return caught.value


@pytest.mark.parametrize(
    ("service", "form", "status", "reply"),
    [(Slack, "slack", 200, b"ok"), (Teams, "teams", 202, b"")],
    ids=["slack", "teams"],
)
async def test_a_chat_service_gets_a_well_formed_breach_and_resolution(
    receiver: Callable[..., Receiver], service: type, form: str, status: int, reply: bytes
) -> None:
    hook = receiver(service=service())
    notify = notifier(hook.url, form)
    breach, resolved = event("breach"), event("resolved", metric="resolution")
    results = [await deliver(notify, breach), await deliver(notify, resolved)]
    assert [(r.ok, r.status_code) for r in results] == [(True, status)] * 2
    assert [(r.status, r.reply) for r in hook.received] == [(status, reply)] * 2
    first, second = hook.received
    # Every format keeps the ids a receiver deduplicates by; no secret, no signature.
    assert first.headers["webhook-id"] == first.event_id == breach.id
    assert second.headers["x-slaflow-event-type"] == "resolved"
    assert "webhook-signature" not in first.headers
    assert "x-slaflow-signature" not in first.headers
    text = json.dumps(first.json())
    assert "Response SLA breached on T-1" in text and f"{BASE}/board/tickets/T-1" in text
    assert "T-1 resolved" in json.dumps(second.json())


async def test_pagerduty_triggers_on_the_breach_acknowledges_the_response_resolves_the_ticket(
    receiver: Callable[..., Receiver],
) -> None:
    pagerduty = PagerDuty()
    hook = receiver(service=pagerduty)
    notify = notifier(hook.url, "pagerduty")
    for kind in ("breach", "escalation", "responded", "resolved"):
        result = await deliver(notify, event(kind, level=1, notify=["team-lead"]))
        assert (result.ok, result.status_code) == (True, 202)
    assert pagerduty.history == [
        ("trigger", "T-1"),
        ("trigger", "T-1"),  # the escalation: the same incident, a new log entry
        ("acknowledge", "T-1"),
        ("resolve", "T-1"),
    ]
    assert pagerduty.incidents == {"T-1": "resolved"}
    replies = [json.loads(r.reply) for r in hook.received]
    assert all(r == {"status": "success", "message": "Event processed", "dedup_key": "T-1"}
               for r in replies)  # fmt: skip
    trigger = hook.received[0].json()
    assert trigger["routing_key"] == ROUTING_KEY
    assert trigger["payload"]["severity"] == "critical"


async def test_a_secret_on_a_service_webhook_signs_the_body_it_sends(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(service=Slack())
    await deliver(notifier(hook.url, "slack", secret=WHSEC), event("breach"))
    [got] = hook.received
    assert Webhook(WHSEC).verify(got.body, got.headers)["text"].startswith("P1 ticket T-1")


async def test_slacks_invalid_payload_is_a_rejection_dead_after_five_attempts(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(service=lambda headers, body: Answer(400, b"invalid_payload"))
    notify = notifier(hook.url, "slack")
    early = await failure(notify, event("breach"))
    assert (early.type, early.non_retryable) == ("DeliveryFailed", False)
    assert early.details[0]["detail"] == "HTTP 400 Bad Request: invalid_payload"
    last = await failure(notify, event("breach"), attempt=MAX_REJECTED_ATTEMPTS)
    assert (last.type, last.non_retryable) == ("DeliveryRejected", True)
    assert "invalid_payload" in last.message


async def test_pagerdutys_429_is_retried_and_its_answer_never_quotes_the_routing_key(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    said = {"status": "throttled", "message": f"Too many requests for {ROUTING_KEY}"}
    hook = receiver(service=lambda headers, body: Answer(429, json.dumps(said).encode()))
    caplog.set_level(logging.INFO, logger="slaflow.notify")
    caught = await failure(notifier(hook.url, "pagerduty"), event("breach"), attempt=9)
    assert (caught.type, caught.non_retryable) == ("DeliveryFailed", False)
    detail = caught.details[0]["detail"]
    assert detail == "HTTP 429 Too Many Requests: Too many requests for <redacted>"
    assert ROUTING_KEY not in caplog.text and ROUTING_KEY not in str(caught)


async def test_an_event_a_pagerduty_target_cannot_say_is_dead_at_once_and_never_sent(
    receiver: Callable[..., Receiver],
) -> None:
    # Its order was made while the target was a standard webhook; a reload made it PagerDuty.
    hook = receiver(service=PagerDuty())
    caught = await failure(notifier(hook.url, "pagerduty"), event("warning", fraction=0.75))
    assert (caught.type, caught.non_retryable) == ("EventNotInFormat", True)
    assert "no way to say a warning event" in caught.message
    assert hook.received == []


@pytest.mark.parametrize(
    ("service", "form", "status"),
    [(Slack, "slack", 200), (Teams, "teams", 202), (PagerDuty, "pagerduty", 202)],
    ids=["slack", "teams", "pagerduty"],
)
async def test_a_test_event_reaches_each_service_well_formed(
    receiver: Callable[..., Receiver], service: type, form: str, status: int
) -> None:
    answering = service()
    hook = receiver(service=answering)
    test = Event(id="a-test-event", type="test", at=AT, data={"message": "hello"})
    result = await notifier(hook.url, form).send(Delivery(event=test, target="webhook:oncall"))
    assert (result.ok, result.status_code) == (True, status)
    if form == "pagerduty":  # a resolve of an incident that never was: nobody is paged
        assert answering.history == [("resolve", "slaflow-test-a-test-event")]
        assert answering.incidents == {}


async def test_a_services_answer_quoting_the_urls_token_is_kept_without_it(
    receiver: Callable[..., Receiver],
) -> None:
    token = "/services/T0000/B0000/XXXXXXXXXXXXXXXX"
    hook = receiver(
        service=lambda headers, body: Answer(404, f"channel_not_found at {token}".encode()),
        path=token,
    )
    caught = await failure(notifier(hook.url, "slack"), event("breach"))
    assert caught.details[0]["detail"] == "HTTP 404 Not Found: channel_not_found at <redacted>"
