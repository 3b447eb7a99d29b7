"""A ticket's audit trail: every run's Temporal event history, decoded, and its archive."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

_JSON_ENCODINGS = {"json/plain", "json/protobuf"}
_STARTED = "workflowExecutionStartedEventAttributes"

# (run id, decoded events) of one run.
Run = tuple[str, list[dict[str, Any]]]


def _decode_payload(payload: dict[str, Any]) -> Any:
    metadata = payload.get("metadata") or {}
    try:
        encoding = base64.b64decode(metadata.get("encoding", "")).decode()
        if encoding == "binary/null":
            return None
        if encoding in _JSON_ENCODINGS:
            return json.loads(base64.b64decode(payload.get("data", "")))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError):
        pass
    return payload


def decode_payloads(node: Any) -> Any:
    """Replace every Temporal payload ({metadata, data}) in a history's JSON with its value."""
    if isinstance(node, dict):
        if "metadata" in node and "encoding" in (node.get("metadata") or {}):
            return _decode_payload(node)
        return {key: decode_payloads(value) for key, value in node.items()}
    if isinstance(node, list):
        return [decode_payloads(item) for item in node]
    return node


async def fetch_histories(client: Client, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow Temporal still has, oldest first, following the continue-as-new
    chain backwards from the latest run. Retention deletes each run on its own (a long ticket
    loses its early runs while it lives): the chain ends at the first run Temporal no longer
    has, and `earlier_run_missing` of the oldest says so (the archive has the rest)."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        try:
            history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND and histories:
                break  # an earlier run, deleted
            raise
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        if not run_id:
            break
    histories.reverse()
    return histories


def decoded_events(history: WorkflowHistory) -> list[dict[str, Any]]:
    return [decode_payloads(e) for e in history.to_json_dict().get("events", [])]


async def fetch_runs(client: Client, workflow_id: str) -> list[Run]:
    """(run id, decoded events) of every run Temporal still has, oldest first."""
    return [(h.run_id, decoded_events(h)) for h in await fetch_histories(client, workflow_id)]


def earlier_run_missing(events: list[dict[str, Any]]) -> bool:
    """Whether the run of these events continued an earlier run (that fetch_runs may lack)."""
    started = events[0].get(_STARTED, {}) if events else {}
    return bool(started.get("continuedExecutionRunId"))


def with_archived(live: list[Run], archived: Sequence[dict[str, Any]]) -> list[Run]:
    """Every run, oldest first: the archived runs Temporal no longer has, then Temporal's.
    Temporal's chain from the latest run back to its first gap holds every run newer than the
    gap, so the runs only the archive has are the older ones."""
    have = {run_id for run_id, _ in live}
    older = [(run["run_id"], run["events"]) for run in archived if run["run_id"] not in have]
    return [*older, *live]


def opened_with(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """`customer_id`, `title` and `priority` of the request that opened the ticket, from any
    of its runs' decoded events: every run's input is the opening input (continue-as-new
    carries the state beside it), whatever the ticket's priority is now."""
    try:
        opening = events[0][_STARTED]["input"]["payloads"][0]
        return {field: opening[field] for field in ("customer_id", "title", "priority")}
    except (IndexError, KeyError, TypeError):
        return None


def histories_in(document: dict[str, Any], name: str) -> list[WorkflowHistory]:
    """The replayable runs in a file: a ticket's archive (`runs[].raw`), one archived run
    (`raw`), or one raw history as `temporal workflow show --output json` prints it."""
    workflow_id = document.get("workflow_id") or name
    if "runs" in document:
        return [WorkflowHistory.from_json(workflow_id, run["raw"]) for run in document["runs"]]
    if "raw" in document:
        return [WorkflowHistory.from_json(workflow_id, document["raw"])]
    if "events" in document:
        return [WorkflowHistory.from_json(name, document)]
    raise ValueError(f"{name}: neither an archive nor a workflow history")
