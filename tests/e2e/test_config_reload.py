"""Config reload on SIGHUP, on real processes: a broken file is refused and the config in force
stays (its version too, and both processes keep serving); a good one is in force without a
restart: new tickets get its targets, and the worker delivers to its webhook URLs. `slaflow up`
the same."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_slaflow_up import Product
from tests.support.processes import Processes, wait_for
from tests.support.receiver import Receiver

SHORT = """
default_policy: standard
policies:
  standard:
    calendar: always
    targets:
      P1: {{response: {response}, resolution: 8h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
"""
CONFIG = (
    SHORT
    + """notifications:
  webhooks:
    - {{name: ops, url: "{url}", secret: "ops-secret-0123", events: [breach]}}
"""
)
BROKEN = CONFIG.replace("{{response: {response}", "{{response: soon")


def p1_response(api: httpx.Client) -> int:
    seconds: int = api.get("/policies").json()["policies"]["standard"]["targets"]["P1"][
        "response_seconds"
    ]
    return seconds


def opened(api: httpx.Client) -> dict[str, Any]:
    answer = api.post("/tickets", json={"title": "VPN", "priority": "P1", "customer_id": "acme"})
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = answer.json()
    return ticket


def due_in(ticket: dict[str, Any]) -> timedelta:
    return datetime.fromisoformat(ticket["response"]["due_at"]) - datetime.fromisoformat(
        ticket["created_at"]
    )


def test_sighup_refuses_a_broken_file_and_puts_a_good_one_in_force_without_a_restart(
    processes: Processes, receiver: Callable[..., Receiver]
) -> None:
    old_hook, new_hook = receiver(200), receiver(200)
    processes.configure(CONFIG.format(response="1h", url=old_hook.url))
    api = processes.up()
    before = api.get("/policies").json()

    processes.configure(BROKEN.format(url=new_hook.url))
    processes.send("api", signal.SIGHUP)
    processes.send("worker", signal.SIGHUP)
    # Nothing to wait for but time: the answer must not change. Meanwhile both keep serving.
    time.sleep(1)
    for _ in range(10):
        assert api.get("/policies").json() == before
        assert all(process.poll() is None for process in processes.running.values())
        assert api.get("/healthz").status_code == 200
    assert due_in(opened(api)) == timedelta(hours=1)  # new tickets: still the old config

    processes.configure(CONFIG.format(response="2s", url=new_hook.url))
    processes.send("api", signal.SIGHUP)
    processes.send("worker", signal.SIGHUP)
    wait_for(lambda: api.get("/policies").json()["version"] != before["version"])
    assert p1_response(api) == 2
    ticket = opened(api)
    assert due_in(ticket) == timedelta(seconds=2)  # new tickets: the new one

    # The worker reloaded too: the breach goes to the webhook's new URL.
    def breaches(hook: Receiver) -> list[str]:
        return [r.json()["ticket_id"] for r in hook.received if r.json()["type"] == "breach"]

    wait_for(lambda: ticket["ticket_id"] in breaches(new_hook))
    assert breaches(old_hook) == []


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    running = Product(tmp_path)
    running.config.write_text(SHORT.format(response="1h"))
    yield running
    if running.process is not None and running.process.poll() is None:
        running.stop(signal.SIGKILL)


def test_slaflow_up_reloads_on_sighup_and_keeps_its_config_when_the_file_is_broken(
    product: Product,
) -> None:
    product.start()
    api = httpx.Client(base_url=product.url, timeout=30)
    before = api.get("/policies").json()
    assert product.process is not None

    product.config.write_text(BROKEN.format(url="http://127.0.0.1:9/"))
    product.process.send_signal(signal.SIGHUP)
    time.sleep(1)
    for _ in range(10):
        assert api.get("/policies").json() == before
        assert product.process.poll() is None

    product.config.write_text(SHORT.format(response="2s"))
    product.process.send_signal(signal.SIGHUP)
    wait_for(lambda: api.get("/policies").json()["version"] != before["version"])
    assert p1_response(api) == 2
    assert due_in(opened(api)) == timedelta(seconds=2)
