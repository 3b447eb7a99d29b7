"""The custom search attributes that make tickets findable (docs/api.md, "Temporal")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from sla.clock import ClockState, SlaClock
from sla.ticket import TicketState

TICKET_STATUS = SearchAttributeKey.for_keyword("TicketStatus")
TICKET_PRIORITY = SearchAttributeKey.for_keyword("TicketPriority")
CUSTOMER_ID = SearchAttributeKey.for_keyword("CustomerId")
SLA_BREACHED = SearchAttributeKey.for_bool("SlaBreached")
RESPONSE_DUE_AT = SearchAttributeKey.for_datetime("ResponseDueAt")
RESOLUTION_DUE_AT = SearchAttributeKey.for_datetime("ResolutionDueAt")
ESCALATION_LEVEL = SearchAttributeKey.for_int("EscalationLevel")
# Records (effects, and the outcome as one) waiting for the store: >0 only in a store outage.
RECORDS_PENDING = SearchAttributeKey.for_int("SlaRecordsPending")
# The policy a ticket runs under, by name: what a bulk repair looks for (workflows/repairs.py).
TICKET_POLICY = SearchAttributeKey.for_keyword("TicketPolicy")

ALL_KEYS: tuple[SearchAttributeKey[Any], ...] = (
    TICKET_STATUS,
    TICKET_PRIORITY,
    CUSTOMER_ID,
    SLA_BREACHED,
    RESPONSE_DUE_AT,
    RESOLUTION_DUE_AT,
    ESCALATION_LEVEL,
    RECORDS_PENDING,
    TICKET_POLICY,
)

IndexValues = dict[str, str | bool | int | datetime | None]


def _running_due(clock: SlaClock) -> datetime | None:
    return clock.due_at if clock.state is ClockState.RUNNING else None


def index_values(state: TicketState, records_pending: int = 0) -> IndexValues:
    """What visibility should say about a ticket now; None means unset."""
    return {
        TICKET_STATUS.name: state.status.value,
        TICKET_PRIORITY.name: state.priority.value,
        CUSTOMER_ID.name: state.customer_id,
        SLA_BREACHED.name: state.ever_breached,
        RESPONSE_DUE_AT.name: _running_due(state.response),
        RESOLUTION_DUE_AT.name: _running_due(state.resolution),
        ESCALATION_LEVEL.name: state.escalation_level,
        RECORDS_PENDING.name: records_pending,
        TICKET_POLICY.name: state.policy,
    }


def indexed_at_start(attributes: TypedSearchAttributes) -> IndexValues:
    """What visibility already says of a ticket its starter indexed: no need to upsert it."""
    return {key.name: attributes.get(key) for key in ALL_KEYS}


def kept_keys(started_with: TypedSearchAttributes) -> tuple[SearchAttributeKey[Any], ...]:
    """The attributes a ticket keeps current: all, but TicketPolicy only where its starter set
    it. A ticket started before it existed issues no upsert for it, so its history replays."""
    return tuple(
        key for key in ALL_KEYS if key is not TICKET_POLICY or started_with.get(key) is not None
    )


def index_updates(
    new: IndexValues,
    old: IndexValues | None,
    keys: tuple[SearchAttributeKey[Any], ...] = ALL_KEYS,
) -> list[SearchAttributeUpdate[Any]]:
    updates: list[SearchAttributeUpdate[Any]] = []
    for key in keys:
        value = new[key.name]
        if old is not None and old.get(key.name) == value:
            continue
        updates.append(key.value_unset() if value is None else key.value_set(value))
    return updates


def initial_search_attributes(state: TicketState) -> TypedSearchAttributes:
    """Set at workflow start so a ticket is listable before its first workflow task."""
    values = index_values(state)
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(key, values[key.name])
        for key in ALL_KEYS
        if values[key.name] is not None
    ]
    return TypedSearchAttributes(pairs)
