"""A ticket's policy repaired through its `repair` Update on the time-skipping server: breached
at once and dated by the new policy, escalated, journaled so the replay reproduces it, applied
once per request id, refused with the reason; the loop then keeps the new promise. And the bulk
repair (RepairPolicy) on a dev server, whose visibility it lists tickets by."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from sla.actions import Close, Repair, Resolve
from sla.clock import ClockState
from sla.policy import PolicySnapshot, SlaConfig, parse_config
from sla.priorities import Priority
from sla.repairs import PolicyRepair, RepairProgress
from sla.what_if import reproduces
from store import Store
from tests.support.rules import policy
from tests.support.workflows import act, open_ticket, state_of, ticket_worker
from workflows.repairs import RepairPolicyWorkflow


def with_p1(response: str, name: str) -> PolicySnapshot:
    others = {"response": "4h", "resolution": "1d"}
    targets = {"P1": {"response": response, "resolution": "8h"}, "P2": others, "P3": others}
    return policy(targets=targets).model_copy(update={"name": name})


async def test_a_repaired_ticket_breaches_at_once_dated_by_the_new_policy_and_escalates(
    time_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(time_env.client, task_queue, store):
        handle = await open_ticket(time_env.client, task_queue, with_p1("1h", "hour"))
        await time_env.sleep(timedelta(minutes=10))
        fixed = Repair(
            reason="the config said 1h", actor="ops", snapshot=with_p1("5m", "five"),
            request_id="ops:fix-1",
        )  # fmt: skip
        repaired = await act(handle, fixed)
        opened = repaired.created_at
        assert repaired.policy == "five"
        assert repaired.response.state is ClockState.BREACHED
        assert repaired.response.breached_at == opened + timedelta(minutes=5)
        assert repaired.escalation_level == 1  # in the answer already
        assert repaired.repairs[-1].request_id == "ops:fix-1"
        assert repaired.repairs[-1].clocks[0].due_before == opened + timedelta(hours=1)
        again = await act(handle, fixed)  # a retried request: the same repair, once
        assert len(again.repairs) == 1
        assert [e.kind for e in again.timeline].count("policy_repaired") == 1

        await time_env.sleep(timedelta(hours=9))  # the loop keeps the new promise
        later = await state_of(handle)
        assert later.resolution.state is ClockState.BREACHED
        assert later.resolution.breached_at == opened + timedelta(hours=8)
        await act(handle, Resolve(agent_id="alice"))
        broken = with_p1("1h", "broken")
        broken = broken.model_copy(
            update={"targets": {p: t for p, t in broken.targets.items() if p is not Priority.P1}}
        )
        with pytest.raises(WorkflowUpdateFailedError) as refused:  # by the validator
            await act(handle, Repair(reason="no P1", snapshot=broken))
        assert "policy 'broken' has no targets for P1" in str(refused.value.cause)
        await act(handle, Close())
        final = await handle.result()

    window = (final.created_at - timedelta(days=1), final.created_at + timedelta(days=1))
    [kept], _ = store.journaled_tickets(*window)
    assert [e.kind for e in kept.entries] == ["repair", "resolve", "close"]
    assert kept.entries[0].payload["snapshot"]["name"] == "five"
    assert kept.outcome.policy == "five" and kept.outcome.breaches == 2
    assert reproduces(kept)


def config_of(hour_response: str) -> SlaConfig:
    """Policies `hour` (P1 response as given) and `other`."""
    others = {"response": "4h", "resolution": "1d"}

    def targets(response: str) -> dict[str, dict[str, str]]:
        return {"P1": {"response": response, "resolution": "8h"}, "P2": others, "P3": others}

    return parse_config(
        {
            "default_policy": "hour",
            "policies": {
                "hour": {"targets": targets(hour_response)},
                "other": {"targets": targets("1h")},
            },
        }
    )


async def repair(
    client: Client, task_queue: str, policy_name: str, dry_run: bool
) -> RepairProgress:
    request = PolicyRepair(
        repair_id=f"repair-{uuid.uuid4().hex}",
        policy=policy_name,
        reason="the config said 1h",
        dry_run=dry_run,
        actor="ops",
    )
    return await client.execute_workflow(
        RepairPolicyWorkflow.run, request, id=request.repair_id, task_queue=task_queue
    )


async def test_a_bulk_repair_repairs_each_open_ticket_of_the_policy_once_and_a_dry_run_none(
    dev_env: WorkflowEnvironment, task_queue: str, tmp_path: Path
) -> None:
    client = dev_env.client
    in_force = {"config": config_of("1h")}
    store = Store.at(tmp_path / "store.sqlite3")
    async with ticket_worker(client, task_queue, store, config=lambda: in_force["config"]):
        opened = config_of("1h")
        hour, other = opened.snapshot("hour"), opened.snapshot("other")
        tickets = [await open_ticket(client, task_queue, hour, indexed=True) for _ in range(3)]
        await open_ticket(client, task_queue, other, indexed=True)
        closed = await open_ticket(client, task_queue, hour, indexed=True)
        await act(closed, Resolve(agent_id="alice"))
        await act(closed, Close())
        await closed.result()
        ids = sorted(h.id.removeprefix("ticket-") for h in tickets)

        async def listed() -> list[str]:
            query = f"TaskQueue = '{task_queue}' AND TicketPolicy = 'hour' AND " + (
                "ExecutionStatus = 'Running'"
            )
            return sorted([w.id async for w in client.list_workflows(query)])

        for _ in range(150):  # visibility is eventually consistent
            if len(await listed()) == 3:
                break
            await asyncio.sleep(0.2)
        in_force["config"] = config_of("5m")  # the config fixed, as a SIGHUP would

        dry = await repair(client, task_queue, "hour", dry_run=True)
        assert dry.status == "done"
        assert [(t.ticket_id, t.outcome) for t in dry.tickets] == [(i, "would_repair") for i in ids]
        for ticket, handle in zip(dry.tickets, sorted(tickets, key=lambda h: h.id), strict=True):
            state = await state_of(handle)
            assert (state.policy, state.repairs) == ("hour", [])  # nothing changed
            response = ticket.clocks[0]
            assert response.due_before == state.response.due_at
            assert response.due_at == state.response.started_at + timedelta(minutes=5)

        done = await repair(client, task_queue, "hour", dry_run=False)
        assert [(t.ticket_id, t.outcome) for t in done.tickets] == [(i, "repaired") for i in ids]
        assert [t.clocks for t in done.tickets] == [t.clocks for t in dry.tickets]
        for handle in tickets:
            state = await state_of(handle)
            assert state.policy == "hour" and len(state.repairs) == 1
            assert state.repairs[0].actor == "ops"
            assert state.response.target == timedelta(minutes=5)
