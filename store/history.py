"""A ticket's audit trail: every run's Temporal event history, decoded, and its archive."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from temporalio.client import Client, WorkflowHistory

_JSON_ENCODINGS = {"json/plain", "json/protobuf"}


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
    """Every run of a workflow, oldest first, following the continue-as-new chain backwards."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id
        if not run_id:
            break
    histories.reverse()
    return histories


def decoded_events(history: WorkflowHistory) -> list[dict[str, Any]]:
    return [decode_payloads(e) for e in history.to_json_dict().get("events", [])]


async def fetch_runs(client: Client, workflow_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """(run id, decoded events) of every run, oldest first."""
    return [(h.run_id, decoded_events(h)) for h in await fetch_histories(client, workflow_id)]


def histories_in(document: dict[str, Any], name: str) -> list[WorkflowHistory]:
    """The replayable runs in a file: an archive (`runs[].raw`) or one raw history, as
    `temporal workflow show --output json` prints it."""
    if "runs" in document:
        workflow_id = document.get("workflow_id") or name
        return [WorkflowHistory.from_json(workflow_id, run["raw"]) for run in document["runs"]]
    if "events" in document:
        return [WorkflowHistory.from_json(name, document)]
    raise ValueError(f"{name}: neither an archive nor a workflow history")
