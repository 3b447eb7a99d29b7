"""Escalations reach people: signed webhooks, retried through a flaky receiver and a worker
killed with SIGKILL while deliveries are in flight, each event accepted exactly once; every
attempt signed as Standard Webhooks, its id the event's and its timestamp the attempt's."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from standardwebhooks import Webhook

from sla.notifications import verify
from tests.support.processes import Processes, wait_for
from tests.support.receiver import Receiver

SECRET = "s3cret-for-tests"


def accepted(hook: Receiver) -> dict[str, dict[str, Any]]:
    """Each event the receiver accepted, by id, once: a receiver drops repeats by id."""
    events: dict[str, dict[str, Any]] = {}
    for request in hook.received:
        if request.status == 200:
            events.setdefault(request.event_id, request.json())
    return events


def config_with_webhook(url: str) -> str:
    return f"""
default_policy: standard
customers:
  acme: {{policy: standard, monthly_fee: 10000, currency: EUR}}
notifications:
  webhooks:
    - {{name: ops, url: "{url}", secret: "{SECRET}",
        events: [warning, breach, escalation, penalty, resolved]}}
policies:
  standard:
    warn_at: [0.5]
    targets:
      P1: {{response: 2s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    credits:
      response_breach: {{P1: 2%, P2: 1%, P3: 0.5%}}
"""


def test_every_event_is_delivered_once_through_failures_and_a_killed_worker(
    processes: Processes, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver(500, 500, 200, per_event=True)  # fails the first two deliveries of each
    processes.configure(config_with_webhook(hook.url))
    api = processes.up()
    tid = api.post(
        "/tickets", json={"title": "Down", "priority": "P1", "customer_id": "acme"}
    ).json()["ticket_id"]

    # Kill the worker while the first deliveries are being retried.
    wait_for(lambda: hook.received, seconds=30)
    processes.kill("worker")
    time.sleep(1)
    processes.start("worker")

    api.post(f"/tickets/{tid}/respond", json={"agent_id": "alice"})
    api.post(f"/tickets/{tid}/resolve", json={"agent_id": "alice"})
    expected = ["breach", "escalation", "penalty", "resolved", "warning"]
    wait_for(lambda: sorted(e["type"] for e in accepted(hook).values()) == expected, seconds=300)
    processes.kill_all()

    received = hook.received
    assert [
        r for r in received if not verify(r.body, SECRET, r.headers["x-slaflow-signature"])
    ] == []
    attempts = Counter(r.event_id for r in received)
    assert all(n >= 3 for n in attempts.values())  # two failures, then accepted
    events = accepted(hook)
    assert {e["ticket_id"] for e in events.values()} == {tid}
    ids = list(events)
    assert len(ids) == len(set(ids)) == 5
    # Standard Webhooks, checked with the stock library's own signing: its verify() would also
    # hold the first attempts to its 5-minute tolerance, which a slow run may pass.
    stock = Webhook(SECRET.encode())  # a plain secret is its own key bytes
    stamps: dict[str, list[int]] = defaultdict(list)
    for r in received:
        msg_id, stamp = r.headers["webhook-id"], int(r.headers["webhook-timestamp"])
        signed = stock.sign(msg_id, datetime.fromtimestamp(stamp, UTC), r.body.decode())
        assert signed in r.headers["webhook-signature"].split(" ")
        assert msg_id == r.event_id
        stamps[msg_id].append(stamp)
    # Retried after 2 s and more: the same id, a later timestamp.
    assert all(s == sorted(s) and s[0] < s[-1] for s in stamps.values())
    escalation = next(e for e in events.values() if e["type"] == "escalation")
    assert escalation["data"]["level"] == 1 and escalation["data"]["notify"] == ["team-lead"]
    penalty = next(e for e in events.values() if e["type"] == "penalty")
    assert Decimal(penalty["data"]["amount"]) == Decimal("200")
    assert penalty["data"]["unit"] == "EUR"
