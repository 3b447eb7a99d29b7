"""Record the saved histories the replay test runs: `python -m tests.histories.record NAME`.

Each recorder pins the workflow revision its file stands for (v1-v3: revision 0, v4: 1).

Run it only to add histories of a new workflow version; never regenerate old ones, since
they stand for tickets that are already running in production.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config.resolve import policy_snapshot
from settings import load_config_file
from sla.actions import ChangeTicket, Close, Comment, Pause, Reopen, Resolve, Respond, Resume
from sla.policy import PolicySnapshot, parse_config
from sla.priorities import Priority
from sla.ticket import OpenTicket, Ticket
from store import Store
from tests.workflows.helpers import open_ticket, ticket_worker
from workflows.search_attributes import ALL_KEYS, initial_search_attributes
from workflows.ticket import TicketWorkflow

HERE = Path(__file__).parent
VERSION = "v1"


async def main() -> None:
    policy = load_config_file(HERE.parent.parent / "config" / "sla.yaml").snapshot()
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with env, ticket_worker(env.client, "record", Store.at(Path(tmp) / "l.db")):
            client = env.client
            # 1. Handled in time, closed.
            met = await open_ticket(client, "record", policy, revision=0)
            await env.sleep(timedelta(minutes=5))
            await met.execute_update(TicketWorkflow.respond, Respond(agent_id="alice"))
            await met.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await met.execute_update(TicketWorkflow.close, Close())
            await met.result()
            # 2. Breached twice, escalated, then worked through every action.
            busy = await open_ticket(client, "record", policy, priority=Priority.P2, revision=0)
            await env.sleep(timedelta(minutes=70))
            await busy.signal(TicketWorkflow.comment_signal, Comment(author="bob", body="hi"))
            await busy.execute_update(TicketWorkflow.respond, Respond(agent_id="alice"))
            await busy.execute_update(TicketWorkflow.pause, Pause(reason="need logs"))
            await env.sleep(timedelta(hours=1))
            await busy.execute_update(TicketWorkflow.resume, Resume())
            await busy.execute_update(TicketWorkflow.change, ChangeTicket(priority=Priority.P1))
            await env.sleep(timedelta(hours=3))
            await busy.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await busy.execute_update(TicketWorkflow.reopen, Reopen(reason="still broken"))
            await busy.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await busy.execute_update(TicketWorkflow.close, Close())
            await busy.result()
            for name, handle in (("met-in-time", met), ("breached-and-worked", busy)):
                history = await handle.fetch_history()
                path = HERE / f"{VERSION}-{name}.json"
                path.write_text(history.to_json())
                print(f"wrote {path} ({len(history.events)} events)")


async def record_indexed(policy: PolicySnapshot) -> None:
    """On a dev server with search attributes, so replay covers the visibility upserts too."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with env, ticket_worker(env.client, "record", Store.at(Path(tmp) / "l.db")):
            new = OpenTicket(
                ticket_id="indexed-1",
                customer_id="acme",
                title="Printer on fire",
                priority=Priority.P2,
                policy=policy,
            )
            state = Ticket.open(new, datetime.now(UTC)).state
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                new,
                id="ticket-indexed-1",
                task_queue="record",
                search_attributes=initial_search_attributes(state),
            )
            await handle.execute_update(TicketWorkflow.respond, Respond(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.pause, Pause(reason="need logs"))
            await handle.execute_update(TicketWorkflow.resume, Resume())
            await handle.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.close, Close())
            await handle.result()
            history = await handle.fetch_history()
            path = HERE / f"{VERSION}-indexed.json"
            path.write_text(history.to_json())
            print(f"wrote {path} ({len(history.events)} events)")


async def record_business_hours() -> None:
    """v2: a ticket under a Berlin office calendar with public holidays, paused over a night."""
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
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    with tempfile.TemporaryDirectory() as tmp:
        async with env, ticket_worker(env.client, "record", Store.at(Path(tmp) / "l.db")):
            policy = policy_snapshot(config, opened)
            handle = await open_ticket(
                env.client, "record", policy, Priority.P2, opened, revision=0
            )
            now = await env.get_current_time()
            await env.sleep(datetime(2027, 5, 18, 7, 0, tzinfo=UTC) - now)
            await handle.execute_update(TicketWorkflow.pause, Pause(reason="need logs"))
            await env.sleep(timedelta(hours=20))
            await handle.execute_update(TicketWorkflow.resume, Resume())
            await env.sleep(timedelta(hours=30))
            await handle.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.close, Close())
            await handle.result()
            history = await handle.fetch_history()
            path = HERE / "v2-business-hours.json"
            path.write_text(history.to_json())
            print(f"wrote {path} ({len(history.events)} events)")


