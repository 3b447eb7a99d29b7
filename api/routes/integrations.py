"""Help desks in: `POST /integrations/jira` and `POST /integrations/zendesk` take the desks' own
webhooks, signed with the shared secret in the config (no API key: a desk cannot send ours);
`GET /integrations/events` lists each delivery and what came of it (staff)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel

import telemetry
from api.auth import STAFF
from api.deps import DeskDep, StoreDep
from api.desk import Desk
from api.desk_in import apply_reading
from api.errors import ApiError
from api.routes.tickets import decode_page_token, encode_page_token
from api.schemas import Time
from sla.actions import ID_PATTERN
from sla.integrations.jira import COMMENTED, UPDATED, read_jira
from sla.integrations.signatures import jira_signed, zendesk_problem
from sla.integrations.zendesk import read_zendesk, ticket_id_of
from store import Store
from store.integrations import (
    IntegrationEvent,
    Outcome,
    Source,
    integration_event,
    integration_events,
    record_integration_event,
    reporter_of,
)

router = APIRouter(prefix="/integrations", tags=["integrations"])
log = logging.getLogger("slaflow.api")

# A desk's delivery id as the store keeps it; anything else is hashed (below).
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


class StepOut(BaseModel):
    do: str
    at: Time | None
    outcome: Outcome
    reason: str | None


class IntegrationEventOut(BaseModel):
    source: Source
    delivery_id: str
    event: str
    ticket_id: str | None
    outcome: Outcome
    reason: str | None
    steps: list[StepOut]
    event_at: Time | None
    received_at: Time

    @classmethod
    def of(cls, event: IntegrationEvent) -> IntegrationEventOut:
        fields = event.model_dump(exclude={"reporter", "steps"})
        return cls(**fields, steps=[StepOut(**s.model_dump()) for s in event.steps])


class DeliveryAnswer(IntegrationEventOut):
    # True: the desk sent this delivery before; it is answered as then, and nothing applied.
    duplicate: bool = False


class IntegrationEventPage(BaseModel):
    events: list[IntegrationEventOut]
    next_page_token: str | None


def _delivery_id(header: str | None, raw: bytes) -> str:
    """The desk's own delivery id (the same on each of its retries); for a desk that sends
    none, or one the store cannot keep, the body's hash (the same body is the same delivery)."""
    if header and _DELIVERY_ID.fullmatch(header.strip()):
        return header.strip()
    seed = header.encode() if header else raw
    return "sha256-" + hashlib.sha256(seed).hexdigest()[:40]


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "the body is not valid UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise ApiError(422, "the body must be a JSON object")
    return body


T = TypeVar("T")


async def _stored(call: Callable[..., T], *args: Any) -> T:
    """A store call off the event loop; a store that fails is a 503, so the desk retries."""
    try:
        return await asyncio.to_thread(call, *args)
    except Exception as exc:
        log.warning(
            "the store did not answer for a help desk's delivery",
            extra={"fields": {"error": type(exc).__name__}},
        )
        raise ApiError(503, "the store did not answer; the delivery can be sent again") from None


def _not_configured(desk_name: str, key: str) -> ApiError:
    return ApiError(404, f"{desk_name} is not configured: add integrations.{key} to the config")


async def _received(
    desk: Desk, store: Store, source: Source, delivery_id: str, read: Callable[[], Any]
) -> DeliveryAnswer:
    """A verified delivery: answered from the store if it came before, else read, applied
    and recorded once."""
    before = await _stored(integration_event, store, source, delivery_id)
    if before is not None:
        return DeliveryAnswer(**IntegrationEventOut.of(before).model_dump(), duplicate=True)
    reading = await read()
    event = await apply_reading(desk, source, delivery_id, reading)
    kept = await _stored(record_integration_event, store, event)
    log.info(
        "help desk delivery %s",
        kept.outcome,
        extra={"fields": {"source": source, "delivery_id": delivery_id, "event": kept.event,
                          "ticket_id": kept.ticket_id, "outcome": kept.outcome}},
    )  # fmt: skip
    again = kept.received_at != event.received_at  # a retry that raced this one was first
    if not again:
        telemetry.DESK_DELIVERIES.labels(source, kept.outcome).inc()
    return DeliveryAnswer(**IntegrationEventOut.of(kept).model_dump(), duplicate=again)


