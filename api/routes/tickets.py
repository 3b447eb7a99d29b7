"""Ticket routes: open, read, list, act, history, timeline."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import inspect
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import ADMIN_ONLY, WORKERS, Principal, PrincipalDep, Role
from api.deps import DeskDep
from api.desk import Desk, scoped_request_id, workflow_id
from api.errors import ApiError, from_rpc, not_found, temporal_unavailable
from api.instants import event_time_problem
from api.schemas import (
    CommentOut,
    CommentPage,
    History,
    HistoryRun,
    Ticket,
    TicketCreate,
    TicketPage,
    Timeline,
    TimelineEntryOut,
    action_body,
)
from sla.actions import ACTIONS, ID_PATTERN, REQUEST_ID_LIMIT, Action, ActionKind, PastAction
from sla.priorities import Priority
from sla.state import COMMENT_LIMIT, CommentsWanted
from sla.ticket import TicketState, TicketStatus, TimelineEntry, shown_actor
from store.history import Run, earlier_run_missing, fetch_runs, with_archived

router = APIRouter(prefix="/tickets", tags=["tickets"])

TicketIdPath = Annotated[str, Path(pattern=ID_PATTERN, description="the ticket's id")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=REQUEST_ID_LIMIT,
        description="the same key again answers the same ticket or action result",
    ),
]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Ticket,
    responses={200: {"model": Ticket, "description": "that ticket_id or Idempotency-Key again"}},
)
async def open_ticket(
    body: TicketCreate,
    desk: DeskDep,
    principal: PrincipalDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> Ticket:
    if not principal.sees(body.customer_id):
        raise ApiError(403, "a customer key opens tickets for its own customer_id only")
    if body.at is not None:
        check_event_time(principal, body.at)
    past = _past(body, principal)
    state, created = await desk.open(body, idempotency_key, principal, past)
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/tickets/{state.ticket_id}"
    return Ticket.of(state, staff=principal.staff)


# What may come with an opening: the actions anyone works a ticket with.
_PAST_KINDS = {kind.name: kind for kind in ACTIONS if not kind.admin_only and not kind.edge_fields}


def _past(body: TicketCreate, principal: Principal) -> list[PastAction]:
    """The opening's `events` (docs/api.md, "Event times"), each checked as its own route
    would check it: its body, its time, who it names."""
    if body.events and body.at is None:
        raise ApiError(422, "events need the ticket's own `at`: when it opened in the source desk")
    past = []
    for index, raw in enumerate(body.events):
        name = raw.get("action")
        kind = _PAST_KINDS.get(name) if isinstance(name, str) else None
        if kind is None:
            raise ApiError(
                422, f"events[{index}].action must be one of {', '.join(sorted(_PAST_KINDS))}"
            )
        given = {k: v for k, v in raw.items() if k != "action"}
        try:
            checked = action_body(kind).model_validate(given)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            raise RequestValidationError(
                [{**e, "loc": ("body", "events", index, *e["loc"])} for e in errors]
            ) from None
        fields = checked.model_dump(exclude_none=True)
        if fields.get("at") is None:
            raise ApiError(422, f"events[{index}] needs `at`: when it happened")
        check_event_time(principal, fields["at"])
        fields |= _sender(kind, principal, fields)
        past.append(PastAction.of(_action(kind, fields)))
    return past


def encode_page_token(token: bytes) -> str:
    """Temporal's token plus a checksum, so a mangled token is a 422 here, not a server error."""
    return base64.urlsafe_b64encode(token + hashlib.sha256(token).digest()[:8]).decode()


