"""Escalations reach people: signed webhooks, retried through a flaky receiver and a worker
killed with SIGKILL while deliveries are in flight, each event accepted exactly once."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from sla.notifications import verify
from tests.e2e.test_contract_month import Processes, healthy
from tests.e2e.test_slaflow_up import wait_for

SECRET = "s3cret-for-tests"


class FlakyReceiver:
    """Fails the first two deliveries of every event, then accepts; drops repeats by id."""

    def __init__(self) -> None:
        self.attempts: dict[str, int] = defaultdict(int)
        self.accepted: dict[str, dict[str, Any]] = {}
        self.duplicates: dict[str, int] = defaultdict(int)
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.first_attempt = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                event_id = self.headers["X-Slaflow-Event-Id"]
                with receiver.lock:
                    if not verify(body, SECRET, self.headers["X-Slaflow-Signature"]):
                        receiver.bad_signatures += 1
                    receiver.attempts[event_id] += 1
                    receiver.first_attempt.set()
                    failing = receiver.attempts[event_id] <= 2
                    if not failing:
                        if event_id in receiver.accepted:
                            receiver.duplicates[event_id] += 1
                        else:
                            receiver.accepted[event_id] = json.loads(body)
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted_types(self) -> list[str]:
        with self.lock:
            return sorted(event["type"] for event in self.accepted.values())


@pytest.fixture
def receiver() -> Iterator[FlakyReceiver]:
    flaky = FlakyReceiver()
    yield flaky
    flaky.server.shutdown()


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
    tmp_path: Path, dev_env: WorkflowEnvironment, receiver: FlakyReceiver
) -> None:
    processes = Processes(tmp_path, dev_env.client.service_client.config.target_host)
    (tmp_path / "sla.yaml").write_text(config_with_webhook(receiver.url))
    try:
        processes.start("worker")
        processes.start("api")
        wait_for(lambda: healthy(processes.url), seconds=60)
        api = httpx.Client(base_url=processes.url, timeout=60)  # a busy shared server is slow
        tid = api.post(
            "/tickets", json={"title": "Down", "priority": "P1", "customer_id": "acme"}
        ).json()["ticket_id"]

        # Kill the worker while the first deliveries are being retried.
        assert receiver.first_attempt.wait(timeout=30)
        processes.kill("worker")
        time.sleep(1)
        processes.start("worker")

        api.post(f"/tickets/{tid}/respond", json={"agent_id": "alice"})
        api.post(f"/tickets/{tid}/resolve", json={"agent_id": "alice"})
        expected = ["breach", "escalation", "penalty", "resolved", "warning"]
        wait_for(lambda: receiver.accepted_types() == expected, seconds=300)
    finally:
        for command in list(processes.running):
            processes.kill(command)

    assert receiver.bad_signatures == 0
    assert all(n >= 3 for n in receiver.attempts.values())  # two failures, then accepted
    assert {e["ticket_id"] for e in receiver.accepted.values()} == {tid}
    ids = list(receiver.accepted)
    assert len(ids) == len(set(ids)) == 5
    escalation = next(e for e in receiver.accepted.values() if e["type"] == "escalation")
    assert escalation["data"]["level"] == 1 and escalation["data"]["notify"] == ["team-lead"]
    penalty = next(e for e in receiver.accepted.values() if e["type"] == "penalty")
    assert Decimal(penalty["data"]["amount"]) == Decimal("200")
    assert penalty["data"]["unit"] == "EUR"
