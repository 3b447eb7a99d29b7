"""Replay saved histories against today's workflow code: a change that breaks open tickets fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.ticket import TicketWorkflow

# Read at collection time: replay is CPU work, and the files are small.
HISTORIES = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parent.parent / "histories").glob("*.json"))
}


def test_saved_histories_exist() -> None:
    assert len(HISTORIES) >= 3, "tests/histories/ lost its saved histories"


@pytest.mark.parametrize("name", sorted(HISTORIES))
async def test_saved_history_replays_without_nondeterminism(name: str) -> None:
    history = WorkflowHistory.from_json(f"ticket-{name}", HISTORIES[name])
    replayer = Replayer(workflows=[TicketWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=True)
    assert result.replay_failure is None
