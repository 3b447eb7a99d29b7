"""The support desk as the API sees it: ticket operations mapped onto Temporal client calls."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowHandle,
    WorkflowHistory,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

import telemetry
from api.auth import ANONYMOUS, Principal
from api.errors import ApiError, from_rpc, not_found, refused, temporal_unavailable
from api.schemas import TicketCreate, TicketSummary
from config.resolve import policy_snapshot
from sla.actions import (
    REQUEST_ID_LIMIT,
    Action,
    ActionInvalid,
    ActionRejected,
    PastAction,
    kind_of,
)
from sla.outcome import opening_request
from sla.policy import SlaConfig
from sla.priorities import Priority
from sla.repairs import PolicyRepair, RepairProgress
from sla.state import CommentsPage, CommentsWanted
from sla.ticket import OpenTicket, Ticket, TicketState
from store import Store
from store.archive import ArchiveStore
from store.history import decoded_events, opened_with
from store.registry import opening_request_of
from workflows import search_attributes as sa
from workflows.repairs import RepairPolicyWorkflow
from workflows.ticket import REVISION, TicketWorkflow

WORKFLOW_TYPE = "TicketWorkflow"
ALREADY_USED = "ticket id already used"
# Opening a ticket asks the store for its id's row for this long at most; after a store that
# failed or did not answer, it asks again only after the pause, and Temporal decides meanwhile.
REGISTRY_SECONDS = 2.0
REGISTRY_PAUSE_SECONDS = 10.0

log = logging.getLogger("slaflow.api")


def workflow_id(ticket_id: str) -> str:
    return f"ticket-{ticket_id}"


def ticket_id_for_key(idempotency_key: str) -> str:
    """A ticket id derived from a client's Idempotency-Key, so a retried create finds its ticket."""
    return "k-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def scoped_request_id(sender: str, request_id: str) -> str:
    """An action's idempotency key as one API key's own: the ticket remembers it and Temporal
    dedups the Update by it, so another key's same value is another action. A key name has no
    ':', so the prefix is unambiguous; too long a result is hashed into REQUEST_ID_LIMIT."""
    scoped = f"{sender}:{request_id}"
    if len(scoped) <= REQUEST_ID_LIMIT:
        return scoped
    return f"{sender}:sha256:{hashlib.sha256(request_id.encode()).hexdigest()}"


R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def bounded(method: F) -> F:
    """The whole call within the request deadline, retries included: the SDK retries an
    unreachable server for up to ten seconds, and `rpc_timeout` bounds one attempt only."""

    @functools.wraps(method)
    async def within_deadline(desk: Desk, *args: Any, **kwargs: Any) -> Any:
        try:
            async with asyncio.timeout(desk.timeout.total_seconds()):
                return await method(desk, *args, **kwargs)
        except TimeoutError:
            raise temporal_unavailable("Temporal did not answer in time") from None

    return cast(F, within_deadline)


