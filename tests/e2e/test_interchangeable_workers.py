"""Workers are interchangeable (issue 15, point 7): two `slaflow worker` processes and one
`slaflow api` on one Temporal server prepared by `slaflow setup`; one worker is killed with
SIGKILL while 50 P1 tickets run toward their response deadline, and every ticket still
breaches and escalates, each once, on the other worker.

Everything is a real process: a Temporal dev server of the test's own (bare, so that `slaflow
setup` is what registers the search attributes), `slaflow setup`, two workers, the API over
HTTP and a webhook receiver. The store is the shipped default, as `Processes` sets it up: one
SQLite file in the data dir shared by the three slaflow processes (WAL and a busy timeout let
two workers write it side by side; the ledger's unique keys do the rest)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cli import die_with_parent, temporal_cli
from sla.notifications import event_id, verify
from tests.support.ports import free_port
from tests.support.processes import SLAFLOW, Processes, wait_for
from tests.support.receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TICKETS = 50
# Long enough for 50 opens and the check of who holds them before the first deadline on a
# loaded 2-core box; short enough to keep the test near a minute.
RESPONSE_TARGET = 20
# The kill comes this long before the first deadline.
KILL_BEFORE = 3
SECRET = "s3cret-interchangeable"


def config(hook_url: str) -> str:
    # No warnings: the response deadline is the first timer to fire, and every workflow task
    # from then on is the breach's (its records, deliveries and escalation).
    return f"""
default_policy: standard
customers:
  acme: {{policy: standard, monthly_fee: 10000, currency: EUR}}
notifications:
  webhooks:
    - {{name: ops, url: "{hook_url}", secret: "{SECRET}", events: [breach, escalation, penalty]}}
