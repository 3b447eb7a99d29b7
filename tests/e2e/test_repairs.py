"""Repairs end to end: `slaflow worker` and `slaflow api` processes. A ticket opened under a 1 h
response target, repaired after a restart with a config of 5 s, breaches at once, dated 5 s
after it opened, and escalates; a bulk repair's dry run changes nothing, and the real one
repairs each open ticket of the policy once, though the worker is SIGKILLed in the middle."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.processes import Processes, wait_for

# acme pays 10,000 EUR a month: a breached P1 response is 2% (200.00 EUR).
CONFIG = """
default_policy: {policy}
customers:
  {acme}: {{monthly_fee: 10000, currency: EUR}}
  {globex}: {{policy: other, monthly_fee: 100, currency: EUR}}
policies:
  {policy}:
    calendar: always
    targets:
      P1: {{response: {response}, resolution: 8h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    escalation: [{{after: 0s, notify: [team-lead]}}, {{after: 1h, notify: [manager]}}]
    credits: {{response_breach: {{P1: 2%}}}}
  other:
    calendar: always
    targets:
      P1: {{response: 1h, resolution: 8h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
"""
NAMES = {"policy": "standard", "acme": "acme", "globex": "globex"}
HOUR, FIVE_SECONDS = CONFIG.format(response="1h", **NAMES), CONFIG.format(response="5s", **NAMES)


def opened(api: httpx.Client, customer_id: str = "acme") -> dict[str, Any]:
    body = {"title": "Checkout is down", "priority": "P1", "customer_id": customer_id}
    answer = api.post("/tickets", json=body)
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = answer.json()
    return ticket


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def repairs_on(api: httpx.Client, ticket_id: str) -> list[dict[str, Any]]:
    entries = api.get(f"/tickets/{ticket_id}/timeline").json()["entries"]
    return [e for e in entries if e["kind"] == "policy_repaired"]


def test_a_ticket_repaired_after_a_restart_breaches_at_once_dated_by_the_new_policy(
    processes: Processes,
) -> None:
    processes.configure(HOUR)
    api = processes.up()
    ticket = opened(api)
    created = at(ticket["created_at"])
    assert at(ticket["response"]["due_at"]) == created + timedelta(hours=1)
    time.sleep(6)  # past the 5 s the contract really says
    processes.kill_all()
    processes.configure(FIVE_SECONDS)  # the config fixed; both restarted with it
    api = processes.up()

    path = f"/tickets/{ticket['ticket_id']}/repair"
    body = {"reason": "the contract says 5s", "actor": "ops"}
    answers: list[httpx.Response] = []

    def answered() -> bool:  # 503 until the new worker polls: retried with the same key
        answers.append(api.post(path, json=body, headers={"Idempotency-Key": "fix-5s"}))
        return answers[-1].status_code != 503

    wait_for(answered, seconds=120)
    answer = answers[-1]
    assert answer.status_code == 200, answer.text
    repaired = answer.json()
    response = repaired["response"]
    assert response["state"] == "breached"
    assert at(response["breached_at"]) == created + timedelta(seconds=5)  # not the repair's time
    assert repaired["escalation_level"] == 1
    assert [(e["level"], at(e["at"])) for e in repaired["escalations"]] == [
        (1, created + timedelta(seconds=5))
    ]
    assert [(c["kind"], c["amount"], c["unit"]) for c in repaired["credits"]] == [
        ("penalty", "200.00", "EUR")
    ]
    assert repaired["kept_breaches"] == []
    repair = repaired["repair"]
    assert (repair["previous_policy"], repair["policy"], repair["actor"]) == (
        "standard",
        "standard",
        "ops",
    )
    clock = repair["clocks"][0]
    assert (clock["target_seconds_before"], clock["target_seconds"]) == (3600, 5)
    assert at(clock["due_before"]) == created + timedelta(hours=1)
    assert at(clock["due_at"]) == created + timedelta(seconds=5)
    [entry] = repairs_on(api, ticket["ticket_id"])
    assert entry["actor"] == "ops"
    assert entry["detail"]["targets"]["response"] == "5s"
    assert entry["detail"]["previous_targets"]["response"] == "1h"
    assert entry["detail"]["reason"] == "the contract says 5s"

    again = api.post(path, json=body, headers={"Idempotency-Key": "fix-5s"})  # a retry
    assert again.status_code == 200 and again.json()["repair"] == repair
    assert len(repairs_on(api, ticket["ticket_id"])) == 1
    # A second repair keeps the breach, and says so.
    kept = api.post(path, json={"reason": "checked again"}).json()["kept_breaches"]
    assert [(b["metric"], at(b["breached_at"])) for b in kept] == [
        ("response", created + timedelta(seconds=5))
    ]
    # The store's outcome has it too (and the session's check replays the journal to it).
    wait_for(
        lambda: (
            processes.rows(
                f"SELECT response_state FROM tickets WHERE ticket_id = '{ticket['ticket_id']}'"
            )
            == [("breached",)]
        )
    )


def progress_of(api: httpx.Client, repair_id: str) -> dict[str, Any]:
    answer = api.get(f"/repairs/{repair_id}")
    assert answer.status_code == 200, answer.text
    progress: dict[str, Any] = answer.json()
    return progress


def started(api: httpx.Client, policy: str, dry_run: bool) -> str:
    body = {"reason": "the contract says 5s", "dry_run": dry_run}
    answer = api.post(f"/policies/{policy}/repair", json=body)
    assert answer.status_code == 202, answer.text
    assert answer.headers["Location"] == f"/repairs/{answer.json()['repair_id']}"
    repair_id: str = answer.json()["repair_id"]
    return repair_id


def test_a_bulk_repair_dry_changes_nothing_and_repairs_each_ticket_once_through_a_sigkill(
    processes: Processes,
) -> None:
    # Names of its own: the dev server is the session's, and a bulk repair takes every open
    # ticket of its policy there, whichever test's processes opened it.
    own = uuid.uuid4().hex[:8]
    names = {"policy": f"standard-{own}", "acme": f"acme-{own}", "globex": f"globex-{own}"}
    processes.configure(CONFIG.format(response="1h", **names))
    api = processes.up()
    tickets = {t["ticket_id"]: t for t in (opened(api, names["acme"]) for _ in range(30))}
    elsewhere = opened(api, names["globex"])["ticket_id"]  # policy `other`: not repaired
    wait_for(
        lambda: (
            len(api.get("/tickets", params={"customer_id": names["acme"]}).json()["tickets"]) == 30
        )
    )
    version = api.get("/policies").json()["version"]
    # The file fixed; both told by SIGHUP, no restart.
    processes.configure(CONFIG.format(response="5s", **names))
    processes.send("api", signal.SIGHUP)
    processes.send("worker", signal.SIGHUP)
    wait_for(lambda: api.get("/policies").json()["version"] != version)
    # Every ticket past the 5 s by now; and the worker reloaded (its activities resolve).
    last = max(at(t["created_at"]) for t in tickets.values())
    time.sleep(max(1.0, (last + timedelta(seconds=6) - datetime.now(UTC)).total_seconds()))

    dry = started(api, names["policy"], dry_run=True)
    wait_for(lambda: progress_of(api, dry)["status"] == "done", seconds=120)
    preview = progress_of(api, dry)
    assert preview["counts"] == {"would_repair": 30}
    assert sorted(t["ticket_id"] for t in preview["tickets"]) == sorted(tickets)
    for row in preview["tickets"]:
        created = at(tickets[row["ticket_id"]]["created_at"])
        response = row["clocks"][0]
        assert at(response["due_before"]) == created + timedelta(hours=1)
        assert at(response["due_at"]) == created + timedelta(seconds=5)
        assert response["state"] == "breached"
    for ticket_id in tickets:  # nothing changed
        ticket = api.get(f"/tickets/{ticket_id}").json()
        assert ticket["response"]["state"] == "running" and ticket["escalation_level"] == 0
        assert repairs_on(api, ticket_id) == []

    real = started(api, names["policy"], dry_run=False)
    wait_for(lambda: progress_of(api, real)["counts"].get("repaired", 0) > 0, seconds=60)
    repaired_before_kill = progress_of(api, real)["counts"].get("repaired", 0)
    processes.kill("worker")  # SIGKILL, in the middle
    processes.start("worker")

    def over() -> bool:  # a read answers 503 until the new worker polls (docs/api.md)
        answer = api.get(f"/repairs/{real}")
        return answer.status_code == 200 and answer.json()["status"] == "done"

    wait_for(over, seconds=180)

    done = progress_of(api, real)
    assert repaired_before_kill < 30, "the repair was over before the kill"
    assert done["counts"] == {"repaired": 30}
    assert [t["clocks"] for t in done["tickets"]] == [t["clocks"] for t in preview["tickets"]]
    for ticket_id, first in tickets.items():
        assert len(repairs_on(api, ticket_id)) == 1, ticket_id  # once, whatever was retried
        ticket = api.get(f"/tickets/{ticket_id}").json()
        created = at(first["created_at"])
        assert at(ticket["response"]["breached_at"]) == created + timedelta(seconds=5)
        assert ticket["escalation_level"] == 1
    assert repairs_on(api, elsewhere) == []
