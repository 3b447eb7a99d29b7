"""Deliveries in the store: one row per (event, target), pending, delivered or dead.

The dead ones are the dead letters: kept, listed by `GET /deliveries` and sent again by
`POST /deliveries/{id}/retry`. Writes come from the delivery workflow's activities, each
retried until the store answers, so they may land late and out of order; every write is
one statement that moves a row only forward:

- a new row is inserted in whatever state its first write says;
- `pending` never changes a row that exists (a late pending write of a delivery that
  already ended changes nothing);
- `dead` ends a pending row only;
- `delivered` ends a pending or a dead one (what the receiver took is the truth);
- `reopen` (the API's retry) turns a dead row back to pending, and only a dead one.

Each write says whether it moved the row, so a metric counts a delivery once where it
first turned dead (or delivered), however often the write is retried.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel
from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sla.notifications import DeliveryOrder, delivery_id
from store.db import Store
from store.models import DeliveryRow

DeliveryState = Literal["pending", "delivered", "dead"]
STATES: tuple[DeliveryState, ...] = get_args(DeliveryState)

# The states each final write may end; a pending write only ever inserts.
_ENDS: dict[str, tuple[str, ...]] = {"dead": ("pending",), "delivered": ("pending", "dead")}


class DeliveryRecord(BaseModel):
    """One write of a delivery's state: the input of the `record_delivery` activity."""

    order: DeliveryOrder
    state: DeliveryState
    # Attempts of the run that writes it (0 while pending).
    attempts: int = 0
    # Why it is dead, or what the receiver answered.
    detail: str | None = None
    # When it happened (the delivery workflow's time).
    at: datetime

    @property
    def id(self) -> str:
        return delivery_id(self.order.delivery)


class DeliveryOutcome(BaseModel):
    """How one run of a delivery ended: the delivery workflow's result."""

    delivery_id: str
    state: DeliveryState
    attempts: int
    detail: str | None = None


class StoredDelivery(BaseModel):
    """A row of the deliveries table."""

    id: str
    event_id: str
    event_type: str
    ticket_id: str | None
    target: str
    state: DeliveryState
    attempts: int
    detail: str | None
    order: DeliveryOrder
    created_at: datetime
    updated_at: datetime


def _stored(row: DeliveryRow) -> StoredDelivery:
    return StoredDelivery(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        ticket_id=row.ticket_id,
        target=row.target,
        state=row.state,  # only STATES are ever written
        attempts=row.attempts,
        detail=row.detail,
        order=DeliveryOrder.model_validate_json(row.order),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _dialect(store: Store) -> Any:
    return postgresql if store.engine.dialect.name == "postgresql" else sqlite


def record_delivery(store: Store, record: DeliveryRecord) -> bool:
    """Write the delivery's state as `_ENDS` allows; True if this write created the row or
    moved it into `record.state` (False: a repeat, or a write that came too late)."""
    event = record.order.delivery.event
    values = {
        "id": record.id,
        "event_id": event.id,
        "event_type": event.type,
        "ticket_id": event.ticket_id,
        "target": record.order.delivery.target,
        "state": record.state,
        "attempts": record.attempts,
        "detail": record.detail,
        "order": record.order.model_dump_json(),
        "created_at": record.at,
        "updated_at": record.at,
    }
    insert = _dialect(store).insert(DeliveryRow).values(values)
    insert = insert.on_conflict_do_nothing(index_elements=["id"]).returning(DeliveryRow.id)
    with store.engine.begin() as connection:
        if connection.execute(insert).first() is not None:
            return True
        if record.state == "pending":
            return False
        moved = connection.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == record.id, DeliveryRow.state.in_(_ENDS[record.state]))
            .values(
                state=record.state,
                attempts=record.attempts,
                detail=record.detail,
                updated_at=record.at,
            )
        )
        return bool(moved.rowcount)


def reopen_delivery(
    store: Store, id: str, at: datetime | None = None
) -> tuple[StoredDelivery, StoredDelivery] | None:
    """A dead delivery back to pending, for a retry: (the row before, the row now); None if
    it is unknown or not dead (also when another retry took it a moment ago)."""
    before = delivery(store, id)
    if before is None or before.state != "dead":
        return None
    at = at or datetime.now(UTC)
    detail = f"retry requested; before: {before.detail}" if before.detail else "retry requested"
    with store.engine.begin() as connection:
        moved = connection.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.id == id,
                DeliveryRow.state == "dead",
                DeliveryRow.updated_at == before.updated_at,
            )
            .values(state="pending", attempts=0, detail=detail, updated_at=at)
        )
    if not moved.rowcount:
        return None
    now = before.model_copy(
        update={"state": "pending", "attempts": 0, "detail": detail, "updated_at": at}
    )
    return before, now


def restore_dead(store: Store, before: StoredDelivery) -> None:
    """Undo `reopen_delivery` when the retry could not be started: dead again, as it was
    (unless something has moved the row since)."""
    with store.engine.begin() as connection:
        connection.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id == before.id, DeliveryRow.state == "pending")
            .values(
                state="dead",
                attempts=before.attempts,
                detail=before.detail,
                updated_at=before.updated_at,
            )
        )


def delivery(store: Store, id: str) -> StoredDelivery | None:
    with store.session() as session:
        row = session.get(DeliveryRow, id)
        return None if row is None else _stored(row)


# Where a page ended: (created_at, id) of its last row; the next page starts below it.
Cursor = tuple[datetime, str]


def list_deliveries(
    store: Store,
    state: DeliveryState | None = None,
    ticket_id: str | None = None,
    target: str | None = None,
    limit: int = 100,
    before: Cursor | None = None,
) -> tuple[list[StoredDelivery], Cursor | None]:
    """Newest first (by created_at, then id); the page and the cursor of the next one (None
    on the last page)."""
    query = select(DeliveryRow)
    if state is not None:
        query = query.where(DeliveryRow.state == state)
    if ticket_id is not None:
        query = query.where(DeliveryRow.ticket_id == ticket_id)
    if target is not None:
        query = query.where(DeliveryRow.target == target)
    if before is not None:
        at, id = before
        query = query.where(
            or_(
                DeliveryRow.created_at < at,
                and_(DeliveryRow.created_at == at, DeliveryRow.id < id),
            )
        )
    query = query.order_by(DeliveryRow.created_at.desc(), DeliveryRow.id.desc()).limit(limit + 1)
    with store.session() as session:
        rows = [_stored(row) for row in session.scalars(query).all()]
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, (page[-1].created_at, page[-1].id)


def encode_cursor(cursor: Cursor) -> str:
    text = f"{cursor[0].astimezone(UTC).isoformat()}|{cursor[1]}"
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(token: str) -> Cursor:
    """Raises ValueError for anything `encode_cursor` did not make."""
    try:
        text = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        at, id = text.split("|")
        when = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a page token of this list") from None
    if when.tzinfo is None or not id:
        raise ValueError("not a page token of this list")
    return when, id
