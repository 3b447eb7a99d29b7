"""What-if end to end: `slaflow worker` and `slaflow api` processes, tickets with a response
target of seconds, one answered early and one late. A tighter and a looser policy replayed
over them give the breaches and the money a hand gives, and the replay of the policy they ran
under reproduces what the store recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import yaml

from tests.support.processes import Processes, wait_for

# acme pays 10,000 EUR a month: a breached P1 response is 2% (200.00 EUR), a resolution 5%.
WHAT_IF_CONFIG = """
default_policy: standard
customers:
  acme: {policy: standard, monthly_fee: 10000, currency: EUR}
policies:
  standard:
    calendar: always
    targets:
      P1: {response: 10s, resolution: 1h}
      P2: {response: 1h, resolution: 8h}
      P3: {response: 4h, resolution: 24h}
    credits:
      response_breach: {P1: 2%, P2: 1%, P3: 0.5%}
      resolution_breach: {P1: 5%, P2: 2%, P3: 1%}
      monthly_cap: 30%
"""
OTHERS = {
    "P2": {"response": "1h", "resolution": "8h"},
    "P3": {"response": "4h", "resolution": "1d"},
}
CREDITS = {"response_breach": {"P1": "2%"}, "resolution_breach": {"P1": "5%"}}
# The early answer comes after 2 s: a 1 s target breaches it too, and a cap of 3% of the fee
# (300.00 EUR) holds the two breaches' 400.00.
TIGHT = {
    "targets": {"P1": {"response": "1s", "resolution": "1h"}, **OTHERS},
    "credits": {**CREDITS, "monthly_cap": "3%"},
}
LOOSE = {"targets": {"P1": {"response": "10m", "resolution": "1h"}, **OTHERS}, "credits": CREDITS}


def _ticket(api: httpx.Client, title: str) -> str:
    opened = api.post("/tickets", json={"title": title, "priority": "P1", "customer_id": "acme"})
    assert opened.status_code == 201, opened.text
    ticket_id: str = opened.json()["ticket_id"]
    return ticket_id


def _work(api: httpx.Client, ticket_id: str) -> None:
    for action in ("respond", "resolve"):
        done = api.post(f"/tickets/{ticket_id}/{action}", json={"agent_id": "alice"})
        assert done.status_code == 200, done.text


def test_a_tighter_and_a_looser_policy_give_the_hand_calculated_deltas(
    processes: Processes,
) -> None:
    processes.configure(WHAT_IF_CONFIG)
    api = processes.up()
    early, late = _ticket(api, "Answered early"), _ticket(api, "Answered late")
    time.sleep(2)
    _work(api, early)  # within 10 s
    wait_for(lambda: api.get(f"/tickets/{late}").json()["response"]["state"] == "breached")
    _work(api, late)
    wait_for(
        lambda: processes.rows("SELECT count(*) FROM tickets WHERE status = 'resolved'") == [(2,)]
    )
    today = datetime.now(UTC).date()
    window = {"from": str(today - timedelta(days=1)), "to": str(today)}

    tight = what_if(api, {**window, "policy": TIGHT})
    assert (tight["tickets"], tight["reproduced"]) == (2, True)
    assert tight["actual"]["response"] == {"met": 1, "breached": 1, "open": 0, "compliance": 0.5}
    assert tight["proposed"]["response"] == {"met": 0, "breached": 2, "open": 0, "compliance": 0}
    assert tight["actual"]["resolution"] == tight["proposed"]["resolution"]
    assert tight["actual"]["resolution"]["met"] == 2
    money = {"customer_id": "acme", "currency": "EUR", "unit": "EUR"}
    assert tight["actual"]["credits"] == [{**money, "amount": "200.00"}]
    assert tight["proposed"]["credits"] == [{**money, "amount": "300.00"}]  # 400.00, capped
    assert tight["changed"] == [
        {"ticket_id": early, "metric": "response", "actual": "met", "proposed": "breached"}
    ]
    assert tight["by_customer"]["acme"]["proposed"]["credits"] == tight["proposed"]["credits"]

    # Pasted as YAML, as the board sends it.
    loose = what_if(api, {**window, "policy": yaml.safe_dump(LOOSE), "priority": "P1"})
    assert loose["reproduced"] is True
    assert loose["proposed"]["response"] == {"met": 2, "breached": 0, "open": 0, "compliance": 1}
    assert loose["proposed"]["credits"] == [{**money, "amount": "0.00"}]
    assert loose["changed"] == [
        {"ticket_id": late, "metric": "response", "actual": "breached", "proposed": "met"}
    ]

    as_csv = api.post(
        "/policies/what-if", json={**window, "policy": TIGHT}, headers={"Accept": "text/csv"}
    )
    assert "all,acme,credits_EUR,200.00,300.00,+100.00" in as_csv.text
    refused = api.post("/policies/what-if", json={**window, "policy": {"targets": {}}})
    assert refused.status_code == 422
    assert "policy.targets: Value error" not in refused.text
    assert "targets missing for P1, P2, P3" in refused.json()["detail"]


def what_if(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.post("/policies/what-if", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result
