"""Quality end to end: `slaflow worker` and `slaflow api` processes, a config with a quality
section, real receivers. Three tickets of one customer rated 5, 5 and 1, one reopened, make
the README's CSAT, reopen rate and first-contact resolution in the report and the statement,
with the quality credit in money; bad ratings and a resolve without a note are refused with
the reason; survey and follow-up events reach their receivers."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from tests.support.processes import Processes, wait_for
from tests.support.receiver import Receiver

QUALITY_CONFIG = """
default_policy: standard
customers:
  acme: {{policy: standard, monthly_fee: 10000, currency: EUR, notify: ["webhook:acme"]}}
  globex: {{policy: quick, monthly_fee: 100, currency: EUR}}
policies:
  standard:
    calendar: always
    targets:
      P1: {{response: 1h, resolution: 8h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    quality:
      require_resolution_note: true
      survey: true
      rating_window: 1h
      targets: {{csat: 90%}}
      min_ratings: 1
      credit: 5%
  quick:
    calendar: always
    targets:
      P1: {{response: 1h, resolution: 8h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    escalation: [{{after: 0s, notify: [team-lead]}}]
    quality: {{rating_window: 6s, follow_up_after: 2s}}
notifications:
  webhooks:
    - {{name: acme, url: "{customer}", secret: "acme-secret-0123", events: [rating]}}
    - {{name: team, url: "{team}", secret: "team-secret-0123", events: [rating]}}
  audiences: {{team-lead: ["webhook:team"]}}
"""


def events(hook: Receiver, kind: str) -> list[dict[str, Any]]:
    return [r.json() for r in hook.received if r.json()["type"] == kind]


def test_three_rated_tickets_make_the_months_quality_and_its_credit(
    processes: Processes, receiver: Callable[..., Receiver]
) -> None:
    customer_hook, team_hook = receiver(200), receiver(200)
    processes.configure(QUALITY_CONFIG.format(customer=customer_hook.url, team=team_hook.url))
    api = processes.up()

    def open_ticket(title: str, customer_id: str = "acme") -> str:
        body = {"title": title, "priority": "P2", "customer_id": customer_id}
        opened = api.post("/tickets", json=body)
        assert opened.status_code == 201, opened.text
        return str(opened.json()["ticket_id"])

    def resolve(ticket: str, note: str | None = "fixed the config") -> httpx.Response:
        return api.post(
            f"/tickets/{ticket}/resolve", json={"agent_id": "alice", "resolution": note}
        )

    def rate(ticket: str, score: int) -> httpx.Response:
        return api.post(f"/tickets/{ticket}/rating", json={"score": score, "comment": "thanks"})

    first, second, third = open_ticket("VPN"), open_ticket("Mail"), open_ticket("Printer")
    blank = resolve(first, note="")
    assert blank.status_code == 422 and "resolution note" in blank.json()["detail"]
    early = rate(first, 5)
    assert early.status_code == 409 and "not resolved" in early.json()["detail"]

    assert resolve(first).status_code == 200  # first contact: nothing before the resolve
    assert rate(first, 5).status_code == 200
    api.post(f"/tickets/{second}/respond", json={"agent_id": "alice"})
    assert resolve(second).status_code == 200  # two responses: not first contact
    assert rate(second, 5).status_code == 200
    assert resolve(third).status_code == 200
    api.post(f"/tickets/{third}/reopen", json={"reason": "still broken"})
    assert resolve(third, note="replaced the toner").status_code == 200
    rated = rate(third, 1)
    assert rated.status_code == 200
    assert [(r["cycle"], r["score"]) for r in rated.json()["ratings"]] == [(2, 1)]
    closes = datetime.fromisoformat(rated.json()["rating_closes_at"])
    assert timedelta(minutes=59) < closes - datetime.now(UTC) <= timedelta(hours=1)

    again = rate(third, 5)
    assert again.status_code == 409 and "rated already" in again.json()["detail"]
    for score in (0, 6):
        assert rate(first, score).status_code == 422

    # A ticket of a policy with a 6 s window and a 2 s follow-up, left without a rating.
    quiet = open_ticket("Quiet", customer_id="globex")
    assert resolve(quiet, note=None).status_code == 200  # this policy needs no note
    wait_for(lambda: events(team_hook, "follow_up"), seconds=30)
    time.sleep(6)
    late = rate(quiet, 4)
    assert late.status_code == 409 and "rating window closed" in late.json()["detail"]

    # Quality lands in the store with each ticket's outcome.
    wait_for(
        lambda: len(processes.rows("SELECT 1 FROM tickets WHERE ratings LIKE '%score%'")) == 3,
        seconds=30,
    )
    today = datetime.now(UTC).date().isoformat()
    report = api.get("/reports/sla", params={"from": today, "to": today}).json()
    expected = {"ratings": 3, "csat": 0.6667, "reopen_rate": 0.3333,
                "first_contact_resolution": 0.3333}  # fmt: skip
    assert report["by_customer"]["acme"]["quality"] == expected
    assert report["by_agent"]["alice"]["quality"]["ratings"] == 3
    csv = api.get("/reports/sla", params={"from": today, "to": today},
                  headers={"Accept": "text/csv"})  # fmt: skip
    assert csv.text.splitlines()[0].endswith("ratings,csat,reopen_rate,first_contact_resolution")

    month = datetime.now(UTC).strftime("%Y-%m")
    statement = api.get("/customers/acme/statement", params={"month": month}).json()
    quality = statement["quality"]
    assert (quality["csat"], quality["reopen_rate"], quality["met"], quality["missed"]) == (
        0.6667, 0.3333, False, ["csat"]
    )  # fmt: skip
    [credit] = [c for c in statement["credits"] if c["metric"] == "quality"]
    assert (credit["kind"], Decimal(credit["amount"]), credit["unit"]) == (
        "penalty", Decimal("500"), "EUR"
    )  # fmt: skip
    assert Decimal(statement["credit_total"]) == Decimal("500.00")

    # Each resolution of acme's tickets asked its customer (the third twice), with its note;
    # the quiet ticket's assignee was followed up once, on the team's audience.
    surveys = events(customer_hook, "survey")
    assert sorted(e["ticket_id"] for e in surveys) == sorted([first, second, third, third])
    assert {e["data"]["resolution"] for e in surveys} == {"fixed the config", "replaced the toner"}
    assert [e["ticket_id"] for e in events(team_hook, "follow_up")] == [quiet]
    assert sorted(e["data"]["score"] for e in events(customer_hook, "rating")) == [1, 5, 5]