async def record_v3() -> None:
    """v3: outcomes in the store, effects recorded by local activities, archiving, rewards
    and penalties under a contract, a delivery that the receiver (absent) never accepts."""
    config = parse_config(
        {
            "default_policy": "standard",
            "customers": {"acme": {"monthly_fee": 10000, "currency": "EUR"}},
            "notifications": {
                "webhooks": [{"name": "ops", "url": "http://127.0.0.1:18999/hook",
                              "secret": "x", "events": ["resolved"]}]
            },
            "policies": {
                "standard": {
                    "targets": {p: {"response": "15m", "resolution": "2h"} for p in Priority},
                    "credits": {"response_breach": {"P1": "2%"}},
                    "rewards": {"resolved_within": 0.5,
                                "reward": {"amount": 1, "unit": "support_hours"}},
                }
            },
        }
    )  # fmt: skip
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(Path(sys.executable).parent / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    receiver = ThreadingHTTPServer(("127.0.0.1", 18999), _Accept)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        worker = ticket_worker(
            env.client, "record", Store.at(Path(tmp) / "l.db"), config.notifications
        )
        async with env, worker:
            now = await env.get_current_time()
            policy = policy_snapshot(config, now, "acme")
            handle = await open_ticket(env.client, "record", policy, Priority.P1, revision=0)
            await env.sleep(timedelta(minutes=20))
            await handle.execute_update(TicketWorkflow.respond, Respond(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.close, Close())
            await handle.result()
            history = await handle.fetch_history()
            path = HERE / "v3-contract-local-records.json"
            path.write_text(history.to_json())
            print(f"wrote {path} ({len(history.events)} events)")
    receiver.shutdown()


async def record_v4() -> None:
    """v4: revision 1 on a dev server with search attributes: visibility seeded from the
    start, a breach's escalation, penalty and outcome in one local activity, every action."""
    config = parse_config(
        {
            "default_policy": "fast",
            "customers": {"acme": {"monthly_fee": 10000, "currency": "EUR"}},
            "notifications": {
                "webhooks": [{"name": "ops", "url": "http://127.0.0.1:18999/hook",
                              "secret": "x", "events": ["breach", "resolved"]}]
            },
            "policies": {
                "fast": {
                    "targets": {p: {"response": "2s", "resolution": "30s"} for p in Priority},
                    "credits": {"response_breach": {"P1": "2%"}},
                    "rewards": {"resolved_within": 0.9,
                                "reward": {"amount": 1, "unit": "support_hours"}},
                }
            },
        }
    )  # fmt: skip
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
    )
    receiver = ThreadingHTTPServer(("127.0.0.1", 18999), _Accept)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        worker = ticket_worker(
            env.client, "record", Store.at(Path(tmp) / "l.db"), config.notifications
        )
        async with env, worker:
            now = datetime.now(UTC)
            new = OpenTicket(
                ticket_id="revision-1",
                customer_id="acme",
                title="Printer on fire",
                priority=Priority.P1,
                policy=policy_snapshot(config, now, "acme"),
                opened_at=now,
                revision=1,  # frozen: this file stands for revision 1
            )
            handle = await env.client.start_workflow(
                TicketWorkflow.run,
                new,
                id="ticket-revision-1",
                task_queue="record",
                search_attributes=initial_search_attributes(Ticket.open(new, now).state),
            )
            await asyncio.sleep(4)  # the response target (2 s) breaches
            await handle.signal(TicketWorkflow.comment_signal, Comment(author="bob", body="hi"))
            await handle.execute_update(TicketWorkflow.respond, Respond(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.pause, Pause(reason="need logs"))
            await handle.execute_update(TicketWorkflow.resume, Resume())
            await handle.execute_update(TicketWorkflow.change, ChangeTicket(priority=Priority.P2))
            await handle.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.reopen, Reopen(reason="still broken"))
            await handle.execute_update(TicketWorkflow.resolve, Resolve(agent_id="alice"))
            await handle.execute_update(TicketWorkflow.close, Close())
            await handle.result()
            history = await handle.fetch_history()
            path = HERE / "v4-revision-1.json"
            path.write_text(history.to_json())
            print(f"wrote {path} ({len(history.events)} events)")
    receiver.shutdown()


class _Accept(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which == "v1":
        asyncio.run(main())
        shipped = load_config_file(HERE.parent.parent / "config" / "sla.yaml").snapshot()
        asyncio.run(record_indexed(shipped))
    elif which == "v2-business-hours":
        asyncio.run(record_business_hours())
    elif which == "v3":
        asyncio.run(record_v3())
    elif which == "v4":
        asyncio.run(record_v4())
    else:
        sys.exit("usage: python -m tests.histories.record v1|v2-business-hours|v3|v4")
