"""No stuck ticket at the ends of time: a due time past the year 9999, or a calendar with no
business hours within reach, leaves the clock without a due time instead of failing the
ticket's workflow task on every retry (a ticket that never answers). On the local dev server,
whose clock does not skip ahead to a far timer."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from sla.actions import Resolve, Respond
from sla.calendar import Calendar
from sla.clock import ClockState
from sla.policy import PolicySnapshot
from sla.ticket import TicketStatus
from store import Store
from tests.support.workflows import act, open_ticket, ticket_worker

# A stuck ticket never answers its first query; a healthy one answers in well under this.
ANSWER_WITHIN = 30


async def test_a_ticket_opened_near_the_end_of_time_answers_and_takes_actions(
    dev_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    # A producer may start a ticket through Temporal with its own `opened_at`.
    opened = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)
    async with ticket_worker(dev_env.client, task_queue, Store.at(tmp_path / "s.db")):
        handle = await asyncio.wait_for(
            open_ticket(dev_env.client, task_queue, standard_policy, opened_at=opened),
            ANSWER_WITHIN,
        )
        responded = await asyncio.wait_for(act(handle, Respond(agent_id="alice")), ANSWER_WITHIN)
        resolved = await asyncio.wait_for(act(handle, Resolve(agent_id="alice")), ANSWER_WITHIN)
    assert responded.response.state is ClockState.MET
    assert responded.resolution.due_at is None  # 2 h after 23:00 on 9999-12-31 is no date
    assert resolved.status is TicketStatus.RESOLVED


async def test_a_ticket_whose_calendar_has_no_business_hours_opens_without_due_times(
    dev_env: WorkflowEnvironment, task_queue: str, standard_policy: PolicySnapshot, tmp_path: Path
) -> None:
    # Config refuses such a calendar; a snapshot made otherwise must still not stick a ticket.
    closed = standard_policy.model_copy(update={"calendar": Calendar(name="closed", hours={})})
    async with ticket_worker(dev_env.client, task_queue, Store.at(tmp_path / "s.db")):
        handle = await asyncio.wait_for(
            open_ticket(dev_env.client, task_queue, closed), ANSWER_WITHIN
        )
        state = await asyncio.wait_for(act(handle, Respond(agent_id="alice")), ANSWER_WITHIN)
    assert state.response.state is ClockState.MET
    assert state.resolution.state is ClockState.RUNNING
    assert state.resolution.due_at is None
    assert state.created_at <= datetime.now(UTC) + timedelta(minutes=1)
