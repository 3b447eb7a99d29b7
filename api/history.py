"""A ticket's audit trail: every run's Temporal event history, with payloads decoded to JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from temporalio.client import Client

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


async def fetch_runs(client: Client, workflow_id: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every run of a workflow, oldest first, following the continue-as-new chain backwards."""
    runs: list[tuple[str, list[dict[str, Any]]]] = []
    run_id: str | None = None
    while True:
        handle = client.get_workflow_handle(workflow_id, run_id=run_id)
        history = await handle.fetch_history()
        events = [decode_payloads(e) for e in history.to_json_dict().get("events", [])]
        started = history.events[0].workflow_execution_started_event_attributes
        runs.append((run_id or history.run_id, events))
        previous = started.continued_execution_run_id
        if not previous:
            break
        run_id = previous
    runs.reverse()
    return runs
