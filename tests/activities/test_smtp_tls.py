"""E-mail over TLS against real aiosmtpd servers with trustme certificates: smtp:// upgrades with
STARTTLS before it logs in or sends, and a server without STARTTLS is dead at once (unless
?tls=none, a relay without credentials); smtps:// is TLS from the start; a certificate the trust
store (SSL_CERT_FILE here: tests/activities/conftest.py) does not vouch for fails."""

from __future__ import annotations

import dataclasses
import ssl
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment
from temporalio.worker import Worker

from activities.notify import NO_STARTTLS, Notifier
from sla.notifications import (
    Delivery,
    DeliveryOrder,
    DeliveryResult,
    EmailSettings,
    Event,
    NotificationsConfig,
    delivery_id,
    delivery_workflow_id,
    event_id,
)
from store import Store
from tests.support.mail import Inbox, parsed
from worker import delivery_activities
from workflows.delivery import DeliveryWorkflow

TO_LEAD = "mailto:lead@example.test"


def breach() -> Delivery:
    ticket = f"T-{uuid.uuid4().hex[:8]}"  # a delivery workflow id of its own per test
    event = Event(
        id=event_id(f"{ticket}:breach:response:c1"),
        type="breach",
        ticket_id=ticket,
        at=datetime(2026, 11, 27, 9, 15, tzinfo=UTC),
        data={"metric": "response", "priority": "P1"},
    )
    return Delivery(event=event, target=TO_LEAD)


@pytest.fixture(autouse=True)
def trusted(trusted_tls: ssl.SSLContext) -> ssl.SSLContext:
    """Every test here runs with the test CA as the trust store (tests/activities/conftest.py)."""
    return trusted_tls


def mail_notifier(smtp_url: str) -> Notifier:
    email = EmailSettings(smtp_url=smtp_url, sender="slaflow@example.test")
    return Notifier(NotificationsConfig(email=email), timeout=5)


async def deliver(notifier: Notifier, delivery: Delivery) -> DeliveryResult:
    return await ActivityEnvironment().run(notifier.deliver, delivery)


async def failure(notifier: Notifier, delivery: Delivery) -> ApplicationError:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, attempt=1)
    with pytest.raises(ApplicationError) as caught:
        await env.run(notifier.deliver, delivery)
    return caught.value


async def test_starttls_then_auth_delivers(
    smtp_server: Callable[..., Inbox], trusted: ssl.SSLContext
) -> None:
    inbox = smtp_server(tls=trusted)  # no AUTH, no MAIL before STARTTLS
    notifier = mail_notifier(f"smtp://mailer:p%40ss@127.0.0.1:{inbox.port}")
    delivery = breach()
    result = await deliver(notifier, delivery)
    assert result.ok and "after STARTTLS" in result.detail
    assert [(login.login, login.password) for login in inbox.logins] == [(b"mailer", b"p@ss")]
    [envelope] = inbox.messages
    assert parsed(envelope)["X-Slaflow-Event-Id"] == delivery.event.id


async def test_starttls_without_credentials_delivers_too(
    smtp_server: Callable[..., Inbox], trusted: ssl.SSLContext
) -> None:
    inbox = smtp_server(tls=trusted)
    result = await deliver(mail_notifier(f"smtp://127.0.0.1:{inbox.port}"), breach())
    assert result.ok
    assert (len(inbox.messages), inbox.logins) == (1, [])


@pytest.mark.parametrize("credentials", ["mailer:pw@", ""])
async def test_a_server_without_starttls_is_a_permanent_failure_and_hears_nothing(
    smtp_server: Callable[..., Inbox], credentials: str
) -> None:
    inbox = smtp_server()  # plain, and it would take AUTH in clear
    notifier = mail_notifier(f"smtp://{credentials}127.0.0.1:{inbox.port}")
    error = await failure(notifier, breach())
    assert (error.type, error.non_retryable) == (NO_STARTTLS, True)
    detail = error.details[0]["detail"]
    assert "offers no STARTTLS" in detail and "?tls=none" in detail
    assert "pw" not in str(error)
    assert (inbox.logins, inbox.messages) == ([], [])
    # POST /notifications/test (Notifier.send) reports it rather than raising.
    sent = await notifier.send(breach())
    assert (sent.ok, sent.detail) == (False, detail)


async def test_tls_none_sends_in_clear_to_a_plain_relay(smtp_server: Callable[..., Inbox]) -> None:
    inbox = smtp_server()
    result = await deliver(mail_notifier(f"smtp://127.0.0.1:{inbox.port}?tls=none"), breach())
    assert result.ok and "in clear" in result.detail
    assert (len(inbox.messages), inbox.logins) == (1, [])


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
async def test_an_untrusted_certificate_fails_before_anything_is_sent(
    smtp_server: Callable[..., Inbox], untrusted_tls: ssl.SSLContext, implicit: bool
) -> None:
    inbox = smtp_server(tls=untrusted_tls, implicit_tls=implicit)
    scheme = "smtps" if implicit else "smtp"
    notifier = mail_notifier(f"{scheme}://mailer:pw@127.0.0.1:{inbox.port}")
    error = await failure(notifier, breach())
    # Retryable like an outage: a certificate gets fixed (renewed, the CA installed).
    assert (error.type, error.non_retryable) == ("DeliveryFailed", False)
    assert "CERTIFICATE_VERIFY_FAILED" in error.details[0]["detail"]
    assert (inbox.logins, inbox.messages) == ([], [])


async def test_smtps_is_tls_from_the_start(
    smtp_server: Callable[..., Inbox], trusted: ssl.SSLContext
) -> None:
    inbox = smtp_server(tls=trusted, implicit_tls=True)
    notifier = mail_notifier(f"smtps://mailer:pw@127.0.0.1:{inbox.port}")
    result = await deliver(notifier, breach())
    assert result.ok and "over TLS" in result.detail
    assert [(login.login, login.password) for login in inbox.logins] == [(b"mailer", b"pw")]
    assert len(inbox.messages) == 1


async def test_the_delivery_workflow_marks_a_server_without_starttls_dead_at_once(
    dev_env: WorkflowEnvironment,
    task_queue: str,
    tmp_path: Path,
    smtp_server: Callable[..., Inbox],
) -> None:
    inbox = smtp_server()
    email = EmailSettings(smtp_url=f"smtp://127.0.0.1:{inbox.port}", sender="s@example.test")
    config = NotificationsConfig(email=email)
    order = DeliveryOrder(delivery=breach(), give_up_after=timedelta(hours=1))
    store = Store.at(tmp_path / "store.sqlite3")
    async with Worker(
        dev_env.client,
        task_queue=task_queue,
        workflows=[DeliveryWorkflow],
        activities=delivery_activities(store, config),
    ):
        began = time.monotonic()
        outcome = await dev_env.client.execute_workflow(
            DeliveryWorkflow.run,
            order,
            id=delivery_workflow_id(delivery_id(order.delivery)),
            task_queue=task_queue,
        )
        took = time.monotonic() - began
    assert (outcome.state, outcome.attempts) == ("dead", 1)
    assert outcome.detail is not None and "offers no STARTTLS" in outcome.detail
    assert took < 30  # not the hour of the window
    assert inbox.messages == []
