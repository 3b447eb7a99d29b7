"""The deliver activity against real receivers: an HTTP server and an SMTP server on 127.0.0.1
(tests/support: `Receiver`, `Inbox`; tests/conftest.py and tests/activities/conftest.py start
them). TLS for e-mail in detail: test_smtp_tls.py; Standard Webhooks: test_standard_webhooks.py."""

from __future__ import annotations

import dataclasses
import json
import logging
import ssl
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.notify import MAX_REJECTED_ATTEMPTS, Notifier, UnknownTargetError, email_message
from sla.notifications import (
    Delivery,
    DeliveryResult,
    EmailSettings,
    Event,
    NotificationsConfig,
    WebhookTarget,
    event_id,
    verify,
)
from telemetry import StructuredFormatter
from tests.support.mail import Inbox, parsed
from tests.support.ports import free_port
from tests.support.receiver import Receiver

AT = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)
SECRET = "whsec-test-0123"


def webhook_notifier(url: str, timeout: float = 5.0) -> Notifier:
    hook = WebhookTarget(name="ops", url=url, secret=SECRET)
    return Notifier(NotificationsConfig(webhooks=[hook]), timeout=timeout)


def breach(ticket_id: str = "T-1") -> Event:
    return Event(
        id=event_id(f"{ticket_id}:breach:response:c1"),
        type="breach",
        ticket_id=ticket_id,
        at=AT,
        data={"metric": "response", "priority": "P1", "due_at": "2026-11-27T09:15:00Z"},
    )


async def deliver(notifier: Notifier, delivery: Delivery, attempt: int = 1) -> DeliveryResult:
    """The activity as the worker runs it, on the given attempt."""
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=attempt)
    return await env.run(notifier.deliver, delivery)


async def failure(notifier: Notifier, delivery: Delivery, attempt: int = 1) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        await deliver(notifier, delivery, attempt)
    return caught.value


TO_OPS = "webhook:ops"


