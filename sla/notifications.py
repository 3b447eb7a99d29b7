"""Notifications: events a ticket sends out, webhook and e-mail targets, audiences, signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args
from urllib.parse import parse_qs, urlsplit

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    ValidationInfo,
    field_validator,
    model_validator,
)

from sla.actions import ID_PATTERN
from sla.durations import parse_duration

EventType = Literal[
    "warning", "breach", "escalation", "penalty", "reward", "resolved", "statement", "test",
    "survey", "follow_up", "rating", "responded",
]  # fmt: skip
ALL_EVENTS: tuple[EventType, ...] = get_args(EventType)
# A webhook hears every real event unless its filter says otherwise; "test" only on request,
# and "responded" (a first response: routine news, an on-call page's acknowledgement) only
# where asked for, so receivers and channels set up before it hear what they heard before.
DEFAULT_EVENTS: tuple[EventType, ...] = tuple(
    e for e in ALL_EVENTS if e not in ("test", "responded")
)

# How a webhook's body is written (sla/formats.py): slaflow's own event, or what a chat
# service's incoming webhook or PagerDuty's Events API v2 takes.
WebhookFormat = Literal["standard", "slack", "teams", "pagerduty"]
# PagerDuty has trigger, acknowledge and resolve: these are the events it can say.
PAGERDUTY_EVENTS: tuple[EventType, ...] = ("breach", "escalation", "responded", "resolved")
PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
# An Events API v2 integration key: 32 letters and digits (docs/webhooks.md, PagerDuty).
_ROUTING_KEY = re.compile(r"^[A-Za-z0-9]{32}$")

WEBHOOK = "webhook:"
MAILTO = "mailto:"
_ADDRESS = re.compile(r"^[^@\s<>,;:\"]+@[^@\s<>,;:\"]+$")

# Fixed forever: event ids derived from it are what receivers deduplicate by.
EVENT_NAMESPACE = uuid.UUID("6f1c3a52-8d0e-5b7a-9c4e-2f5d8a1b7c30")

SIGNATURE_PREFIX = "sha256="
# Standard Webhooks (https://www.standardwebhooks.com): a `whsec_` secret is the base64 of its key.
WHSEC_PREFIX = "whsec_"
# The spec asks at least 24 random bytes of a `whsec_` key.
MIN_WHSEC_BYTES = 24

DEFAULT_GIVE_UP_AFTER = timedelta(days=3)
# Less would give a receiver no time for a restart; tests use a few seconds.
MIN_GIVE_UP_AFTER = timedelta(seconds=1)


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host")
    return value


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret: a `whsec_<base64>` secret's decoded bytes, as Standard Webhooks
    defines them; any other secret is its own UTF-8 bytes. Errors never quote the secret."""
    if not secret.startswith(WHSEC_PREFIX):
        return secret.encode()
    encoded = secret.removeprefix(WHSEC_PREFIX)
    try:
        # Unpadded base64 is common (the stock verifiers pad it too); strict otherwise.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except binascii.Error:
        raise ValueError("a whsec_ secret is whsec_ and the standard base64 of its key") from None
    if len(key) < MIN_WHSEC_BYTES:
        raise ValueError(f"a whsec_ secret's key must be at least {MIN_WHSEC_BYTES} bytes")
    return key


def _checked_secret(secret: str) -> str:
    signing_key(secret)
    return secret


WebhookSecret = Annotated[str, Field(min_length=1), AfterValidator(_checked_secret)]


