"""Tickets under a business calendar, on the time-skipping server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from config.resolve import policy_snapshot
from sla.clock import ClockState
from sla.policy import PolicySnapshot, SlaConfig, parse_config
from sla.priorities import Priority
from store import Store
from tests.support.workflows import open_ticket, state_of, ticket_worker

BERLIN_OFFICE = {
    "timezone": "Europe/Berlin",
    "hours": {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holiday_country": "DE",
    "holiday_subdivision": "BE",
}


@pytest.fixture(scope="module")
def business_config() -> SlaConfig:
    return parse_config(
        {
            "default_policy": "business",
            "calendars": {"berlin-office": BERLIN_OFFICE},
            "policies": {
                "business": {
                    "calendar": "berlin-office",
                    "targets": {
                        "P1": {"response": "15m", "resolution": "2h"},
                        "P2": {"response": "1h", "resolution": "8h"},
                        "P3": {"response": "4h", "resolution": "24h"},
                    },
                }
            },
        }
    )


async def test_p2_opened_friday_before_whit_monday_is_due_and_breached_on_tuesday(
    time_env: WorkflowEnvironment, task_queue: str, business_config: SlaConfig, tmp_path: Path
) -> None:
    # Friday 2027-05-14 16:30 in Berlin (CEST, UTC+2); Monday the 17th is Whit Monday.
    opened = datetime(2027, 5, 14, 14, 30, tzinfo=UTC)
    policy = policy_snapshot(business_config, opened)
    async with ticket_worker(time_env.client, task_queue, Store.at(tmp_path / "l.db")):
        handle = await open_ticket(
            time_env.client, task_queue, policy, Priority.P2, opened_at=opened
        )
        state = await state_of(handle)
        now = await time_env.get_current_time()
        await time_env.sleep(datetime(2027, 5, 18, 8, tzinfo=UTC) - now)
        later = await state_of(handle)

    assert (state.calendar, state.timezone) == ("berlin-office", "Europe/Berlin")
    # Tuesday 09:30 and 16:30 local.
    assert state.response.due_at == datetime(2027, 5, 18, 7, 30, tzinfo=UTC)
    assert state.resolution.due_at == datetime(2027, 5, 18, 14, 30, tzinfo=UTC)
    assert later.response.state is ClockState.BREACHED
    assert later.response.breached_at == datetime(2027, 5, 18, 7, 30, tzinfo=UTC)
    assert later.resolution.state is ClockState.RUNNING


async def test_a_long_ticket_extends_its_calendar_before_the_horizon_runs_out(
    time_env: WorkflowEnvironment, task_queue: str, business_config: SlaConfig, tmp_path: Path
) -> None:
    now = await time_env.get_current_time()
    # A snapshot resolved long ago: its horizon ends within the 60-day margin.
    stale: PolicySnapshot = policy_snapshot(business_config, now - timedelta(days=350))
    assert stale.calendar.horizon_end is not None
    async with ticket_worker(time_env.client, task_queue, Store.at(tmp_path / "l.db")):
        handle = await open_ticket(time_env.client, task_queue, stale, Priority.P3)
        state = await state_of(handle)
        history = await handle.fetch_history()

    markers = [
        e.marker_recorded_event_attributes.details
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    extensions = [
        m
        for m in markers
        if "data" in m and b'"activity_type":"extend_calendar"' in m["data"].payloads[0].data
    ]
    assert len(extensions) == 1  # the extend_calendar local activity, recorded once
    details = extensions[0]
    result = json.loads(details["result"].payloads[0].data)
    assert date.fromisoformat(result["horizon_end"]) > stale.calendar.horizon_end
    assert state.response.due_at is not None
    assert state.response.due_at > now