def decode_page_token(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    token, checksum = raw[:-8], raw[-8:]
    if not token or hashlib.sha256(token).digest()[:8] != checksum:
        raise ApiError(422, "invalid page_token: pass back next_page_token exactly as received")
    return token


@router.get("", response_model=TicketPage)
async def list_tickets(
    desk: DeskDep,
    principal: PrincipalDep,
    status_: Annotated[TicketStatus | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    customer_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    breached: bool | None = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    page_token: Annotated[str | None, Query(max_length=4096)] = None,
) -> TicketPage:
    filters: dict[str, str | bool] = {}
    if status_ is not None:
        filters["TicketStatus"] = status_.value
    if priority is not None:
        filters["TicketPriority"] = priority.value
    if not principal.staff:
        if customer_id is not None and customer_id != principal.customer_id:
            return TicketPage(tickets=[], next_page_token=None)  # never another's tickets
        customer_id = principal.customer_id
    if customer_id is not None:
        filters["CustomerId"] = customer_id
    if breached is not None:
        filters["SlaBreached"] = breached
    token = decode_page_token(page_token) if page_token else None
    tickets, next_token = await desk.list(filters, page_size, token)
    return TicketPage(
        tickets=tickets,
        next_page_token=encode_page_token(next_token) if next_token else None,
    )


@router.get("/{ticket_id}", response_model=Ticket)
async def get_ticket(ticket_id: TicketIdPath, desk: DeskDep, principal: PrincipalDep) -> Ticket:
    return Ticket.of(await readable(desk, principal, ticket_id), staff=principal.staff)


async def readable(desk: DeskDep, principal: Principal, ticket_id: str) -> TicketState:
    """The ticket, if this caller may see it; another customer's ticket does not exist (404)."""
    state = await desk.get(ticket_id)
    if not principal.sees(state.customer_id):
        raise not_found(ticket_id)
    return state


def _add_action_route(kind: ActionKind[Any]) -> None:
    """`POST /tickets/{id}/<action>` (or PATCH) for one kind of the registry: its body, the
    Update it runs and who may do it all come from the kind, so they cannot disagree."""

    async def act(
        ticket_id: str,
        desk: Desk,
        principal: Principal,
        body: BaseModel | None = None,
        key: str | None = None,
    ) -> Ticket:
        fields = body.model_dump(exclude_none=True) if body is not None else {}
        if principal.role is Role.CUSTOMER:
            if staff_only := [f for f in kind.staff_fields if fields.get(f)]:
                raise ApiError(403, f"a customer key may not set {', '.join(staff_only)}")
            await readable(desk, principal, ticket_id)
        if (at := fields.get("at")) is not None:
            check_event_time(principal, at)
        fields |= _sender(kind, principal, fields)
        if (request_id := fields.get("request_id", key)) is not None and principal.keyed:
            # Each key's own: the ticket remembers, and Temporal dedups the Update by, this id.
            request_id = scoped_request_id(principal.name, request_id)
        if request_id is not None:
            fields["request_id"] = request_id
        action = _action(kind, fields)
        return Ticket.of(await desk.act(ticket_id, action), staff=principal.staff)

    def param(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> Any:
        return inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )

    model = action_body(kind)
    body = param("body", model) if kind.body_required else param("body", model | None, None)
    # FastAPI reads the parameters' types from the signature: the kind's HTTP body is the body.
    act.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            param("ticket_id", TicketIdPath),
            param("desk", DeskDep),
            param("principal", PrincipalDep),
            body,
            param("key", IdempotencyKey, None),
        ],
        return_annotation=Ticket,
    )
    act.__name__ = kind.name
    router.add_api_route(
        "/{ticket_id}" + kind.path,
        act,
        methods=[kind.method],
        name=kind.name,
        response_model=Ticket,
        dependencies=(
            [ADMIN_ONLY]
            if kind.admin_only
            else []
            if kind.customer_field is not None
            else [WORKERS]
        ),
    )


def check_event_time(principal: Principal, at: datetime) -> None:
    """`at` (docs/api.md, "Event times"): from a key that may date events, and a time that
    can be one (the ticket's workflow refuses one before its last recorded event)."""
    if not principal.speaks_for_others:
        an = "an" if principal.role is Role.AGENT else "a"
        raise ApiError(
            403,
            f"{an} {principal.role.value} key may not send `at`: only admin and integration "
            "keys date what happened elsewhere",
        )
    if (problem := event_time_problem(at, datetime.now(UTC))) is not None:
        raise ApiError(422, problem)


def _sender(kind: ActionKind[Any], principal: Principal, fields: dict[str, Any]) -> dict[str, Any]:
    """Who an action is recorded as. With keys, a key acts as itself: its name, whatever else a
    body may name (403), but an admin or an integration, which may act for whom it names;
    either way the key's name is the action's `sent_by`. Without keys, the body's names
    stand."""
    if not principal.keyed:
        return {}
    field = kind.actor
    named = fields.get(field) if field is not None else None
    if principal.speaks_for_others:
        who = named or principal.name
    elif named in (None, principal.name, principal.customer_id):
        who = principal.name  # a customer's older clients send its customer id: the same caller
    else:
        an = "an" if principal.role is Role.AGENT else "a"
        raise ApiError(
            403,
            f"{an} {principal.role.value} key acts as itself: {field} must be "
            f"{principal.name!r} (its key's name) or left out",
        )
    return {"sent_by": principal.name} | ({field: who} if field is not None else {})


