"""What a workflow's history says each step cost: its workflow tasks and their commands.

Read from the run itself, so the report describes the code that was measured (slaflow's
workflow changes under other hands; a history does not go stale)."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client
from temporalio.service import RPCError

E = EventType
SILENT = {E.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, E.EVENT_TYPE_WORKFLOW_TASK_STARTED}


async def tasks(client: Client, workflow_id: str) -> list[dict[str, list[str]]]:
    """Each workflow task of the history: what woke it (`on`) and what it did (`did`)."""
    try:
        history = await client.get_workflow_handle(workflow_id).fetch_history()
    except RPCError as exc:
        return [{"on": [f"history unavailable: {exc.message}"], "did": []}]
    found: list[dict[str, list[str]]] = []
    waking: list[str] = []
    doing: list[str] | None = None
    started = 0.0
    for event in history.events:
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            started = event.event_time.ToMilliseconds()
        if event.event_type in SILENT:
            continue
        if event.event_type == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            doing = []
            took = f"{event.event_time.ToMilliseconds() - started:.0f} ms"
            found.append({"on": waking, "did": doing, "took": [took]})
            waking = []
        elif event.event_type in _COMMANDS and doing is not None:
            doing.append(label(event))
        else:
            waking.append(label(event))
    if waking:
        found.append({"on": waking, "did": []})
    return found


def label(event: HistoryEvent) -> str:
    kind = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_").lower()
    if event.event_type == E.EVENT_TYPE_MARKER_RECORDED:
        return _marker(event)
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
            count = len(indexed.indexed_fields)
            return f"workflow execution started with {count} search attributes"
    if event.event_type == E.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
        return f"signal {event.workflow_execution_signaled_event_attributes.signal_name}"
    return kind.replace("_", " ")


def _marker(event: HistoryEvent) -> str:
    attrs = event.marker_recorded_event_attributes
    details = attrs.details
    if attrs.marker_name == "core_patch":
        patch = _json(details, "patch-data").get("id", "?")
        return f"patch marker {patch}"
    if attrs.marker_name == "core_local_activity":
        return f"local activity {_json(details, 'data').get('activity_type', '?')}"
    return f"marker {attrs.marker_name}"


def _json(details: Any, key: str) -> dict[str, Any]:
    with contextlib.suppress(KeyError, IndexError, ValueError, AttributeError):
        value = json.loads(details[key].payloads[0].data)
        return value if isinstance(value, dict) else {}
    return {}


def render(found: list[dict[str, list[str]]]) -> str:
    """'task 1 [3 ms] (on: workflow execution started): timer started; task 2 ...': each task
    with the time from its start to its completion, what woke it and what it did."""
    parts = []
    for number, task in enumerate(found, 1):
        if not task["did"] and number == len(found):
            parts.append(f"then: {', '.join(task['on'])}")
            continue
        on = f" (on: {', '.join(task['on'])})" if task["on"] else ""
        took = f" [{task['took'][0]}]" if task.get("took") else ""
        parts.append(f"task {number}{took}{on}: {', '.join(task['did']) or 'nothing'}")
    return "; ".join(parts)


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
