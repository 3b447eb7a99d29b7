"""Structured logs: JSON lines off a terminal, with the ticket and workflow ids."""

from __future__ import annotations

import json
import logging

from telemetry import StructuredFormatter


def record(message: str, **extra: object) -> logging.LogRecord:
    item = logging.LogRecord("slaflow.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(item, key, value)
    return item


def test_a_line_about_a_ticket_carries_its_ticket_and_workflow_ids() -> None:
    line = json.loads(
        StructuredFormatter(as_json=True).format(
            record("breached", temporal_workflow={"workflow_id": "ticket-T-9"}, fields={"x": 1})
        )
    )
    assert (line["message"], line["workflow_id"], line["ticket_id"], line["x"]) == (
        "breached",
        "ticket-T-9",
        "T-9",
        1,
    )
    assert line["level"] == "info" and line["time"].endswith("+00:00")


def test_on_a_terminal_the_line_is_plain_text() -> None:
    text = StructuredFormatter(as_json=False).format(record("escalated", fields={"level": 2}))
    assert text == "info    slaflow.test: escalated level=2"


def test_a_field_never_passes_for_the_lines_own_keys() -> None:
    fields = {"level": 2, "message": "x", "escalation_level": 2}
    line = json.loads(StructuredFormatter(as_json=True).format(record("escalated", fields=fields)))
    assert (line["level"], line["message"], line["escalation_level"]) == ("info", "escalated", 2)
