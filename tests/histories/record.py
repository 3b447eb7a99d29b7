"""Record the saved histories the replay test runs: `python -m tests.histories.record [NAME...]`.

Each file is named `r{REVISION}-{scenario}.json`: the ticket revision it was recorded under.
Once slaflow is released, a saved history stands for tickets running somewhere: never
re-record one, only add the scenarios of a new revision (docs/versioning.md). Until then, a
revision's files are re-recorded whenever its commands change.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.resolve import policy_snapshot
from settings import load_config_file
from sla.actions import (
    ChangeTicket,
    Close,
    Comment,
    Pause,
    Rate,
    Reopen,
    Repair,
    Resolve,
    Respond,
    Resume,
)
from sla.notifications import NotificationsConfig
from sla.policy import PolicySnapshot, SlaConfig, parse_config
from sla.priorities import Priority
from sla.ticket import Ticket
from store import Store
from tests.support import postgres
from tests.support.receiver import Receiver
from tests.support.workflows import act, new_ticket, open_ticket, signal, ticket_worker
from workflows.search_attributes import ALL_KEYS, initial_search_attributes
from workflows.ticket import REVISION, TicketWorkflow

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
QUEUE = "record"
# The webhook receiver the scenarios with notifications deliver to: a fixed port, since its
# URL is in the policy each saved history carries.
PORT = 18999
HOOK = f"http://127.0.0.1:{PORT}/hook"


def shipped() -> PolicySnapshot:
    return load_config_file(HERE.parent.parent / "config" / "sla.yaml").snapshot()


def contract(targets: dict[str, str], events: list[str], rewarded_within: float) -> SlaConfig:
    """A contracted customer (credits in EUR, a reward) with a webhook for `events`."""
    return parse_config(
        {
            "default_policy": "contract",
            "customers": {"acme": {"monthly_fee": 10000, "currency": "EUR"}},
            "notifications": {
                "webhooks": [{"name": "ops", "url": HOOK, "secret": "x", "events": events}]
            },
            "policies": {
                "contract": {
                    "targets": {p: targets for p in Priority},
                    "credits": {"response_breach": {"P1": "2%"}},
                    "rewards": {"resolved_within": rewarded_within,
                                "reward": {"amount": 1, "unit": "support_hours"}},
                }
            },
        }
    )  # fmt: skip


@asynccontextmanager
async def stack(
    indexed: bool, notifications: NotificationsConfig | None = None, store: Store | None = None
) -> AsyncIterator[tuple[WorkflowEnvironment, Client]]:
    """A server (a dev server with search attributes where `indexed`, else time-skipping), a
    worker on QUEUE with `store` (else a throwaway one), and a receiver that accepts every
    delivery."""
    if indexed:
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            data_converter=pydantic_data_converter,
            search_attributes=ALL_KEYS,
        )
    else:
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=str(BIN / "temporal-test-server"),
            data_converter=pydantic_data_converter,
        )
    with Receiver(200, port=PORT), tempfile.TemporaryDirectory() as tmp:
        store = store or Store.at(Path(tmp) / "l.db")
        async with env, ticket_worker(env.client, QUEUE, store, notifications):
            yield env, env.client


async def met_in_time() -> WorkflowHistory:
    """Answered and resolved in time, closed by an agent."""
    async with stack(indexed=False) as (env, client):
        handle = await open_ticket(client, QUEUE, shipped())
        await env.sleep(timedelta(minutes=5))
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        await handle.result()
        return await handle.fetch_history()


async def breached_and_worked() -> WorkflowHistory:
    """Breached, warned and escalated, then worked through every action, by Update and Signal."""
    async with stack(indexed=False) as (env, client):
        handle = await open_ticket(client, QUEUE, shipped(), priority=Priority.P2)
        await env.sleep(timedelta(minutes=70))
        await signal(handle, Comment(author="bob", body="hi"))
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Pause(reason="need logs"))
        await env.sleep(timedelta(hours=1))
        await act(handle, Resume())
        await act(handle, ChangeTicket(priority=Priority.P1))
        await env.sleep(timedelta(hours=3))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Reopen(reason="still broken"))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        await handle.result()
        return await handle.fetch_history()


async def business_hours() -> WorkflowHistory:
    """Under a Berlin office calendar with public holidays, paused over a night."""
    from tests.workflows.test_business_hours import BERLIN_OFFICE

    config = parse_config(
        {
            "default_policy": "business",
            "calendars": {"berlin-office": BERLIN_OFFICE},
            "policies": {
                "business": {
                    "calendar": "berlin-office",
                    "targets": {p: {"response": "1h", "resolution": "8h"} for p in Priority},
                }
            },
        }
    )
    opened = datetime(2027, 5, 14, 14, 30, tzinfo=UTC)
    async with stack(indexed=False) as (env, client):
        policy = policy_snapshot(config, opened)
        handle = await open_ticket(client, QUEUE, policy, Priority.P2, opened)
        now = await env.get_current_time()
        await env.sleep(datetime(2027, 5, 18, 7, 0, tzinfo=UTC) - now)
        await act(handle, Pause(reason="need logs"))
        await env.sleep(timedelta(hours=20))
        await act(handle, Resume())
        await env.sleep(timedelta(hours=30))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        await handle.result()
        return await handle.fetch_history()


async def contract_credits() -> WorkflowHistory:
    """A contracted customer: a penalty credited in EUR, a reward, deliveries, archiving."""
    config = contract({"response": "15m", "resolution": "2h"}, ["breach", "resolved"], 0.5)
    async with stack(indexed=False, notifications=config.notifications) as (env, client):
        now = await env.get_current_time()
        handle = await open_ticket(client, QUEUE, policy_snapshot(config, now, "acme"))
        await env.sleep(timedelta(minutes=20))
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        await handle.result()
        return await handle.fetch_history()


async def indexed_every_action() -> WorkflowHistory:
    """On a dev server with search attributes, as the API starts tickets: visibility seeded
    from the start and kept by upserts, a breach in real time, every action."""
    config = contract({"response": "2s", "resolution": "30s"}, ["breach", "resolved"], 0.9)
    async with stack(indexed=True, notifications=config.notifications) as (_, client):
        now = datetime.now(UTC)
        new = new_ticket(policy_snapshot(config, now, "acme"), ticket_id="indexed", opened_at=now)
        handle = await client.start_workflow(
            TicketWorkflow.run,
            new,
            id="ticket-indexed",
            task_queue=QUEUE,
            search_attributes=initial_search_attributes(Ticket.open(new, now).state),
        )
        await asyncio.sleep(4)  # the response target (2 s) breaches
        await signal(handle, Comment(author="bob", body="hi"))
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Pause(reason="need logs"))
        await act(handle, Resume())
        await act(handle, ChangeTicket(priority=Priority.P2, assignee="carol"))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Reopen(reason="still broken"))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        await handle.result()
        return await handle.fetch_history()


async def store_outage() -> WorkflowHistory:
    """The store's PostgreSQL stopped under a breach: the fast path gives up, the records wait
    in the pending list (the regular activity, the index of what waits) and land once the
    database is back; then worked and closed."""
    config = contract({"response": "2s", "resolution": "30s"}, ["breach"], 0.9)
    with postgres.stoppable_postgres() as database:
        store = Store(database.url)
        async with stack(True, config.notifications, store) as (_, client):
            now = datetime.now(UTC)
            policy = policy_snapshot(config, now, "acme")
            new = new_ticket(policy, ticket_id="outage", opened_at=now)
            handle = await client.start_workflow(
                TicketWorkflow.run,
                new,
                id="ticket-outage",
                task_queue=QUEUE,
                search_attributes=initial_search_attributes(Ticket.open(new, now).state),
            )
            await until(lambda: store.ticket("outage") is not None)
            database.stop()
            await asyncio.sleep(4)  # the response target (2 s) breaches meanwhile
            database.start()
            await until(lambda: len(store.events("outage")) >= 2)  # penalty and escalation
            await act(handle, Respond(agent_id="alice"))
            await act(handle, Resolve(agent_id="alice"))
            await act(handle, Close())
            await handle.result()
            history = await handle.fetch_history()
        store.close()
    return history


async def until(condition: Callable[[], bool], seconds: float = 60) -> None:
    for _ in range(int(seconds * 10)):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the scenario's condition was not reached")


async def rated_and_followed_up() -> WorkflowHistory:
    """Quality: a survey on resolve, a follow-up timer, a reopen and a second resolution, a
    rating of the new cycle after the close, while the closed ticket keeps its window open."""
    config = parse_config(
        {
            "default_policy": "rated",
            "customers": {"acme": {"monthly_fee": 10000, "currency": "EUR",
                                   "notify": ["webhook:portal"]}},
            "notifications": {
                "webhooks": [{"name": "portal", "url": HOOK, "secret": "x", "events": ["rating"]}],
                "audiences": {"team-lead": ["webhook:portal"]},
            },
            "policies": {
                "rated": {
                    "targets": {p: {"response": "15m", "resolution": "2h"} for p in Priority},
                    "quality": {"require_resolution_note": True, "survey": True,
                                "rating_window": "3d", "follow_up_after": "1d"},
                }
            },
        }
    )  # fmt: skip
    async with stack(indexed=False, notifications=config.notifications) as (env, client):
        now = await env.get_current_time()
        handle = await open_ticket(client, QUEUE, policy_snapshot(config, now, "acme"))
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Resolve(agent_id="alice", resolution="cleared the cache"))
        await env.sleep(timedelta(days=1, hours=1))
        await act(handle, Reopen(reason="back again"))
        await act(handle, Resolve(agent_id="alice", resolution="patched the job"))
        await act(handle, Close())
        await env.sleep(timedelta(hours=2))
        await act(handle, Rate(score=4, comment="thanks"))
        await handle.result()
        return await handle.fetch_history()


async def repaired_policy() -> WorkflowHistory:
    """On a dev server with search attributes: opened under a 1h response target, repaired
    (the `repair` Update) to a policy of 2s, which breaches it at once, dated 2 s after it
    opened, escalates and credits it; visibility follows the new policy; then worked."""
    config = parse_config(
        {
            "default_policy": "standard",
            "customers": {"acme": {"monthly_fee": 10000, "currency": "EUR"}},
            "notifications": {
                "webhooks": [{"name": "ops", "url": HOOK, "secret": "x", "events": ["breach"]}]
            },
            "policies": {
                name: {
                    "targets": {p: {"response": response, "resolution": "1h"} for p in Priority},
                    "credits": {"response_breach": {"P1": "2%"}},
                }
                for name, response in (("standard", "1h"), ("urgent", "2s"))
            },
        }
    )
    async with stack(indexed=True, notifications=config.notifications) as (_, client):
        now = datetime.now(UTC)
        new = new_ticket(policy_snapshot(config, now, "acme"), ticket_id="repaired", opened_at=now)
        handle = await client.start_workflow(
            TicketWorkflow.run,
            new,
            id="ticket-repaired",
            task_queue=QUEUE,
            search_attributes=initial_search_attributes(Ticket.open(new, now).state),
        )
        await asyncio.sleep(3)
        snapshot = policy_snapshot(config, now, "acme", "urgent")
        await act(handle, Repair(policy="urgent", reason="the contract says 2s", snapshot=snapshot))
        await act(handle, Respond(agent_id="alice"))
        await act(handle, Resolve(agent_id="alice"))
        await act(handle, Close())
        await handle.result()
        return await handle.fetch_history()


SCENARIOS: dict[str, Callable[[], Awaitable[WorkflowHistory]]] = {
    "met-in-time": met_in_time,
    "store-outage": store_outage,
    "breached-and-worked": breached_and_worked,
    "business-hours": business_hours,
    "contract-credits": contract_credits,
    "indexed-every-action": indexed_every_action,
    "rated-and-followed-up": rated_and_followed_up,
    "repaired-policy": repaired_policy,
}


async def record(names: list[str]) -> None:
    for name in names:
        history = await SCENARIOS[name]()
        path = HERE / f"r{REVISION}-{name}.json"
        path.write_text(history.to_json())
        print(f"wrote {path} ({len(history.events)} events)")


if __name__ == "__main__":
    wanted = sys.argv[1:] or list(SCENARIOS)
    if unknown := set(wanted) - set(SCENARIOS):
        sys.exit(f"unknown scenario {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    asyncio.run(record(wanted))