class Desk:
    def __init__(
        self,
        client: Client,
        config: SlaConfig | Callable[[], SlaConfig],
        task_queue: str,
        timeout: timedelta,
        archive: ArchiveStore | None = None,
        store: Store | None = None,
    ) -> None:
        self.client = client
        self._config = config  # a callable reads the config in force (reloaded on SIGHUP)
        self.task_queue = task_queue
        self.timeout = timeout
        self.archive = archive
        self.store = store
        # The registry's reads run on threads of their own: a store that hangs holds these
        # two, never the threads the archive's reads need.
        self._registry = ThreadPoolExecutor(max_workers=2, thread_name_prefix="slaflow-registry")
        self._store_down_until = 0.0

    @property
    def config(self) -> SlaConfig:
        return self._config() if callable(self._config) else self._config

    async def archived(self, ticket_id: str) -> dict[str, Any] | None:
        """A ticket's archive (every run archived so far, and its final state once it has
        completed), for the runs Temporal's retention has deleted."""
        if self.archive is None:
            return None
        return await asyncio.to_thread(self.archive.read, ticket_id)

    async def _archived_final(self, ticket_id: str) -> dict[str, Any] | None:
        if self.archive is None:
            return None
        return await asyncio.to_thread(self.archive.final, ticket_id)

    def _handle(self, ticket_id: str) -> WorkflowHandle[TicketWorkflow, TicketState]:
        return self.client.get_workflow_handle_for(TicketWorkflow.run, workflow_id(ticket_id))

    @bounded
    async def open(
        self,
        body: TicketCreate,
        idempotency_key: str | None,
        principal: Principal = ANONYMOUS,
        past: Sequence[PastAction] = (),
    ) -> tuple[TicketState, bool]:
        """Open a ticket; (state, False) when the very same request opened it before. A ticket
        id is taken for good (docs/design.md): any other request for a used id is refused."""
        if body.ticket_id:
            ticket_id = body.ticket_id
        elif idempotency_key:
            # Scoped to the caller: one client's key can never find another client's ticket.
            ticket_id = ticket_id_for_key(f"{principal.name}:{idempotency_key}")
        else:
            ticket_id = uuid.uuid4().hex
        request = opening_request(body.customer_id, body.title, body.priority)
        answered, registered = await self._registered(ticket_id)
        if registered is not None:
            return await self._again(ticket_id, request, registered)
        if not answered:
            # Without the store, Temporal refuses the ids it keeps (REJECT_DUPLICATE, below);
            # a completed ticket past retention is refused by its archive.
            final = await self._archived_final_within_seconds(ticket_id)
            if final is not None:
                return await self._again(ticket_id, request, _fingerprint(final.get("opened_with")))
        now = datetime.now(UTC)
        # Opened when the source desk says (`at`, checked by the route), never after now.
        opened_at = now if body.at is None else min(body.at, now)
        new = OpenTicket(
            ticket_id=ticket_id,
            customer_id=body.customer_id,
            title=body.title,
            description=body.description,
            priority=body.priority,
            policy=policy_snapshot(self.config, opened_at, body.customer_id),
            opened_at=opened_at,
            received_at=None if opened_at == now else now,
            past=list(past),
            revision=REVISION,
        )
        # The workflow computes the same state from the same input: its past actions in order,
        # then what came due since `at` (a ticket opened long ago may be breached already).
        opened = Ticket.open(new, now)
        for index, event in enumerate(past):
            try:
                opened.apply(event.parsed(), event.at, received_at=now)
            except ActionRejected as exc:  # a story the rules refuse is bad input, not a state
                raise ApiError(422, f"events[{index}] ({event.kind}): {exc}") from None
        opened.on_time(now)
        state = opened.state
        try:
            await self.client.start_workflow(
                TicketWorkflow.run,
                new,
                id=workflow_id(ticket_id),
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                search_attributes=sa.initial_search_attributes(state),
                static_summary=f"{body.priority.value} ticket {ticket_id} of {body.customer_id}",
                rpc_timeout=self.timeout,
            )
        except WorkflowAlreadyStartedError:
            return await self._again(ticket_id, request, await self._opened_with(ticket_id))
        except RPCError as exc:
            raise from_rpc(exc) from None
        telemetry.TICKETS_OPENED.labels(body.priority.value).inc()
        return state, True

    async def _registered(self, ticket_id: str) -> tuple[bool, str | None]:
        """(whether the store answered, the opening request of `ticket_id` as the store's row
        has it: None for no row, or a row that does not know it). A store that fails or is
        slow does not answer, and is left alone for a while: it never fails an open."""
        if self.store is None or time.monotonic() < self._store_down_until:
            return False, None
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._registry_seconds):
                request = await loop.run_in_executor(
                    self._registry, opening_request_of, self.store, ticket_id
                )
        except Exception as exc:  # whatever the store raises: Temporal and the archive decide
            self._store_down_until = time.monotonic() + REGISTRY_PAUSE_SECONDS
            log.warning(
                "the store did not answer for a ticket id: Temporal and the archive alone check "
                "ids for %.0f s", REGISTRY_PAUSE_SECONDS,
                extra={"fields": {"ticket_id": ticket_id, "workflow_id": workflow_id(ticket_id),
                                  "error": type(exc).__name__}},
            )  # fmt: skip
            return False, None
        return True, request

    @property
    def _registry_seconds(self) -> float:
        return min(REGISTRY_SECONDS, self.timeout.total_seconds() / 3)

    async def _archived_final_within_seconds(self, ticket_id: str) -> dict[str, Any] | None:
        """The archive's final document of `ticket_id`, if the archive answers quickly."""
        try:
            async with asyncio.timeout(self._registry_seconds):
                return await self._archived_final(ticket_id)
        except Exception as exc:  # an archive that is down too: Temporal alone decides
            log.warning(
                "the archive did not answer for a ticket id",
                extra={"fields": {"ticket_id": ticket_id, "workflow_id": workflow_id(ticket_id),
                                  "error": type(exc).__name__}},
            )  # fmt: skip
            return None

    async def _opened_with(self, ticket_id: str) -> str | None:
        """The opening request of the ticket Temporal keeps under `ticket_id`, from its latest
        run's input (every run starts from the opening input, whatever the priority is now);
        None if Temporal does not have it."""
        handle = self._handle(ticket_id)
        try:
            async for event in handle.fetch_history_events(page_size=1, rpc_timeout=self.timeout):
                return _fingerprint(
                    opened_with(decoded_events(WorkflowHistory(handle.id, [event])))
                )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                raise from_rpc(exc) from None
        return None

    async def _again(
        self, ticket_id: str, request: str, opened: str | None
    ) -> tuple[TicketState, bool]:
        """A used id: the very request that opened it (`opened`; None: unknown) is answered
        with its ticket (from Temporal, else from the archive), any other request is refused."""
        if opened != request:
            raise refused(ALREADY_USED)
        try:
            return await self.get(ticket_id), False
        except ApiError as exc:
            if exc.status_code == 404:  # a ticket neither Temporal nor the archive has
                raise refused(ALREADY_USED) from None
            raise

    @bounded
    async def get(self, ticket_id: str) -> TicketState:
        return await self._read(
            ticket_id,
            self._handle(ticket_id).query(TicketWorkflow.state, rpc_timeout=self.timeout),
            TicketState.shown,
        )

    @bounded
    async def comments(self, ticket_id: str, wanted: CommentsWanted) -> CommentsPage:
        """A page of a ticket's comments, from Temporal, else from its archive."""
        query = self._handle(ticket_id).query(
            TicketWorkflow.comments, wanted, rpc_timeout=self.timeout
        )
        return await self._read(ticket_id, query, lambda final: CommentsPage.of(final, wanted))

    async def _read(
        self, ticket_id: str, query: Awaitable[R], from_final: Callable[[TicketState], R]
    ) -> R:
        """A query's answer while Temporal keeps the ticket; after its retention, the same
        read of the final state in its archive."""
        try:
            return await query
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                final = await self._archived_final(ticket_id)
                if final is not None and final.get("final_state"):
                    return from_final(TicketState.model_validate(final["final_state"]))
            raise from_rpc(exc, ticket_id) from None
        except WorkflowQueryFailedError as exc:
            raise temporal_unavailable(f"the ticket could not be read ({exc.message})") from None

    @bounded
    async def act(self, ticket_id: str, action: Action) -> TicketState:
        """Run an action as the workflow Update of its kind; the answer carries the new state."""
        handle = self._handle(ticket_id)
        update = kind_of(action).name
        try:
            state: TicketState = await handle.execute_update(
                update,
                action,
                id=action.request_id,
                result_type=TicketState,
                rpc_timeout=self.timeout,
            )
            return state
        except WorkflowUpdateFailedError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.type == ActionInvalid.__name__:
                raise ApiError(422, cause.message) from None
            if isinstance(cause, ApplicationError) and cause.type == ActionRejected.__name__:
                raise refused(cause.message) from None
            raise ApiError(409, f"the action failed: {cause}") from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise temporal_unavailable(
                "the ticket did not answer in time (the action may still apply; retry with "
                "the same request_id)"
            ) from None
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                # Updates cannot reach a finished workflow: a closed ticket, or no ticket.
                state = await self.get(ticket_id)
                closes = state.rating_closes_at
                if update == "rate" and closes is not None and closes <= datetime.now(UTC):
                    when = closes.isoformat()
                    raise refused(f"cannot rate: the rating window closed at {when}") from None
                raise refused(f"cannot {update}: the ticket is {state.status.value}") from None
            raise from_rpc(exc, ticket_id) from None

    @bounded
    async def start_repair(self, request: PolicyRepair) -> None:
        """Start a bulk repair (workflows/repairs.py) under its id; the same request again
        (an Idempotency-Key retried) finds it running, any other request for the id is 409."""
        try:
            await self.client.start_workflow(
                RepairPolicyWorkflow.run,
                request,
                id=request.repair_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
                static_summary=(
                    f"{'dry run of a' if request.dry_run else ''} repair of policy {request.policy}"
                ).strip(),
                rpc_timeout=self.timeout,
            )
        except WorkflowAlreadyStartedError:
            before = await self.repair_progress(request.repair_id)
            if (before.policy, before.dry_run, before.reason) != (
                request.policy,
                request.dry_run,
                request.reason,
            ):
                raise refused("repair id already used by another request") from None
        except RPCError as exc:
            raise from_rpc(exc) from None

    @bounded
    async def repair_progress(self, repair_id: str) -> RepairProgress:
        """A bulk repair's progress, by its `progress` query (answered after it ended too,
        until Temporal's retention)."""
        handle = self.client.get_workflow_handle_for(RepairPolicyWorkflow.run, repair_id)
        try:
            return await handle.query(RepairPolicyWorkflow.progress, rpc_timeout=self.timeout)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                raise ApiError(404, f"no repair {repair_id}") from None
            raise from_rpc(exc) from None
        except WorkflowQueryFailedError as exc:
            raise temporal_unavailable(f"the repair could not be read ({exc.message})") from None

    @bounded
    async def list(
        self, filters: dict[str, str | bool], page_size: int, page_token: bytes | None
    ) -> tuple[list[TicketSummary], bytes | None]:
        clauses = [f"WorkflowType = '{WORKFLOW_TYPE}'", "ExecutionStatus != 'ContinuedAsNew'"]
        for name, value in filters.items():
            # Values are validated enums, ids of a safe alphabet, or booleans: nothing to escape.
            literal = ("true" if value else "false") if isinstance(value, bool) else f"'{value}'"
            clauses.append(f"{name} = {literal}")
        iterator = self.client.list_workflows(
            " AND ".join(clauses),
            page_size=page_size,
            next_page_token=page_token,
            rpc_timeout=self.timeout,
        )
        try:
            await iterator.fetch_next_page()
        except RPCError as exc:
            if page_token is not None and exc.status in (
                RPCStatusCode.INVALID_ARGUMENT,
                RPCStatusCode.UNKNOWN,
            ):
                raise ApiError(422, "invalid page_token") from None
            raise from_rpc(exc) from None
        return [summary(e) for e in iterator.current_page or []], iterator.next_page_token


def _fingerprint(opened: dict[str, Any] | None) -> str | None:
    """`opening_request` of an opening's fields as a history or archive has them."""
    if opened is None:
        return None
    try:
        return opening_request(opened["customer_id"], opened["title"], Priority(opened["priority"]))
    except (KeyError, TypeError, ValueError):
        return None


def summary(execution: WorkflowExecution) -> TicketSummary:
    attrs = execution.typed_search_attributes
    return TicketSummary(
        ticket_id=execution.id.removeprefix("ticket-"),
        customer_id=attrs.get(sa.CUSTOMER_ID),
        status=attrs.get(sa.TICKET_STATUS),
        priority=attrs.get(sa.TICKET_PRIORITY),
        breached=bool(attrs.get(sa.SLA_BREACHED)),
        escalation_level=attrs.get(sa.ESCALATION_LEVEL) or 0,
        response_due_at=attrs.get(sa.RESPONSE_DUE_AT),
        resolution_due_at=attrs.get(sa.RESOLUTION_DUE_AT),
        opened_at=execution.start_time,
        closed_at=execution.close_time,
    )


__all__ = ["Desk", "not_found", "scoped_request_id", "ticket_id_for_key", "workflow_id"]
