"""A customer's month, end to end: breaches, a reward and downtime become one statement, the
same when the worker is killed with SIGKILL while it records them. `slaflow worker` and
`slaflow api` run as separate processes against one Temporal, as in the distributed setup."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tests.support.processes import Processes, wait_for

CONTRACT_CONFIG = """
default_policy: standard
customers:
  acme: {policy: standard, monthly_fee: 10000, currency: EUR}
policies:
  standard:
    calendar: always
    warn_at: [0.5]
    targets:
      P1: {response: 3s, resolution: 8s}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 24h}
    credits:
      response_breach:   {P1: 2%, P2: 1%, P3: 0.5%}
      resolution_breach: {P1: 5%, P2: 2%, P3: 1%}
      monthly_cap: 30%
    rewards:
      resolved_within: 0.5
      reward: {amount: 0.5, unit: support_hours}
"""


def test_a_month_of_breaches_reward_and_downtime_makes_one_statement(
    processes: Processes,
) -> None:
    processes.configure(CONTRACT_CONFIG)
    api = processes.up()

    late = api.post("/tickets", json={"title": "Down", "priority": "P1", "customer_id": "acme"})
    fast = api.post("/tickets", json={"title": "Typo", "priority": "P1", "customer_id": "acme"})
    late_id, fast_id = late.json()["ticket_id"], fast.json()["ticket_id"]
    api.post(f"/tickets/{fast_id}/respond", json={"agent_id": "alice"})
    resolved = api.post(f"/tickets/{fast_id}/resolve", json={"agent_id": "alice"}).json()
    assert [c["kind"] for c in resolved["credits"]] == ["reward"]

    # Kill the worker the moment the first penalty is committed: its activity has recorded
    # but not yet reported back, and the escalation of the same breach is still to come.
    wait_for(lambda: processes.rows("SELECT 1 FROM credits WHERE kind = 'penalty'"), seconds=30)
    processes.kill("worker")
    time.sleep(1)
    processes.start("worker")

    wait_for(
        lambda: len(processes.rows(f"SELECT 1 FROM credits WHERE ticket_id = '{late_id}'")) == 2,
        seconds=60,
    )
    api.post(f"/tickets/{late_id}/respond", json={"agent_id": "bob"})
    api.post(f"/tickets/{late_id}/resolve", json={"agent_id": "bob"})

    now = datetime.now(UTC)
    month = now.strftime("%Y-%m")
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    incident = api.post(
        "/availability/incidents",
        json={"started_at": start.isoformat(), "note": "database failover"},
    )
    assert incident.status_code == 201
    ended = api.patch(
        f"/availability/incidents/{incident.json()['id']}",
        json={"ended_at": (start + timedelta(minutes=50)).isoformat()},
    )
    assert ended.status_code == 200

    statement = api.get("/customers/acme/statement", params={"month": month}).json()
    penalties = [c for c in statement["credits"] if c["kind"] == "penalty"]
    assert sorted((c["metric"], Decimal(c["amount"])) for c in penalties) == [
        ("resolution", Decimal("500")),
        ("response", Decimal("200")),
    ]
    availability = [c for c in statement["credits"] if c["kind"] == "availability"]
    assert [Decimal(c["amount"]) for c in availability] == [Decimal("1000")]
    assert statement["availability"]["downtime_seconds"] == 50 * 60
    assert statement["availability"]["met"] is False
    assert Decimal(statement["credit_total"]) == Decimal("1700.00")
    assert statement["credit_total"] == "1700.00"
    assert statement["credit_capped"] is False
    assert statement["currency"] == "EUR"
    assert [(r["ticket_id"], r["unit"]) for r in statement["rewards"]] == [
        (fast_id, "support_hours")
    ]
    assert statement["breaches"] == 2 and statement["tickets"] == 2
    # Exactly once in the store, whatever the kill did to the activities in flight.
    keys = processes.rows("SELECT key FROM credits UNION ALL SELECT key FROM notifications")
    assert len(keys) == len(set(keys))
    escalations = processes.rows(
        f"SELECT metric FROM notifications WHERE kind = 'escalation' AND ticket_id = '{late_id}'"
    )
    assert sorted(m for (m,) in escalations) == ["resolution", "response"]

    csv = api.get(
        "/customers/acme/statement", params={"month": month}, headers={"Accept": "text/csv"}
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert "1700.00" in csv.text