class WebhookTarget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ID_PATTERN)
    url: str = Field(repr=False)  # may embed a token: kept out of reprs and logs
    format: WebhookFormat = "standard"
    # Exactly one of the two for `standard`, at most one otherwise (those services know the
    # sender by its URL or routing key); `secrets: [new, old]` signs with each, for rotation.
    secret: WebhookSecret | None = Field(default=None, repr=False)
    secrets: list[WebhookSecret] | None = Field(default=None, min_length=1, repr=False)
    # PagerDuty's integration key: it opens incidents, so it is kept like a secret.
    routing_key: str | None = Field(default=None, repr=False, validate_default=True)
    # Left out: DEFAULT_EVENTS, or PAGERDUTY_EVENTS for a pagerduty webhook (_format_defaults).
    events: list[EventType] = Field(default_factory=lambda: list(DEFAULT_EVENTS), min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _format_defaults(cls, data: Any) -> Any:
        # Left out, a PagerDuty webhook's `events` are what PagerDuty can say, its `url` the
        # Events API's.
        if isinstance(data, dict) and data.get("format") == "pagerduty":
            data = {"events": list(PAGERDUTY_EVENTS), "url": PAGERDUTY_URL, **data}
        return data

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        return _http_url(value, "url")

    @field_validator("routing_key")
    @classmethod
    def _routing_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Errors never quote the key.
        form = info.data.get("format")
        if form == "pagerduty" and value is None:
            raise ValueError(
                "a pagerduty webhook needs the routing key (integration key) of an Events API "
                "v2 integration"
            )
        if form is not None and form != "pagerduty" and value is not None:
            raise ValueError(f"only a pagerduty webhook takes a routing key, not {form}")
        if value is not None and not _ROUTING_KEY.match(value):
            raise ValueError("a PagerDuty routing key is 32 letters and digits")
        return value

    @field_validator("events")
    @classmethod
    def _sayable(cls, value: list[EventType], info: ValidationInfo) -> list[EventType]:
        other = [e for e in value if e not in (*PAGERDUTY_EVENTS, "test")]
        if info.data.get("format") == "pagerduty" and other:
            raise ValueError(
                f"a pagerduty webhook sends only {', '.join(PAGERDUTY_EVENTS)} (PagerDuty's "
                f"trigger, acknowledge and resolve), not {', '.join(other)}"
            )
        return value

    @model_validator(mode="after")
    def _one_form(self) -> WebhookTarget:
        if self.secret is not None and self.secrets is not None:
            raise ValueError("give either `secret` or `secrets: [new, old]`, not both")
        if self.format == "standard" and self.secret is None and self.secrets is None:
            raise ValueError(
                "a standard webhook is signed: give either `secret` or `secrets: [new, old]`"
            )
        return self

    def all_secrets(self) -> list[str]:
        """The configured secrets, newest first (a single `secret` is a list of one); none for
        a service webhook configured without one."""
        if self.secret is not None:
            return [self.secret]
        return list(self.secrets or [])


class EmailSettings(BaseModel):
    """The SMTP server that carries `mailto:` targets; `from` in config."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    smtp_url: str = Field(repr=False)  # may hold a password
    sender: str = Field(alias="from")
    link_base: str | None = None

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError(
                "smtp_url must look like smtp://[user:pass@]host:port[?tls=none] or smtps://..."
            )
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            raise ValueError("smtp_url: the port must be a number") from None
        if (parts.username is None) != (parts.password is None):
            raise ValueError("smtp_url: give both user and password, or neither")
        query = parse_qs(parts.query, keep_blank_values=True)
        if unknown := sorted(set(query) - {"tls"}):
            raise ValueError(f"smtp_url: unknown parameter {unknown[0]!r} (only ?tls=none)")
        if "tls" in query:
            if query["tls"] != ["none"] or parts.scheme != "smtp":
                raise ValueError("smtp_url: ?tls= takes one value, none, and only on smtp://")
            if parts.username is not None:
                raise ValueError(
                    "smtp_url: ?tls=none would send the password in clear; drop the user and "
                    "password (a local relay), or drop ?tls=none (STARTTLS) or use smtps://"
                )
        return value

    @property
    def tls(self) -> Literal["implicit", "starttls", "none"]:
        """smtps:// is TLS from the start; smtp:// must upgrade with STARTTLS, unless it says
        ?tls=none (a local relay, no credentials: the validator makes sure)."""
        parts = urlsplit(self.smtp_url)
        if parts.scheme == "smtps":
            return "implicit"
        return "none" if "tls" in parse_qs(parts.query) else "starttls"

    @field_validator("sender")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("link_base")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "link_base").rstrip("/")


class Routing(BaseModel):
    """Who hears what, without URLs or secrets: safe to hand to a workflow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    routes: dict[str, list[str]] = {}
    audiences: dict[str, list[str]] = {}
    # How long each delivery is retried before it is dead (notifications.give_up_after).
    give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER
    # Where slaflow's pages are (notifications.link_base): a survey links the ticket.
    link_base: str | None = None
    # Targets whose format says only some event types (PagerDuty): target -> those types.
    only: dict[str, list[str]] = {}

    def targets_for(self, event_type: str, audiences: list[str] | None = None) -> list[str]:
        """Webhooks subscribed to the event, then the audiences' targets; once each, in order;
        without the targets whose format cannot say the event (a follow-up to PagerDuty).

        An audience with no mapping adds nothing (config validation refuses that when
        audiences are configured at all)."""
        if event_type not in ALL_EVENTS:
            raise ValueError(f"unknown event type {event_type!r}")
        targets = list(self.routes.get(event_type, []))
        for audience in audiences or []:
            targets.extend(self.audiences.get(audience, []))
        return [
            target
            for target in dict.fromkeys(targets)
            if target not in self.only or event_type in self.only[target]
        ]


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    webhooks: list[WebhookTarget] = []
    email: EmailSettings | None = None
    audiences: dict[str, list[str]] = {}
    # Each delivery retries with backoff this long, then is dead: kept, listed, retried by hand.
    give_up_after: Annotated[timedelta, BeforeValidator(parse_duration)] = DEFAULT_GIVE_UP_AFTER
    # Where slaflow's pages are, for the links in chat messages, incidents, e-mails and surveys;
    # `email.link_base`, the older place, when this is not set.
    link_base: str | None = None

    @field_validator("link_base")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "link_base").rstrip("/")

    @property
    def pages(self) -> str | None:
        """The link base in force: `link_base`, else `email.link_base`."""
        return self.link_base or (self.email.link_base if self.email else None)

    @field_validator("give_up_after")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < MIN_GIVE_UP_AFTER:
            raise ValueError(f"give_up_after must be at least {MIN_GIVE_UP_AFTER.seconds}s")
        return value

    @model_validator(mode="before")
    @classmethod
    def _name_unnamed_webhooks(cls, data: Any) -> Any:
        # Webhooks listed without names (docs/webhooks.md) are webhook-1, webhook-2, ...
        if isinstance(data, dict) and isinstance(data.get("webhooks"), list):
            hooks = [
                {"name": f"webhook-{n}", **hook} if isinstance(hook, dict) else hook
                for n, hook in enumerate(data["webhooks"], start=1)
            ]
            data = {**data, "webhooks": hooks}
        return data

    @field_validator("audiences")
    @classmethod
    def _audience_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for audience, targets in value.items():
            if not re.match(ID_PATTERN, audience):
                raise ValueError(f"{audience!r}: an audience name is 1-64 of A-Z a-z 0-9 . _ -")
            if not targets:
                raise ValueError(f"{audience}: an audience needs at least one target")
        return value

    @model_validator(mode="after")
    def _targets_exist(self) -> NotificationsConfig:
        names = [hook.name for hook in self.webhooks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"webhooks: duplicate name {', '.join(duplicates)}")
        for audience, targets in self.audiences.items():
            for target in targets:
                problem = self.target_problem(target)
                if problem:
                    raise ValueError(f"audiences.{audience}: {problem}")
        return self

    def target_problem(self, target: str) -> str | None:
        """Why this config cannot deliver to `target`, or None when it can."""
        if target.startswith(WEBHOOK):
            name = target.removeprefix(WEBHOOK)
            if self.webhook(name) is None:
                known = ", ".join(hook.name for hook in self.webhooks) or "none configured"
                return f"unknown webhook {name!r} (known: {known})"
            return None
        if target.startswith(MAILTO):
            if not _ADDRESS.match(target.removeprefix(MAILTO)):
                return f"{target!r} is not an e-mail address"
            if self.email is None:
                return f"{target!r} needs notifications.email (an SMTP server)"
            return None
        return f"{target!r}: a target is webhook:<name> or mailto:<address>"

    def routes(self) -> dict[str, list[str]]:
        """Event type -> the `webhook:<name>` targets subscribed to it, in config order."""
        return {
            event: [f"{WEBHOOK}{hook.name}" for hook in self.webhooks if event in hook.events]
            for event in ALL_EVENTS
        }

    def routing(self) -> Routing:
        return Routing(
            routes=self.routes(),
            audiences=self.audiences,
            give_up_after=self.give_up_after,
            link_base=self.pages,
            only={
                f"{WEBHOOK}{hook.name}": list(PAGERDUTY_EVENTS)
                for hook in self.webhooks
                if hook.format == "pagerduty"
            },
        )

    def targets_for(self, event_type: str, audiences: list[str]) -> list[str]:
        return self.routing().targets_for(event_type, audiences)

    def webhook(self, name: str) -> WebhookTarget | None:
        return next((hook for hook in self.webhooks if hook.name == name), None)


