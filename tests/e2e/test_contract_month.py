"""A customer's month, end to end: breaches, a reward and downtime become one statement, the
same when the worker is killed with SIGKILL while it records them. `slaflow worker` and
`slaflow api` run as separate processes against one Temporal, as in the distributed setup."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.e2e.conftest import free_port
from tests.e2e.test_slaflow_up import wait_for

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


class Processes:
    def __init__(self, tmp: Path, temporal: str) -> None:
        (tmp / "sla.yaml").write_text(CONTRACT_CONFIG)
        self.database = tmp / "slaflow.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TEMPORAL_ADDRESS": temporal,
            "SLAFLOW_CONFIG": str(tmp / "sla.yaml"),
            "SLAFLOW_DATA_DIR": str(tmp),
            "SLAFLOW_TASK_QUEUE": f"month-{uuid.uuid4().hex[:8]}",
            "SLAFLOW_API_PORT": str(self.port),
        }
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, command: str) -> None:
        self.running[command] = subprocess.Popen(
            [str(Path(sys.executable).parent / "slaflow"), command], env=self.env
        )

    def kill(self, command: str) -> None:
        process = self.running.pop(command)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        if not self.database.exists():
            return []
        with sqlite3.connect(self.database, timeout=10) as db:
            try:
                return db.execute(query).fetchall()
            except sqlite3.OperationalError:  # tables not migrated yet
                return []


@pytest.fixture
def processes(tmp_path: Path, dev_env: WorkflowEnvironment) -> Iterator[Processes]:
    running = Processes(tmp_path, dev_env.client.service_client.config.target_host)
    yield running
    for command in list(running.running):
        running.kill(command)


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_month_of_breaches_reward_and_downtime_makes_one_statement(
    processes: Processes,
) -> None:
    processes.start("worker")
    processes.start("api")
    wait_for(lambda: healthy(processes.url), seconds=60)
    api = httpx.Client(base_url=processes.url, timeout=60)  # a busy shared server is slow

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
