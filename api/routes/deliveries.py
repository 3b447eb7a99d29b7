"""Deliveries: every event sent to every target, pending, delivered or dead (the dead letters),
listed for staff and sent again by an admin."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, status
from sqlalchemy.exc import SQLAlchemyError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.auth import ADMIN_ONLY, STAFF
from api.deps import DeskDep, StoreDep
from api.errors import ApiError, from_rpc, temporal_unavailable
from api.instants import in_range
from api.schemas import DeliveryOut, DeliveryPage
from sla.actions import ID_PATTERN
from sla.notifications import delivery_workflow_id
from store import Store
from store.deliveries import (
    DeliveryState,
    StoredDelivery,
    decode_cursor,
    delivery,
    encode_cursor,
    list_deliveries,
    reopen_delivery,
    restore_dead,
)
from workflows.delivery import DeliveryWorkflow

router = APIRouter(prefix="/deliveries", tags=["deliveries"])

DeliveryIdPath = Annotated[
    str, Path(pattern=r"^[0-9a-f]{32}$", description="the delivery's id (32 hex characters)")
]
TARGET = r"^(webhook|mailto):\S{1,320}$"

R = TypeVar("R")


async def _stored(call: Callable[..., R], *args: Any) -> R:
    """A store call off the event loop; the store down is a 503 that says so."""
    try:
        return await asyncio.to_thread(call, *args)
    except SQLAlchemyError:
        raise ApiError(503, "the store did not answer; try again shortly") from None


def _out(row: StoredDelivery) -> DeliveryOut:
    return DeliveryOut(**row.model_dump(exclude={"order"}))


@router.get("", response_model=DeliveryPage, dependencies=[STAFF])
async def list_all(
    store: StoreDep,
    state: DeliveryState | None = None,
    ticket_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    target: Annotated[str | None, Query(pattern=TARGET)] = None,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    page_token: Annotated[str | None, Query(max_length=256)] = None,
) -> DeliveryPage:
    """Newest first; `state`, `ticket_id` and `target` filter, `page_token` pages on."""
    before = None
    if page_token:
        try:
            before = decode_cursor(page_token)
            in_range(before[0])  # else the store cannot bind it (a 5xx)
        except ValueError:
            raise ApiError(
                422, "invalid page_token: pass back next_page_token exactly as received"
            ) from None
    rows, cursor = await _stored(
        list_deliveries, store, state, ticket_id, target, page_size, before
    )
    return DeliveryPage(
        deliveries=[_out(row) for row in rows],
        next_page_token=None if cursor is None else encode_cursor(cursor),
    )


@router.post(
    "/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DeliveryOut,
    dependencies=[ADMIN_ONLY],
)
async def retry(delivery_id: DeliveryIdPath, store: StoreDep, desk: DeskDep) -> DeliveryOut:
    """Send a dead delivery again: a new run of its Delivery workflow with the same order
    (the same event, so the same event id; signed with the webhook's secret as configured
    now), tried for its `give_up_after` again. Answers the delivery, pending."""
    existing = await _stored(delivery, store, delivery_id)
    if existing is None:
        raise ApiError(404, f"no delivery {delivery_id!r}")
    if existing.state == "delivered":
        raise ApiError(409, f"delivery {delivery_id} was delivered: nothing to retry")
    if existing.state == "pending":
        raise ApiError(409, f"delivery {delivery_id} is pending: it is still being tried")
    reopened = await _stored(reopen_delivery, store, delivery_id)
    if reopened is None:
        raise ApiError(409, f"delivery {delivery_id} is no longer dead: it is being retried")
    before, now = reopened
    try:
        async with asyncio.timeout(desk.timeout.total_seconds()):
            await desk.client.start_workflow(
                DeliveryWorkflow.run,
                before.order,
                id=delivery_workflow_id(delivery_id),
                task_queue=desk.task_queue,
                # A closed run may be followed by another; a running one is not disturbed.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary=f"retry: {before.event_type} to {before.target}",
                rpc_timeout=desk.timeout,
            )
    except WorkflowAlreadyStartedError:
        await _restore(store, before)
        raise ApiError(409, f"delivery {delivery_id} is already being delivered") from None
    except RPCError as exc:
        await _restore(store, before)
        raise from_rpc(exc) from None
    except TimeoutError:
        await _restore(store, before)
        raise temporal_unavailable("Temporal did not answer in time") from None
    return _out(now)


async def _restore(store: Store, before: StoredDelivery) -> None:
    """The retry did not start: the row goes back to dead (best effort, the answer is an
    error anyway)."""
    with contextlib.suppress(SQLAlchemyError):
        await asyncio.to_thread(restore_dead, store, before)