async def test_a_webhook_gets_the_event_signed_over_the_raw_body_with_its_id_header(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(204)
    result = await deliver(webhook_notifier(hook.url), Delivery(event=breach(), target=TO_OPS))
    assert (result.ok, result.status_code, result.attempt) == (True, 204, 1)
    [got] = hook.received
    assert verify(got.body, SECRET, got.headers["x-slaflow-signature"])
    body = json.loads(got.body)
    assert got.headers["x-slaflow-event-id"] == body["id"] == event_id("T-1:breach:response:c1")
    assert set(body) == {"id", "type", "ticket_id", "at", "data"}
    assert (body["type"], body["ticket_id"]) == ("breach", "T-1")
    assert got.headers["content-type"] == "application/json"


async def test_a_receiver_failing_twice_sees_the_same_event_three_times_and_accepts_it(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(500, 503, 200)
    notifier = webhook_notifier(hook.url)
    delivery = Delivery(event=breach(), target=TO_OPS)
    for attempt in (1, 2):
        error = await failure(notifier, delivery, attempt)
        assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
    result = await deliver(notifier, delivery, 3)
    assert (result.ok, result.status_code, result.attempt) == (True, 200, 3)
    assert [r.headers["x-slaflow-event-id"] for r in hook.received] == [delivery.event.id] * 3
    assert len({r.body for r in hook.received}) == 1
    assert [r.headers["x-slaflow-attempt"] for r in hook.received] == ["1", "2", "3"]


async def test_a_404_is_retried_until_the_fifth_attempt_then_rejected_for_good(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(404)
    notifier = webhook_notifier(hook.url)
    delivery = Delivery(event=breach(), target=TO_OPS)
    for attempt in range(1, MAX_REJECTED_ATTEMPTS):
        error = await failure(notifier, delivery, attempt)
        assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
    error = await failure(notifier, delivery, MAX_REJECTED_ATTEMPTS)
    assert (error.type, error.non_retryable) == ("DeliveryRejected", True)
    assert error.details[0]["status_code"] == 404
    assert len(hook.received) == MAX_REJECTED_ATTEMPTS == 5


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_a_busy_or_broken_receiver_stays_retryable_past_the_rejection_limit(
    receiver: Callable[..., Receiver], status: int
) -> None:
    hook = receiver(status)
    notifier = webhook_notifier(hook.url)
    delivery = Delivery(event=breach(), target=TO_OPS)
    for attempt in (MAX_REJECTED_ATTEMPTS, 40):
        error = await failure(notifier, delivery, attempt)
        assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
        assert error.details[0]["status_code"] == status


async def test_a_receiver_slower_than_the_timeout_is_retried(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(200, hang=True)
    notifier = webhook_notifier(hook.url, timeout=0.3)
    error = await failure(notifier, Delivery(event=breach(), target=TO_OPS))
    assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
    assert "Timeout" in error.details[0]["detail"]


async def test_a_receiver_that_is_down_is_retried() -> None:
    notifier = webhook_notifier(f"http://127.0.0.1:{free_port()}/hook")
    error = await failure(notifier, Delivery(event=breach(), target=TO_OPS), 7)
    assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
    assert error.details[0]["status_code"] is None


@pytest.mark.parametrize("target", ["webhook:gone", "mailto:lead@example.test", "pager:ops"])
async def test_a_target_the_config_cannot_reach_fails_the_activity_for_good(target: str) -> None:
    notifier = webhook_notifier("http://127.0.0.1:9/hook")
    error = await failure(notifier, Delivery(event=breach(), target=target))
    assert (error.type, error.non_retryable) == ("UnknownTarget", True)


async def test_send_reports_a_failing_receiver_without_raising(
    receiver: Callable[..., Receiver],
) -> None:
    hook = receiver(500)
    result = await webhook_notifier(hook.url).send(Delivery(event=breach(), target=TO_OPS))
    assert (result.ok, result.status_code, result.detail) == (
        False,
        500,
        "HTTP 500 Internal Server Error",
    )
    with pytest.raises(UnknownTargetError, match="unknown webhook 'gone'"):
        await webhook_notifier(hook.url).send(Delivery(event=breach(), target="webhook:gone"))


async def test_each_delivery_logs_one_json_line_without_the_secret_or_url(
    receiver: Callable[..., Receiver], caplog: pytest.LogCaptureFixture
) -> None:
    hook = receiver(200)
    token_url = f"{hook.url}?token=tok-secret-42"
    with caplog.at_level(logging.INFO, logger="slaflow.notify"):
        await deliver(webhook_notifier(token_url), Delivery(event=breach(), target=TO_OPS))
    as_json = StructuredFormatter(as_json=True)
    [line] = [as_json.format(r) for r in caplog.records if r.name == "slaflow.notify"]
    logged = json.loads(line)
    assert (logged["target"], logged["ok"], logged["event_id"]) == (
        TO_OPS,
        True,
        breach().id,
    )
    assert SECRET not in line
    assert "tok-secret-42" not in line


def mail_notifier(smtp_url: str) -> Notifier:
    email = EmailSettings(
        smtp_url=smtp_url, sender="slaflow@example.test", link_base="http://127.0.0.1:8000"
    )
    audiences = {"team-lead": ["mailto:lead@example.test"]}
    return Notifier(NotificationsConfig(email=email, audiences=audiences), timeout=5)


async def test_an_email_arrives_with_the_ticket_the_breach_and_the_timeline_link(
    smtp_server: Callable[..., Inbox], trusted_tls: ssl.SSLContext
) -> None:
    inbox = smtp_server(tls=trusted_tls)  # STARTTLS before AUTH and MAIL
    notifier = mail_notifier(f"smtp://mailer:p%40ss@127.0.0.1:{inbox.port}")
    delivery = Delivery(event=breach("T-77"), target="mailto:lead@example.test")
    result = await deliver(notifier, delivery)
    assert (result.ok, result.status_code) == (True, None)
    [envelope] = inbox.messages
    assert (envelope.mail_from, envelope.rcpt_tos) == (
        "slaflow@example.test",
        ["lead@example.test"],
    )
    message = parsed(envelope)
    assert message["Subject"] == "[slaflow] breach on ticket T-77"
    assert message["X-Slaflow-Event-Id"] == delivery.event.id
    assert message.get_content_type() == "text/plain"
    text = message.get_content()
    assert "Ticket: T-77" in text
    assert "metric: response" in text
    assert "http://127.0.0.1:8000/tickets/T-77/timeline" in text
    # Credentials come from the URL, percent-decoded, and go over TLS only.
    assert [(login.login, login.password) for login in inbox.logins] == [(b"mailer", b"p@ss")]


async def test_the_same_event_mailed_twice_carries_the_same_message_id(
    mail_server: Callable[..., Inbox],
) -> None:
    inbox = mail_server()
    notifier = mail_notifier(f"smtp://127.0.0.1:{inbox.port}?tls=none")  # a plain relay
    delivery = Delivery(event=breach(), target="mailto:lead@example.test")
    await deliver(notifier, delivery, 1)
    await deliver(notifier, delivery, 2)
    ids = [parsed(envelope)["Message-ID"] for envelope in inbox.messages]
    assert ids == [f"<{delivery.event.id}@slaflow>"] * 2
    assert inbox.logins == []  # no credentials in the URL: no login


async def test_a_refused_recipient_is_retryable(
    mail_server: Callable[..., Inbox],
) -> None:
    inbox = mail_server(refuse=True)
    notifier = mail_notifier(f"smtp://127.0.0.1:{inbox.port}?tls=none")
    error = await failure(notifier, Delivery(event=breach(), target="mailto:lead@example.test"))
    assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
    assert "550" in error.details[0]["detail"]
    assert inbox.messages == []


async def test_an_unreachable_smtp_server_is_retryable() -> None:
    notifier = mail_notifier(f"smtp://127.0.0.1:{free_port()}")
    error = await failure(notifier, Delivery(event=breach(), target="mailto:lead@example.test"))
    assert (error.type, error.non_retryable) == ("DeliveryFailed", False)


def test_a_statement_email_links_the_customers_statement() -> None:
    event = Event(
        id=event_id("acme:statement:2026-11"),
        type="statement",
        at=AT,
        data={"customer_id": "acme", "month": "2026-11", "credit_total": "150.00"},
    )
    settings = EmailSettings(
        smtp_url="smtp://127.0.0.1:25", sender="s@example.test", link_base="https://desk.test"
    )
    message = email_message(event, settings, "billing@example.test")
    assert message["Subject"] == "[slaflow] statement"
    text = message.get_content()
    assert "https://desk.test/customers/acme/statement?month=2026-11" in text
    assert "credit_total: 150.00" in text
