"""The raw ceiling: a minimal ticket-like workflow, its one activity, and its worker.

`python -m bench.raw --address HOST:PORT --task-queue Q --escalations FILE` runs the worker in a
process of its own, as `slaflow up` runs slaflow's worker apart from the load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow
from temporalio.common import SearchAttributeKey

ESCALATE = "raw_escalate"
# Two of slaflow's search attributes, by name (workflows/search_attributes.py; not imported:
# the raw worker loads nothing of slaflow's): what a respond changes in a ticket's visibility.
TICKET_STATUS = SearchAttributeKey.for_keyword("TicketStatus")
RESPONSE_DUE_AT = SearchAttributeKey.for_datetime("ResponseDueAt")


@dataclass
class RawTicketInput:
    deadline: float  # epoch seconds: the response deadline


@dataclass
class RawEscalation:
    workflow_id: str
    deadline: float


@workflow.defn(name="RawTicket")
class RawTicket:
    """Waits for its resolution until the deadline; on timeout runs one activity."""

    def __init__(self) -> None:
        self._responded = False
        self._resolved = False

    @workflow.run
    async def run(self, ticket: RawTicketInput) -> str:
        left = max(ticket.deadline - workflow.now().timestamp(), 0.001)
        try:
            await workflow.wait_condition(lambda: self._resolved, timeout=timedelta(seconds=left))
        except TimeoutError:
            await workflow.execute_activity(
                ESCALATE,
                RawEscalation(workflow.info().workflow_id, ticket.deadline),
                start_to_close_timeout=timedelta(seconds=30),
            )
            return "escalated"
        return "resolved"

    @workflow.query(name="state")
    def state(self) -> dict[str, bool]:
        return {"responded": self._responded, "resolved": self._resolved}

    @workflow.signal(name="respond")
    def respond_signal(self) -> None:
        self._responded = True

    @workflow.update(name="respond")
    def respond(self) -> dict[str, bool]:
        self._responded = True
        if workflow.info().typed_search_attributes.get(TICKET_STATUS) is not None:
            # Started indexed as a ticket (measurement 8): a respond's upsert, as slaflow's.
            workflow.upsert_search_attributes(
                [TICKET_STATUS.value_set("responded"), RESPONSE_DUE_AT.value_unset()]
            )
        return self.state()

    @workflow.update(name="resolve")
    def resolve(self) -> dict[str, bool]:
        self._resolved = True
        return self.state()


class RawActivities:
    """The escalation notes when it started, one line per workflow, in a plain file."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("a", encoding="utf-8")

    @activity.defn(name=ESCALATE)
    async def escalate(self, escalation: RawEscalation) -> None:
        started = time.time()
        self._file.write(f"{escalation.workflow_id} {escalation.deadline} {started}\n")
        self._file.flush()


def read_escalations(path: Path) -> dict[str, float]:
    """workflow id -> lateness in seconds (activity start minus deadline)."""
    lateness: dict[str, float] = {}
    if not path.exists():
        return lateness
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 3:
            lateness[parts[0]] = float(parts[2]) - float(parts[1])
    return lateness


async def run_worker(address: str, task_queue: str, escalations: Path, max_cached: int) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(address)
    worker = Worker(
        client,
        task_queue=task_queue,
        workflows=[RawTicket],
        activities=[RawActivities(escalations).escalate],
        max_cached_workflows=max_cached,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    async with worker:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw", description=__doc__)
    parser.add_argument("--address", required=True)
    parser.add_argument("--task-queue", required=True)
    parser.add_argument("--escalations", type=Path, required=True)
    parser.add_argument("--max-cached", type=int, default=10_000)
    args = parser.parse_args()
    asyncio.run(run_worker(args.address, args.task_queue, args.escalations, args.max_cached))


if __name__ == "__main__":
    main()
