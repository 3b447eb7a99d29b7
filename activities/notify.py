"""Delivery of one event to one target, webhook or e-mail: the `deliver` activity and its sender."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import ssl
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from opentelemetry import trace
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

import telemetry
from sla import formats
from sla.notifications import (
    MAILTO,
    WEBHOOK,
    Delivery,
    DeliveryResult,
    EmailSettings,
    Event,
    NotificationsConfig,
    WebhookTarget,
    sign,
    standard_signature,
)

log = logging.getLogger("slaflow.notify")

DELIVERY_TIMEOUT_SECONDS = 10.0
# A receiver that keeps refusing (4xx but 408/429) is asked this many times, then given up on.
MAX_REJECTED_ATTEMPTS = 5
USER_AGENT = "slaflow-webhooks/1"
# Error types of failures no retry can fix: the delivery is dead at once.
REDIRECTED = "DeliveryRedirected"
INVALID_URL = "InvalidUrl"
# smtp:// to a server that offers no STARTTLS: mail and credentials never go in clear.
NO_STARTTLS = "StartTlsUnavailable"
# An event the webhook's format has no way to say (a warning for PagerDuty, after a reload).
CANNOT_SAY = "EventNotInFormat"
# How much of a service's answer a delivery's detail keeps.
REASON_LIMIT = 200
# A URL's path or query this long may be a token: redacted from a service's answer.
MIN_TOKEN = 12


class UnknownTargetError(LookupError):
    """The config cannot deliver to the target: no such webhook, or e-mail not configured."""


def is_rejection(status_code: int | None) -> bool:
    """A 4xx that retrying will not fix; 408 and 429 ask to come back later."""
    return status_code is not None and 400 <= status_code < 500 and status_code not in (408, 429)


class Notifier:
    """Sends events; `deliver` is the activity, `send` the same without Temporal (test endpoint)."""

    def __init__(
        self,
        config: NotificationsConfig | Callable[[], NotificationsConfig],
        http: httpx.AsyncClient | None = None,
        timeout: float = DELIVERY_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # A callable reads the config in force at each delivery: a reload (SIGHUP) changes the
        # URLs and secrets of deliveries already on their way too.
        self._config = config
        self._http = http
        self._timeout = timeout
        self._clock = clock  # unix time of each attempt: `webhook-timestamp`

    @property
    def config(self) -> NotificationsConfig:
        return self._config() if callable(self._config) else self._config

    async def send(self, delivery: Delivery, attempt: int = 1) -> DeliveryResult:
        """One attempt; a failing receiver gives ok False, only an unknown target raises."""
        result, _ = await self._attempt(delivery, attempt)
        return result

    async def _attempt(self, delivery: Delivery, attempt: int) -> tuple[DeliveryResult, str | None]:
        """One attempt, and the error type of a failure that no retry can fix (None: ok, or
        worth retrying)."""
        target = delivery.target
        problem = self.config.target_problem(target)
        if problem is not None:
            raise UnknownTargetError(problem)
        started = time.monotonic()
        if target.startswith(WEBHOOK):
            hook = self.config.webhook(target.removeprefix(WEBHOOK))
            assert hook is not None  # target_problem checked it
            status, ok, detail, permanent = await self._post(hook, delivery.event, attempt)
        else:
            assert self.config.email is not None  # config validation: mailto needs email
            status = None
            settings = self.config.email
            if settings.link_base is None and self.config.pages is not None:
                # notifications.link_base serves e-mail too
                settings = settings.model_copy(update={"link_base": self.config.pages})
            ok, detail, permanent = await asyncio.to_thread(
                self._mail, settings, target.removeprefix(MAILTO), delivery.event
            )
        result = DeliveryResult(
            target=target, ok=ok, status_code=status, detail=detail, attempt=attempt
        )
        _log(delivery, result, time.monotonic() - started)
        return result, permanent

    @activity.defn(name="deliver")
    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Raises a retryable `DeliveryFailed` on a non-2xx answer, a timeout or a failed send;
        non-retryable: `DeliveryRejected` when attempt 5 or later is answered with a 4xx other
        than 408/429, `DeliveryRedirected` on a 3xx (redirects are not followed: the URL
        needs fixing, which no retry does), `InvalidUrl` for a URL no request can be made to,
        `StartTlsUnavailable` for an smtp:// server without STARTTLS, `EventNotInFormat` for an
        event the webhook's format cannot say (its format changed), `UnknownTarget` for a
        target the config cannot reach. Every failure but UnknownTarget carries the attempt's
        `DeliveryResult` as its details.

        Delivered and dead are counted by the delivery workflow's store write, once per
        delivery (activities/deliveries.py); here each failed attempt is counted."""
        attempt = activity.info().attempt
        # On the activity's span (tracing.py): what a trace search finds a delivery by.
        event = delivery.event
        span = trace.get_current_span()
        span.set_attributes(
            {"slaflow.event_type": str(event.type), "slaflow.event_id": event.id}
            | {"slaflow.target": delivery.target, "slaflow.attempt": attempt}
        )
        if event.ticket_id is not None:
            span.set_attribute("slaflow.ticket_id", event.ticket_id)
        try:
            result, permanent = await self._attempt(delivery, attempt)
        except UnknownTargetError as exc:
            raise ApplicationError(str(exc), type="UnknownTarget", non_retryable=True) from None
        if result.ok:
            return result
        details = result.model_dump(mode="json")
        if permanent is not None:
            telemetry.DELIVERIES.labels("rejected").inc()
            raise ApplicationError(
                f"{result.target}: {result.detail}", details, type=permanent, non_retryable=True
            )
        if is_rejection(result.status_code) and attempt >= MAX_REJECTED_ATTEMPTS:
            telemetry.DELIVERIES.labels("rejected").inc()
            raise ApplicationError(
                f"{result.target} rejected the event {attempt} times: {result.detail}",
                details,
                type="DeliveryRejected",
                non_retryable=True,
            )
        telemetry.DELIVERIES.labels("retrying").inc()
        raise ApplicationError(
            f"{result.target}: {result.detail}",
            details,
            type="DeliveryFailed",
            # Retried by design and logged above in one line: no traceback per attempt.
            category=ApplicationErrorCategory.BENIGN,
        )

    async def _post(
        self, hook: WebhookTarget, event: Event, attempt: int
    ) -> tuple[int | None, bool, str, str | None]:
        """(status code, ok, detail, the error type of a failure no retry can fix)."""
        try:
            body = formats.body(hook, event, self.config.pages)
        except formats.CannotSay as exc:  # a target's format changed since the event was sent
            return None, False, f"{exc} ({hook.format} webhook)", CANNOT_SAY
        secrets = hook.all_secrets()
        # Standard Webhooks: the id is the event's on every retry, the timestamp this attempt's.
        # Every format has them: Slack, Teams and PagerDuty ignore headers they do not know.
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
            "X-Slaflow-Event-Id": event.id,
            "X-Slaflow-Event-Type": event.type,
            "X-Slaflow-Attempt": str(attempt),
        }
        if secrets:  # a chat or PagerDuty webhook may have none: the URL or key is its secret
            headers["webhook-signature"] = standard_signature(event.id, timestamp, body, secrets)
            # Deprecated (docs/webhooks.md): kept for receivers not yet on webhook-signature.
            headers["X-Slaflow-Signature"] = sign(body, secrets[0])
        problem = _url_problem(hook.url)
        if problem is not None:
            return None, False, f"invalid URL ({problem})", INVALID_URL
        try:
            if self._http is not None:
                response = await self._http.post(
                    hook.url, content=body, headers=headers, timeout=self._timeout
                )
            else:
                # A client per delivery: deliveries are rare, and nothing is left to close.
                async with httpx.AsyncClient(timeout=self._timeout) as http:
                    response = await http.post(hook.url, content=body, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            # No request can be made to this URL: a config error, which no retry fixes.
            text = str(exc).replace(hook.url, "<url>")
            return None, False, f"invalid URL ({type(exc).__name__}: {text})", INVALID_URL
        except httpx.HTTPError as exc:
            # Exception texts may quote the URL, which can hold a token.
            text = str(exc).replace(hook.url, "<url>")
            return None, False, f"{type(exc).__name__}: {text}".rstrip(": "), None
        detail = f"HTTP {response.status_code} {response.reason_phrase}"
        if response.is_redirect or 300 <= response.status_code < 400:
            where = _origin(response.headers.get("location"))
            detail += f", redirects to {where} (redirects are not followed: fix the URL)"
            return response.status_code, False, detail, REDIRECTED
        if hook.format != "standard" and not response.is_success:
            # The service says why (Slack's invalid_payload, PagerDuty's errors): worth keeping
            # on a dead delivery; never the URL or routing key, should it quote them.
            # The URL's path and query (Slack's and Teams' tokens) too, when long enough to
            # be one: a "/" is no secret.
            parts = urlsplit(hook.url)
            tokens = [t for t in (parts.path, parts.query) if len(t) >= MIN_TOKEN]
            why = _service_reason(response, [hook.url, *tokens, hook.routing_key or ""])
            detail += f": {why}" if why else ""
        return response.status_code, response.is_success, detail, None

    def _mail(
        self, settings: EmailSettings, address: str, event: Event
    ) -> tuple[bool, str, str | None]:
        """Blocking: runs in a thread. (ok, detail, the error type of a failure no retry can
        fix): only a missing STARTTLS is; any refusal or other failure is worth another try.

        Certificates are checked against the system trust store (`SSL_CERT_FILE` honoured)."""
        parts = urlsplit(settings.smtp_url)
        host = parts.hostname or ""
        tls = settings.tls
        port = parts.port or (465 if tls == "implicit" else 25)
        message = email_message(event, settings, address)
        smtp: smtplib.SMTP
        try:
            if tls == "implicit":
                context = ssl.create_default_context()
                smtp = smtplib.SMTP_SSL(host, port, timeout=self._timeout, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=self._timeout)
            with smtp:
                if tls == "starttls":
                    smtp.ehlo()
                    if not smtp.has_extn("starttls"):
                        detail = (
                            f"the SMTP server {host}:{port} offers no STARTTLS, and smtp:// "
                            "sends nothing in clear: use smtps://, or ?tls=none for a relay "
                            "without credentials"
                        )
                        return False, detail, NO_STARTTLS
                    smtp.starttls(context=ssl.create_default_context())
                if parts.username is not None and parts.password is not None:
                    smtp.login(unquote(parts.username), unquote(parts.password))
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            error = exc.smtp_error
            reason = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
            return False, f"SMTP {exc.smtp_code} {reason}", None
        except (smtplib.SMTPException, OSError) as exc:
            return False, f"{type(exc).__name__}: {exc}", None
        if refused:
            return False, f"SMTP refused {', '.join(refused)}", None
        how = {"implicit": "over TLS", "starttls": "after STARTTLS", "none": "in clear"}[tls]
        return True, f"accepted by the SMTP server {host}:{port} {how}", None


def email_message(event: Event, settings: EmailSettings, address: str) -> EmailMessage:
    """Plain text: what happened to which ticket, the event's data, and where to look."""
    what = event.type if event.ticket_id is None else f"{event.type} on ticket {event.ticket_id}"
    message = EmailMessage()
    message["Subject"] = f"[slaflow] {what}"
    message["From"] = settings.sender
    message["To"] = address
    message["Date"] = format_datetime(event.at)
    # Derived from the event id, so a mail client shows a retried event as the same message.
    message["Message-ID"] = f"<{event.id}@slaflow>"
    message["X-Slaflow-Event-Id"] = event.id
    lines = [f"slaflow: {what}", "", f"Event:  {event.type}"]
    if event.ticket_id is not None:
        lines.append(f"Ticket: {event.ticket_id}")
    lines.append(f"At:     {event.at.isoformat()}")
    lines += [f"{key}: {_text(value)}" for key, value in sorted(event.data.items())]
    lines += ["", *_links(event, settings.link_base), "", f"Event id: {event.id}"]
    message.set_content("\n".join(lines) + "\n")
    return message


def _url_problem(url: str) -> str | None:
    """Why no request can be made to `url` (a port that is no number or out of range, a
    character no URL may hold), or None; never quoting the URL, which may hold a token."""
    try:
        port = httpx.URL(url).port
    except httpx.InvalidURL as exc:
        return str(exc).replace(url, "<url>")
    if port is not None and not 0 < port < 65536:
        return f"port {port} is out of range"
    return None


def _service_reason(response: httpx.Response, secrets: list[str]) -> str:
    """A service's short answer: Slack's error string, or PagerDuty's and Teams' JSON message
    and errors; empty when it said nothing readable. `secrets` (the URL, its path and query,
    the routing key) are redacted, should the answer quote them."""
    text = response.text.strip()
    try:
        answer = json.loads(text)
    except ValueError:
        said = " ".join(text.split())
    else:
        if not isinstance(answer, dict):
            return ""
        errors, error = answer.get("errors"), answer.get("error")
        parts = [answer.get("message"), *(errors if isinstance(errors, list) else [])]
        if isinstance(error, dict):  # Power Automate: {"error": {"code": ..., "message": ...}}
            parts += [error.get("code"), error.get("message")]
        said = "; ".join(str(p) for p in parts if p)
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        said = said.replace(secret, "<redacted>")
    return said[:REASON_LIMIT]


def _origin(location: str | None) -> str:
    """Where a redirect points, without path or query (either may carry a token)."""
    if not location:
        return "nowhere (no Location header)"
    try:
        parts = urlsplit(location)
        port = parts.port
    except ValueError:
        return "an invalid Location"
    if not parts.scheme or not parts.hostname:
        return "another path on the same host"
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port is not None else "")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _links(event: Event, base: str | None) -> list[str]:
    prefix = base or ""
    if event.ticket_id is not None:
        path = f"/tickets/{event.ticket_id}"
        return [f"Ticket:   {prefix}{path}", f"Timeline: {prefix}{path}/timeline"]
    customer, month = event.data.get("customer_id"), event.data.get("month")
    if isinstance(customer, str) and isinstance(month, str):
        return [f"Statement: {prefix}/customers/{customer}/statement?month={month}"]
    return []


def _log(delivery: Delivery, result: DeliveryResult, seconds: float) -> None:
    # One line per attempt; no URLs (they may hold tokens), secrets, titles or bodies.
    fields = {
        "event_id": delivery.event.id,
        "type": delivery.event.type,
        "ticket_id": delivery.event.ticket_id,
        "target": result.target,
        "attempt": result.attempt,
        "ok": result.ok,
        "status_code": result.status_code,
        "detail": result.detail,
        "ms": round(seconds * 1000),
    }
    log.info("delivery", extra={"fields": fields})