policies:
  standard:
    warn_at: []
    targets:
      P1: {{response: {RESPONSE_TARGET}s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    escalation:
      - {{after: 0s, notify: [team-lead]}}
    credits:
      response_breach: {{P1: 2%, P2: 1%, P3: 0.5%}}
"""


@contextlib.contextmanager
def bare_temporal(tmp: Path) -> Iterator[str]:
    """A Temporal dev server without slaflow's search attributes (what `slaflow setup` is
    for), one task-queue partition as `slaflow up` runs it; its address."""
    port = free_port()
    log = (tmp / "temporal.log").open("ab")
    args = [
        temporal_cli(), "server", "start-dev",
        "--ip", "127.0.0.1", "--port", str(port), "--headless", "--log-level", "warn",
        "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
        "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1",
    ]  # fmt: skip
    server = subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Processes]:
    """slaflow processes (none started yet) against a Temporal server of their own."""
    with bare_temporal(tmp_path) as address:
        running = Processes(tmp_path, address)
        try:
            yield running
        finally:
            running.kill_all()


def identity(pid: int) -> str:
    """The Temporal SDK's default worker identity, which slaflow keeps."""
    return f"{pid}@{os.uname().nodename}"


def task_completions(history: dict[str, Any]) -> list[tuple[str, str]]:
    """(what came before, identity) of each completed workflow task, oldest first; "what came
    before" is "timer" once the first timer (the response deadline) has fired."""
    seen, out = "open", []
    for run in history["runs"]:
        for event in run["events"]:
            if "timerFiredEventAttributes" in event:
                seen = "timer"
            if "workflowTaskCompletedEventAttributes" in event:
                out.append((seen, event["workflowTaskCompletedEventAttributes"]["identity"]))
    return out


def breach_task_queue(history: dict[str, Any]) -> str:
    """The task queue the first workflow task after the first fired timer was scheduled on."""
    fired = False
    for run in history["runs"]:
        for event in run["events"]:
            fired = fired or "timerFiredEventAttributes" in event
            if fired and "workflowTaskScheduledEventAttributes" in event:
                name: str = event["workflowTaskScheduledEventAttributes"]["taskQueue"]["name"]
                return name
    return ""


def count_events(history: dict[str, Any], attributes: str) -> int:
    return sum(attributes in event for run in history["runs"] for event in run["events"])


def get_json(api: httpx.Client, path: str, deadline: float) -> dict[str, Any]:
    """GET `path`, retrying a 503 (docs/api.md: Temporal slow or a worker gone, retry)."""
    while True:
        answer = api.get(path)
        if answer.status_code == 200:
            body: dict[str, Any] = answer.json()
            return body
        assert answer.status_code == 503, (path, answer.status_code, answer.text)
        assert time.monotonic() < deadline, f"{path} still 503: {answer.text}"
        time.sleep(0.5)


def test_a_worker_killed_with_sigkill_leaves_every_breach_and_escalation_to_the_other_once(
    cluster: Processes, receiver: Callable[..., Receiver]
) -> None:
    started = time.monotonic()
    hook = receiver(200)
    cluster.configure(config(hook.url))
    setup = subprocess.run(
        [SLAFLOW, "setup"], env=cluster.env, capture_output=True, text=True, timeout=120
    )
    assert setup.returncode == 0, setup.stderr
    assert "search attributes registered" in setup.stderr

    # Two workers under keys of their own (Processes names a process by its command).
    workers = {name: subprocess.Popen([SLAFLOW, "worker"], env=cluster.env) for name in ("a", "b")}
    for name, process in workers.items():
        cluster.running[f"worker-{name}"] = process
    cluster.start("api")
    cluster.wait_healthy()
    api = httpx.Client(base_url=cluster.url, timeout=60)
    # Both workers poll the ticket queue before any ticket exists, so both get some.
    wait_for(lambda: api.get("/healthz").json().get("workers") == 2, seconds=60)
    by_identity = {identity(process.pid): name for name, process in workers.items()}

    run = uuid.uuid4().hex[:6]
    ids = [f"iw-{run}-{n:02d}" for n in range(TICKETS)]

    def open_one(ticket_id: str) -> dict[str, Any]:
        body = {"ticket_id": ticket_id, "title": "Checkout down", "priority": "P1",
                "customer_id": "acme"}  # fmt: skip
        answer = api.post("/tickets", json=body)
        if answer.status_code == 503:  # docs/api.md: retry with the same id, applies once
            answer = api.post("/tickets", json=body)
        assert answer.status_code in (200, 201), answer.text
        ticket: dict[str, Any] = answer.json()
        return ticket

    opening = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        opened = list(pool.map(open_one, ids))
    opens_took = time.monotonic() - opening
    due = {t["ticket_id"]: datetime.fromisoformat(t["response"]["due_at"]) for t in opened}
    first_due = min(due.values())
    last_due = max(due.values())

    # Who holds which ticket: the worker that completed its last workflow task keeps it in
    # its cache, and the server sends that ticket's next task (the breach) to its sticky queue.
    deadline = time.monotonic() + 60
    holder: dict[str, str] = {}
    for ticket_id in ids:
        while True:
            done = task_completions(get_json(api, f"/tickets/{ticket_id}/history", deadline))
            if done:
                holder[ticket_id] = by_identity[done[-1][1]]
                break
            assert time.monotonic() < deadline, f"{ticket_id}: no workflow task completed"
            time.sleep(0.2)
    held = Counter(holder.values())
    assert set(held) == {"a", "b"}, f"one worker holds every ticket: {held}"

    # Kill the worker that holds more tickets shortly before the first deadline, so that its
    # sticky queue was polled moments ago and the server still sends its tickets' breach
    # tasks there. (The SIGKILL closes the worker's polls; the dev server then hands those
    # tasks to the other worker at once, the sticky timeout (SLAFLOW_STICKY_TIMEOUT) being the
    # fallback. The summary line counts them.)
    victim = max(held, key=lambda name: (held[name], name))
    time.sleep(max(0.0, (first_due - datetime.now(UTC)).total_seconds() - KILL_BEFORE))
    survivor = "b" if victim == "a" else "a"
    orphans = sorted(t for t in ids if holder[t] == victim)
    dead = identity(workers[victim].pid)
    cluster.running.pop(f"worker-{victim}")
    os.kill(workers[victim].pid, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    workers[victim].wait(timeout=10)
    assert killed_at < first_due, (
        f"the kill came {(killed_at - first_due).total_seconds():.1f}s after the first deadline"
    )
    margin = (first_due - killed_at).total_seconds()

    # Every breach recorded once in the ledger and announced: bounded, though a killed
    # worker's sticky tasks wait out their schedule-to-start timeout before the other takes them.
    def penalties() -> list[tuple[Any, ...]]:
        return cluster.rows("SELECT ticket_id, kind, metric, cycle, key FROM credits")

    def escalations() -> list[tuple[Any, ...]]:
        return cluster.rows("SELECT ticket_id, kind, metric, cycle, level, key FROM notifications")

    def accepted_ids() -> set[str]:
        return {r.event_id for r in hook.received if r.status == 200}

    expected_events = {
        event_id(key)
        for t in ids
        for key in (f"{t}:breach:response:c1", f"{t}:penalty:response:c1",
                    f"{t}:escalation:response:c1:l1")
    }  # fmt: skip
    budget = time.monotonic() + (last_due - datetime.now(UTC)).total_seconds() + 90
    while not (
        len(penalties()) >= TICKETS
        and len(escalations()) >= TICKETS
        and accepted_ids() >= expected_events
    ):
        assert time.monotonic() < budget, (
            f"after 90 s past the last deadline: {len(penalties())} penalties, "
            f"{len(escalations())} escalations, "
            f"{len(expected_events - accepted_ids())} events not delivered; "
            f"{Counter(r.json()['type'] for r in hook.received)} received"
        )
        time.sleep(0.5)
    all_done = datetime.now(UTC)
    time.sleep(2)  # a late duplicate, if any, has time to show

    # The ledger: exactly one penalty and one escalation per ticket, under the ticket's keys.
    credit_rows, notification_rows = penalties(), escalations()
    assert sorted(credit_rows) == sorted(
        (t, "penalty", "response", 1, f"{t}:penalty:response:c1") for t in ids
    )
    assert sorted(notification_rows) == sorted(
        (t, "escalation", "response", 1, 1, f"{t}:escalation:response:c1:l1") for t in ids
    )

    # The receiver: each event once at least, signed, and one event id per (ticket, type,
    # level): a retry repeats an id, never makes another.
    received = hook.received
    unsigned = [r for r in received if not verify(r.body, SECRET, r.headers["x-slaflow-signature"])]
    assert unsigned == []
    ids_of: dict[tuple[str, str, int], set[str]] = defaultdict(set)
    for request in received:
        event = request.json()
        ids_of[(event["ticket_id"], event["type"], event["data"].get("level", 0))].add(event["id"])
    assert ids_of == {
        (t, kind, level): {event_id(key)}
        for t in ids
        for kind, level, key in (
            ("breach", 0, f"{t}:breach:response:c1"),
            ("penalty", 0, f"{t}:penalty:response:c1"),
            ("escalation", 1, f"{t}:escalation:response:c1:l1"),
        )
    }
    repeats = len(received) - len({r.event_id for r in received})

    # Each ticket as the API shows it: breached at its deadline, escalated to level 1, one
    # penalty; and its history: every task from the deadline on done by the survivor.
    deadline = time.monotonic() + 60
    sticky_timeouts, sent_to_the_dead = 0, 0
    for ticket_id in ids:
        ticket = get_json(api, f"/tickets/{ticket_id}", deadline)
        assert ticket["response"]["state"] == "breached", ticket
        assert datetime.fromisoformat(ticket["response"]["breached_at"]) == due[ticket_id]
        assert ticket["ever_breached"] is True
        assert ticket["escalation_level"] == 1
        assert [(e["level"], e["metric"]) for e in ticket["escalations"]] == [(1, "response")]
        assert [
            (c["kind"], c["metric"], Decimal(c["amount"]), c["unit"]) for c in ticket["credits"]
        ] == [("penalty", "response", Decimal("200"), "EUR")]
        timeline = get_json(api, f"/tickets/{ticket_id}/timeline", deadline)["entries"]
        kinds = Counter(entry["kind"] for entry in timeline)
        assert (kinds["breached"], kinds["escalated"]) == (1, 1), (ticket_id, timeline)
        history = get_json(api, f"/tickets/{ticket_id}/history", deadline)
        after = [name for seen, name in task_completions(history) if seen == "timer"]
        assert after and {by_identity.get(i, i) for i in after} == {survivor}, (ticket_id, after)
        assert count_events(history, "workflowTaskFailedEventAttributes") == 0, ticket_id
        sticky_timeouts += count_events(history, "workflowTaskTimedOutEventAttributes")
        sent_to_the_dead += breach_task_queue(history).startswith(f"{dead}-")

    print(
        f"\n{TICKETS} opens in {opens_took:.1f}s; worker {victim} held {len(orphans)} of them "
        f"({dict(held)}), killed {margin:.1f}s before the first deadline; every breach, "
        f"penalty and escalation recorded and delivered "
        f"{(all_done - last_due).total_seconds():.1f}s after the last deadline; "
        f"{sent_to_the_dead} breach tasks scheduled on the dead worker's sticky queue and "
        f"{sticky_timeouts} workflow task timeouts, {repeats} repeated deliveries; "
        f"{time.monotonic() - started:.1f}s in all"
    )
