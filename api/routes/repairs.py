"""Repairs: a ticket's policy re-resolved from the config in force (`POST /tickets/{id}/repair`),
the same for every open ticket of a policy (`POST /policies/{name}/repair`, a workflow), and
that bulk repair's progress (`GET /repairs/{id}`)."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from api.auth import ADMIN_ONLY, STAFF, PrincipalDep
from api.deps import DeskDep
from api.desk import scoped_request_id
from api.errors import ApiError
from api.routes.tickets import IdempotencyKey, TicketIdPath, _action, _sender
from api.schemas import (
    PolicyRepairRequest,
    RepairedTicket,
    RepairProgressOut,
    RepairRequest,
    RepairStarted,
)
from config.resolve import policy_snapshot
from sla.actions import ACTIONS, ID_PATTERN, Repair
from sla.policy import ConfigError
from sla.repairs import REPAIR_ID_PATTERN, PolicyRepair, own_repair

router = APIRouter(tags=["repairs"])

REPAIR = next(kind for kind in ACTIONS if kind.model is Repair)
PolicyName = Annotated[str, Path(pattern=ID_PATTERN, description="a policy's name")]
RepairId = Annotated[str, Path(pattern=REPAIR_ID_PATTERN, description="as POST answered it")]


@router.post(
    "/tickets/{ticket_id}/repair",
    response_model=RepairedTicket,
    dependencies=[ADMIN_ONLY],
    name=REPAIR.name,
    tags=["tickets"],
)
async def repair_ticket(
    ticket_id: TicketIdPath,
    body: RepairRequest,
    desk: DeskDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
) -> RepairedTicket:
    """Re-resolve the ticket's policy from the config in force (the customer's, or the one
    named) and apply it from each clock's start: a clock already past its new target breaches
    at once, dated when it reached it; a breach that happened stays (`kept_breaches`)."""
    fields = body.model_dump(exclude_none=True)
    fields |= _sender(REPAIR, principal, fields)
    request_id = fields.get("request_id", key)
    if request_id is not None and principal.keyed:
        request_id = scoped_request_id(principal.name, request_id)
    # The answer finds its own repair by the request id, so there always is one.
    fields["request_id"] = request_id or f"repair-{uuid.uuid4().hex}"
    state = await desk.get(ticket_id)
    try:
        fields["snapshot"] = policy_snapshot(
            desk.config, state.created_at, state.customer_id, body.policy
        )
    except ConfigError as exc:
        raise ApiError(422, str(exc)) from None
    repaired = await desk.act(ticket_id, _action(REPAIR, fields))
    record = own_repair(repaired.repairs, fields["request_id"])
    if record is None:  # the id was another action's: that one is answered, not repeated
        raise ApiError(409, "request_id already used by another action on this ticket")
    return RepairedTicket.repaired(repaired, record)


@router.post(
    "/policies/{name}/repair",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RepairStarted,
    dependencies=[ADMIN_ONLY],
)
async def repair_policy(
    name: PolicyName,
    body: PolicyRepairRequest,
    desk: DeskDep,
    principal: PrincipalDep,
    response: Response,
    key: IdempotencyKey = None,
) -> RepairStarted:
    """Repair every open ticket running under the policy, once each, from the config in force
    (a `RepairPolicy` workflow: it survives restarts). `dry_run` says what each repair would do
    and changes nothing. Follow it at `GET /repairs/{repair_id}`."""
    if name not in desk.config.policies:
        known = ", ".join(sorted(desk.config.policies))
        raise ApiError(404, f"no policy {name!r} in the config in force (it has {known})")
    fields = body.model_dump(exclude_none=True)
    who = _sender(REPAIR, principal, fields)
    if key is not None:  # the same key again is the same repair (the caller's own key)
        repair_id = "repair-" + hashlib.sha256(f"{principal.name}:{key}".encode()).hexdigest()[:32]
    else:
        repair_id = f"repair-{uuid.uuid4().hex}"
    await desk.start_repair(
        PolicyRepair(
            repair_id=repair_id,
            policy=name,
            reason=body.reason,
            dry_run=body.dry_run,
            actor=who.get("actor", body.actor),
            sent_by=who.get("sent_by"),
        )
    )
    response.headers["Location"] = f"/repairs/{repair_id}"
    return RepairStarted(repair_id=repair_id, policy=name, dry_run=body.dry_run)


@router.get("/repairs/{repair_id}", response_model=RepairProgressOut, dependencies=[STAFF])
async def repair_progress(repair_id: RepairId, desk: DeskDep) -> RepairProgressOut:
    """A bulk repair: its status, and per ticket what it did (or would do): each clock's due
    time before and after, and the breaches kept."""
    return RepairProgressOut.of(await desk.repair_progress(repair_id))