# The body is read raw (the signature is over its bytes), so the schema is declared here.
_ANY_JSON_OBJECT = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


@router.post("/jira", response_model=DeliveryAnswer, openapi_extra=_ANY_JSON_OBJECT)
async def jira(
    request: Request,
    desk: DeskDep,
    store: StoreDep,
    signature: Annotated[str | None, Header(alias="X-Hub-Signature")] = None,
    identifier: Annotated[str | None, Header(alias="X-Atlassian-Webhook-Identifier")] = None,
) -> DeliveryAnswer:
    """A Jira webhook (issue created, issue updated, comment created), signed with the
    webhook's secret: `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`."""
    mapping = desk.config.integrations.jira
    if mapping is None:
        raise _not_configured("Jira", "jira")
    raw = await request.body()  # the signature is over these very bytes
    if not jira_signed(mapping.secret, raw, signature):
        raise ApiError(401, "X-Hub-Signature is missing or does not match the body")
    body = _json_object(raw)
    delivery_id = _delivery_id(identifier, raw)

    async def read() -> Any:
        reporter = None
        event = body.get("webhookEvent")
        if event in (COMMENTED, UPDATED):  # comment bodies may not say who reported the issue
            probe = read_jira(body, mapping, delivery_id)
            if probe.ticket_id is not None and probe.reporter is None:
                reporter = await _stored(reporter_of, store, "jira", probe.ticket_id)
        return read_jira(body, mapping, delivery_id, reporter)

    return await _received(desk, store, "jira", delivery_id, read)


@router.post("/zendesk", response_model=DeliveryAnswer, openapi_extra=_ANY_JSON_OBJECT)
async def zendesk(
    request: Request,
    desk: DeskDep,
    store: StoreDep,
    signature: Annotated[str | None, Header(alias="X-Zendesk-Webhook-Signature")] = None,
    timestamp: Annotated[str | None, Header(alias="X-Zendesk-Webhook-Signature-Timestamp")] = None,
    invocation: Annotated[str | None, Header(alias="X-Zendesk-Webhook-Invocation-Id")] = None,
) -> DeliveryAnswer:
    """A Zendesk trigger's webhook with slaflow's template (docs/integrations.md), signed:
    `X-Zendesk-Webhook-Signature` = base64(HMAC-SHA256(timestamp + body))."""
    mapping = desk.config.integrations.zendesk
    if mapping is None:
        raise _not_configured("Zendesk", "zendesk")
    raw = await request.body()
    if problem := zendesk_problem(mapping.secret, raw, signature, timestamp, datetime.now(UTC)):
        raise ApiError(401, problem)
    body = _json_object(raw)
    delivery_id = _delivery_id(invocation, raw)

    async def read() -> Any:
        ticket_id = ticket_id_of(body, mapping)
        known = None
        if ticket_id is not None:
            try:
                known = await desk.get(ticket_id)
            except ApiError as exc:
                if exc.status_code != 404:
                    raise
        return read_zendesk(body, mapping, delivery_id, known)

    return await _received(desk, store, "zendesk", delivery_id, read)


@router.get("/events", response_model=IntegrationEventPage, dependencies=[STAFF])
async def events(
    store: StoreDep,
    outcome: Outcome | None = None,
    source: Source | None = None,
    ticket_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(max_length=64)] = None,
) -> IntegrationEventPage:
    """Help desks' deliveries, newest first, each with its outcome and why."""
    offset = 0
    if page_token:
        raw = decode_page_token(page_token)
        if not raw.isdigit():
            raise ApiError(422, "invalid page_token: pass back next_page_token exactly as received")
        offset = int(raw)
    found = await _stored(
        integration_events, store, outcome, source, ticket_id, offset, page_size + 1
    )
    more = len(found) > page_size
    return IntegrationEventPage(
        events=[IntegrationEventOut.of(e) for e in found[:page_size]],
        next_page_token=encode_page_token(str(offset + page_size).encode()) if more else None,
    )
