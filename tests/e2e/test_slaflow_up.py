"""`slaflow up` as a newcomer runs it: one process tree that escalates and survives kill -9."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.processes import SLAFLOW, children, gone, wait_for, wait_healthy

SHORT_CONFIG = """
default_policy: standard
calendars:
  berlin-office:
    timezone: Europe/Berlin
    hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"], wed: ["09:00-17:00"],
            thu: ["09:00-17:00"], fri: ["09:00-17:00"]}
    holiday_country: DE
customers:
  globex: {calendar: berlin-office, monthly_fee: 1000, currency: EUR}
policies:
  standard:
    calendar: always
    warn_at: [0.5]
    targets:
      P1: {response: 2s, resolution: PT1H}
      P2: {response: 8s, resolution: 1h}
      P3: {response: 4h, resolution: 24h}
"""


class Product:
    def __init__(self, tmp: Path) -> None:
        self.config = tmp / "sla.yaml"
        self.config.write_text(SHORT_CONFIG)
        self.data_dir = tmp / "data"
        self.api_port, self.temporal_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.api_port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                SLAFLOW, "up",
                "--config", str(self.config), "--data-dir", str(self.data_dir),
                "--api-port", str(self.api_port), "--temporal-port", str(self.temporal_port),
                "--no-ui",
            ],
            start_new_session=True,
        )  # fmt: skip
        wait_healthy(self.url, self.process, seconds=60)

    def children(self) -> list[int]:
        assert self.process is not None
        return children(self.process.pid)

    def stop(self, sig: signal.Signals) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout=30)


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    running = Product(tmp_path)
    yield running
    if running.process is not None and running.process.poll() is None:
        running.stop(signal.SIGKILL)


def ticket(product: Product, tid: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{product.url}/tickets/{tid}", timeout=10).json()
    return body


def test_escalates_by_itself_and_resumes_every_ticket_after_kill_9(product: Product) -> None:
    product.start()
    opened = httpx.post(
        f"{product.url}/tickets",
        json={"title": "Site down", "priority": "P1", "customer_id": "acme", "ticket_id": "T-1"},
        timeout=10,
    )
    assert opened.status_code == 201
    wait_for(lambda: ticket(product, "T-1")["escalation_level"] == 1)
    escalated = ticket(product, "T-1")
    assert escalated["response"]["state"] == "breached"
    assert escalated["escalations"][0]["notify"] == ["team-lead"]

    # A ticket on business hours: its due times must read the same after the restart.
    httpx.post(
        f"{product.url}/tickets",
        json={"title": "Invoice", "priority": "P3", "customer_id": "globex", "ticket_id": "T-3"},
        timeout=10,
    )
    business = ticket(product, "T-3")
    assert business["calendar"] == "berlin-office"
    # A P2 whose response deadline (8 s) falls while everything is dead.
    httpx.post(
        f"{product.url}/tickets",
        json={"title": "Slow", "priority": "P2", "customer_id": "acme", "ticket_id": "T-2"},
        timeout=10,
    )
    server_pids = product.children()
    assert product.stop(signal.SIGKILL) == -signal.SIGKILL
    wait_for(lambda: all(gone(pid) for pid in server_pids), seconds=10)  # no orphan server
    time.sleep(9)

    product.start()
    wait_for(lambda: ticket(product, "T-2")["response"]["state"] == "breached")
    late = ticket(product, "T-2")
    created = datetime.fromisoformat(late["created_at"])
    # Detected after the restart, dated at the true deadline.
    assert datetime.fromisoformat(late["response"]["breached_at"]) == created + timedelta(seconds=8)
    assert ticket(product, "T-1") == escalated  # nothing escalated or charged twice
    after = ticket(product, "T-3")
    assert (after["response"]["due_at"], after["resolution"]["due_at"]) == (
        business["response"]["due_at"],
        business["resolution"]["due_at"],
    )


def test_sigterm_stops_the_whole_tree_cleanly(product: Product) -> None:
    product.start()
    server_pids = product.children()
    assert server_pids, "the embedded Temporal server should be a child of slaflow up"
    assert product.stop(signal.SIGTERM) == 0
    wait_for(lambda: all(gone(pid) for pid in server_pids), seconds=10)


def test_bad_config_fails_at_start_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(SHORT_CONFIG.replace("response: 2s", "response: soon"))
    result = subprocess.run(
        [SLAFLOW, "up", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "policies.standard.targets.P1.response" in result.stderr
    assert "'soon' is not a duration" in result.stderr
