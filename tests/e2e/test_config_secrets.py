"""Secrets from the environment and files (config/secrets.py) on real `slaflow worker` and `slaflow
api` processes: the worker signs with the secret the file holds, a rotated file is in force
after SIGHUP, and a reload whose secret file is gone is refused while both keep serving with
the secret in force."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from sla.notifications import verify
from tests.support.processes import Processes, wait_for
from tests.support.receiver import Receiver

CONFIG = """
default_policy: standard
policies:
  standard:
    calendar: always
    targets:
      P1: {{response: {response}, resolution: 8h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
notifications:
  webhooks:
    - {{name: ops, url: "${{SLAFLOW_TEST_HOOK_URL}}", secret: {{file: hook-secret}},
       events: [breach]}}
"""
FIRST, SECOND = "first-secret-0123", "second-secret-4567"


def opened(api: httpx.Client) -> dict[str, Any]:
    answer = api.post("/tickets", json={"title": "VPN", "priority": "P1", "customer_id": "acme"})
    assert answer.status_code == 201, answer.text
    ticket: dict[str, Any] = answer.json()
    return ticket


def due_in(ticket: dict[str, Any]) -> timedelta:
    return datetime.fromisoformat(ticket["response"]["due_at"]) - datetime.fromisoformat(
        ticket["created_at"]
    )


def breach_signed_with(hook: Receiver, ticket: dict[str, Any], secret: str) -> bool:
    """The ticket's breach has arrived, signed with `secret` (and only then)."""
    for request in hook.received:
        if (
            request.json()["type"] == "breach"
            and request.json()["ticket_id"] == ticket["ticket_id"]
        ):
            assert verify(request.body, secret, request.headers["x-slaflow-signature"])
            return True
    return False


def test_a_secret_file_rotated_is_in_force_after_sighup_and_one_gone_is_refused(
    processes: Processes, receiver: Callable[..., Receiver], tmp_path: Path
) -> None:
    hook = receiver(200)
    secret = tmp_path / "hook-secret"  # next to the config file Processes writes
    secret.write_text(FIRST + "\n")
    processes.env["SLAFLOW_TEST_HOOK_URL"] = hook.url
    processes.configure(CONFIG.format(response="2s"))
    api = processes.up()
    first = opened(api)
    wait_for(lambda: breach_signed_with(hook, first, FIRST))

    # Rotated: the file's new secret signs from the reload on (the changed target tells when
    # the API has reloaded; the worker got its SIGHUP at the same time).
    before = api.get("/policies").json()
    secret.write_text(SECOND + "\n")
    processes.configure(CONFIG.format(response="3s"))
    processes.send("api", signal.SIGHUP)
    processes.send("worker", signal.SIGHUP)
    wait_for(lambda: api.get("/policies").json()["version"] != before["version"])
    second = opened(api)
    assert due_in(second) == timedelta(seconds=3)
    wait_for(lambda: breach_signed_with(hook, second, SECOND))

    # Gone: the reload is refused by both; the config in force, its secret too, stays.
    in_force = api.get("/policies").json()
    secret.unlink()
    processes.configure(CONFIG.format(response="4s"))
    processes.send("api", signal.SIGHUP)
    processes.send("worker", signal.SIGHUP)
    time.sleep(1)  # nothing to wait for but time: the answer must not change
    for _ in range(10):
        assert api.get("/policies").json() == in_force
        assert all(process.poll() is None for process in processes.running.values())
    third = opened(api)
    assert due_in(third) == timedelta(seconds=3)
    wait_for(lambda: breach_signed_with(hook, third, SECOND))