def _action(kind: ActionKind[Any], fields: dict[str, Any]) -> Action:
    """The action the workflow gets; without keys, a name its model needs may still be missing."""
    try:
        action: Action = kind.model.model_validate(fields)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from None
    return action


for _kind in ACTIONS:
    if not _kind.edge_fields:  # those the API resolves have routes of their own (repairs.py)
        _add_action_route(_kind)


def _comment_offset(page_token: str) -> int:
    raw = decode_page_token(page_token)
    if not raw.isdigit():  # a valid token of another list
        raise ApiError(422, "invalid page_token: pass back next_page_token exactly as received")
    return int(raw)


@router.get("/{ticket_id}/comments", response_model=CommentPage)
async def comments(
    ticket_id: TicketIdPath,
    desk: DeskDep,
    principal: PrincipalDep,
    page_size: Annotated[int, Query(ge=1, le=COMMENT_LIMIT)] = 100,
    page_token: Annotated[str | None, Query(max_length=64)] = None,
) -> CommentPage:
    """Every comment of the ticket, oldest first, a page at a time."""
    await readable(desk, principal, ticket_id)
    start = _comment_offset(page_token) if page_token else 0
    wanted = CommentsWanted(start=start, size=page_size, public_only=not principal.staff)
    page = await desk.comments(ticket_id, wanted)
    end = start + len(page.comments)
    return CommentPage(
        ticket_id=ticket_id,
        comments=[CommentOut(**c.model_dump()) for c in page.comments],
        comment_count=page.total,
        next_page_token=encode_page_token(str(end).encode()) if end < page.total else None,
    )


@router.get("/{ticket_id}/timeline", response_model=Timeline)
async def timeline(ticket_id: TicketIdPath, desk: DeskDep, principal: PrincipalDep) -> Timeline:
    state = await readable(desk, principal, ticket_id)
    entries = state.timeline if principal.staff else _customer_timeline(state.timeline)
    return Timeline(
        ticket_id=ticket_id,
        entries=[TimelineEntryOut(**(e.model_dump() | {"actor": shown_actor(e)})) for e in entries],
    )


# What a customer's timeline leaves out: entries about our delivery plumbing (targets, hosts,
# errors), and in the rest the details that name staff audiences.
_STAFF_ENTRIES = {"delivery_failed"}
_STAFF_DETAILS = {"notify"}


def _customer_timeline(entries: list[TimelineEntry]) -> list[TimelineEntry]:
    entries = [e for e in entries if not e.detail.get("internal")]  # internal comments
    return [
        e.model_copy(
            update={"detail": {k: v for k, v in e.detail.items() if k not in _STAFF_DETAILS}}
        )
        for e in entries
        if e.kind not in _STAFF_ENTRIES
    ]


@router.get("/{ticket_id}/history", response_model=History)
async def history(ticket_id: TicketIdPath, desk: DeskDep, principal: PrincipalDep) -> History:
    """Every run, oldest first: from Temporal while it keeps them, from the archive for the
    runs its retention deleted (a long ticket loses its early runs while it still lives).
    Staff only: the raw history carries routing, addresses, worker identities and stack
    traces."""
    if not principal.staff:
        await readable(desk, principal, ticket_id)  # another customer's ticket stays a 404
        raise ApiError(
            403, "the full history is for staff; a customer reads GET /tickets/{id}/timeline"
        )
    runs: list[Run] = []
    try:
        async with asyncio.timeout(desk.timeout.total_seconds() * 3):  # a long history is slow
            runs = await fetch_runs(desk.client, workflow_id(ticket_id))
    except TimeoutError:
        raise temporal_unavailable("Temporal did not send the history in time") from None
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise from_rpc(exc, ticket_id) from None
    if not runs or earlier_run_missing(runs[0][1]):
        archived = await desk.archived(ticket_id)
        runs = with_archived(runs, archived["runs"] if archived else [])
    if not runs:
        raise not_found(ticket_id)
    return History(
        ticket_id=ticket_id,
        runs=[HistoryRun(run_id=run_id, events=events) for run_id, events in runs],
    )
