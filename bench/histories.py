"""What a workflow's history says each step cost: its workflow tasks and their commands.

Read from the run itself, so the report describes the code that was measured (slaflow's
workflow changes under other hands; a history does not go stale)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping

from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import EventType, TimeoutType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

from bench.records import Task

E = EventType


async def tasks(client: Client, workflow_id: str) -> list[Task]:
    """Each workflow task of the history: what woke it (`on`) and what it did (`did`); events
    after the last completed task come last, with nothing done."""
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as exc:
        return [Task(on=[f"history unavailable: {exc.message}"])]
    found: list[Task] = []
    waking: list[str] = []
    started = 0
    for event in history.events:
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started = event.event_time.ToMilliseconds()
        elif event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            took = event.event_time.ToMilliseconds() - started
            found.append(Task(on=waking, took_ms=took))
            waking = []
        elif event.event_type in _COMMANDS and found:
            found[-1].did.append(label(event))
        elif event.event_type != E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
            waking.append(label(event))
    if waking:
        found.append(Task(on=waking))
    return found


def label(event: HistoryEvent) -> str:
    if event.event_type == E.EVENT_TYPE_MARKER_RECORDED:
        attrs = event.marker_recorded_event_attributes
        if attrs.marker_name == "core_local_activity":
            return f"local activity {_activity_type(attrs.details)}"
        return f"marker {attrs.marker_name}"
    if event.event_type == E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        keys = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        return f"upsert search attributes ({', '.join(sorted(keys.indexed_fields))})"
    if event.event_type == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        return f"activity {name} scheduled"
    if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
        request = event.workflow_execution_update_accepted_event_attributes.accepted_request
        return f"update {request.input.name} accepted"
    if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
        indexed = event.workflow_execution_started_event_attributes.search_attributes
        if indexed.indexed_fields:
            return (
                f"workflow execution started with {len(indexed.indexed_fields)} search attributes"
            )
    if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
        # Schedule-to-start: a sticky task waited for its busy worker; start-to-close: the
        # worker held a task it had started past the timeout.
        kind = event.workflow_task_timed_out_event_attributes.timeout_type
        return f"workflow task timed out ({_words(TimeoutType.Name(kind), 'TIMEOUT_TYPE_')})"
    if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        return f"signal {event.workflow_execution_signaled_event_attributes.signal_name}"
    return _words(EventType.Name(event.event_type), "EVENT_TYPE_")


def _words(name: str, prefix: str) -> str:
    return name.removeprefix(prefix).lower().replace("_", " ")


def _activity_type(details: Mapping[str, Payloads]) -> str:
    with contextlib.suppress(KeyError, IndexError, ValueError):
        value = json.loads(details["data"].payloads[0].data)
        if isinstance(value, dict):
            return str(value.get("activity_type", "?"))
    return "?"


_COMMANDS = {
    E.EVENT_TYPE_MARKER_RECORDED,
    E.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES,
    E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
    E.EVENT_TYPE_TIMER_STARTED,
    E.EVENT_TYPE_TIMER_CANCELED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    E.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
    E.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
    E.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED,
    E.EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED,
}