def event_id(key: str) -> str:
    """A stable event id: the same key (e.g. `T-1:escalation:response:c1:l2`) gives the same id
    on every retry and replay, so receivers can drop duplicates."""
    return str(uuid.uuid5(EVENT_NAMESPACE, key))


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=128)
    type: EventType
    ticket_id: str | None = Field(default=None, pattern=ID_PATTERN)
    at: AwareDatetime
    data: dict[str, JsonValue] = {}

    @staticmethod
    def event_id(key: str) -> str:
        return event_id(key)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def body(self) -> bytes:
        """The exact bytes sent and signed: sorted keys, no spaces, ASCII only."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")
        ).encode("ascii")


class Delivery(BaseModel):
    """One event for one target: the input of one `deliver` activity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event: Event
    target: str


# The delivery workflow's type; one run per (event, target), id `delivery-<delivery_id>`.
DELIVERY_WORKFLOW = "Delivery"


def delivery_id(delivery: Delivery) -> str:
    """Stable per (event id, target): a retried or replayed announcement finds its delivery."""
    digest = hashlib.sha256(f"{delivery.event.id}\n{delivery.target}".encode()).hexdigest()
    return digest[:32]


def delivery_workflow_id(delivery_id: str) -> str:
    return f"delivery-{delivery_id}"


class DeliveryOrder(BaseModel):
    """The delivery workflow's input: what to send, for how long to try, and which ticket
    (its workflow id) hears of a delivery given up on, if it still runs."""

    delivery: Delivery
    give_up_after: timedelta = DEFAULT_GIVE_UP_AFTER
    ticket_workflow_id: str | None = None


class DeliveryFailure(BaseModel):
    """The `delivery_failed` signal a delivery workflow sends its ticket when it gives up."""

    event_type: str
    target: str
    detail: str
    at: datetime


class DeliveryResult(BaseModel):
    target: str
    ok: bool
    status_code: int | None = None
    detail: str
    attempt: int


def sign(body: bytes, secret: str) -> str:
    """`X-Slaflow-Signature` (deprecated): keyed with the secret's text as written, as ever."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    return hmac.compare_digest(sign(body, secret).encode(), header.encode())


def standard_signature(msg_id: str, timestamp: int, body: bytes, secrets: list[str]) -> str:
    """`webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` per secret,
    space-separated, so a receiver holding either key during a rotation verifies."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(signing_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    )
