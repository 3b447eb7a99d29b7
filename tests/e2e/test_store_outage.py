"""The clock answers to nothing but time: with the store's PostgreSQL shut down under a running
stack, a P1 ticket still breaches at its due time, escalates and announces it; /healthz shows
the outage; the ticket's records wait (through a worker restart) and land once, with their
original times, when the database is back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from tests.support import postgres
from tests.support.processes import Processes, wait_for
from tests.support.receiver import Receiver

pytestmark = pytest.mark.skipif(
    not postgres.installed(), reason="PostgreSQL server binaries not installed"
)


def config(url: str) -> str:
    return f"""
default_policy: standard
customers:
  acme: {{policy: standard, monthly_fee: 10000, currency: EUR}}
notifications:
  webhooks:
    - {{name: ops, url: "{url}", secret: "s3cret", events: [breach, escalation, penalty]}}
policies:
  standard:
    targets:
      P1: {{response: 8s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    credits:
      response_breach: {{P1: 2%, P2: 1%, P3: 0.5%}}
"""


def rows(db: Engine, query: str, **params: Any) -> list[Any]:
    """The query's rows; none while the database is down or not migrated."""
    try:
        with db.connect() as connection:
            return list(connection.execute(text(query), params))
    except OperationalError:
        return []


def health(api: httpx.Client) -> dict[str, Any]:
    answer = api.get("/healthz")
    return {"http": answer.status_code, **answer.json()}


def test_a_store_outage_delays_the_records_never_the_clock(
    processes: Processes, receiver: Callable[..., Receiver]
) -> None:
    hook = receiver(200)
    with postgres.stoppable_postgres() as database:
        processes.env["SLAFLOW_DATABASE_URL"] = database.url
        processes.configure(config(hook.url))
        api = processes.up()
        db = create_engine(database.url)
        tid = api.post(
            "/tickets", json={"title": "Checkout down", "priority": "P1", "customer_id": "acme"}
        ).json()["ticket_id"]
        # The ticket's first record made its row while the store was up.
        wait_for(lambda: rows(db, "SELECT 1 FROM tickets WHERE ticket_id = :t", t=tid))
        assert (h := health(api)).get("store") == "ok", h

        database.stop()
        breached: dict[str, Any] = {}

        def has_breached() -> bool:
            breached.update(api.get(f"/tickets/{tid}").json())
            return bool(breached["response"]["state"] == "breached")

        wait_for(has_breached, seconds=60)
        due = datetime.fromisoformat(breached["response"]["due_at"])
        at = datetime.fromisoformat(breached["response"]["breached_at"])
        assert due <= at < datetime.now(UTC)
        assert breached["escalation_level"] == 1
        # Its announcements went out without the store.
        wait_for(
            lambda: (
                {"breach", "escalation", "penalty"}
                <= {r.json()["type"] for r in hook.received if r.json()["ticket_id"] == tid}
            ),
            seconds=60,
        )
        # The outage shows, and the API stays ready: tickets are still kept.
        wait_for(lambda: (h := health(api))["store"] == "unavailable" and h["pending_effects"])
        assert health(api)["http"] == 200
        metrics = api.get("/metrics").text
        assert "slaflow_pending_effects 1.0" in metrics and "slaflow_store_up 0.0" in metrics

        # What waits lives in the ticket's history, not in a worker: restart the worker.
        processes.kill("worker")
        processes.start("worker")
        database.start()

        query = "SELECT at FROM credits WHERE ticket_id = :t AND kind = 'penalty'"
        wait_for(lambda: rows(db, query, t=tid), seconds=120)
        wait_for(lambda: (h := health(api))["store"] == "ok" and h["pending_effects"] == 0, 60)
        credits = rows(db, query, t=tid)
        escalations = rows(
            db,
            "SELECT level FROM notifications WHERE ticket_id = :t AND kind = 'escalation'",
            t=tid,
        )
        outcome = rows(
            db, "SELECT response_state, escalation_level FROM tickets WHERE ticket_id = :t", t=tid
        )
        month = at.strftime("%Y-%m")
        statement = api.get("/customers/acme/statement", params={"month": month}).json()
        processes.kill_all()
        db.dispose()

    assert len(credits) == 1 and len(escalations) == 1, (credits, escalations)
    # Recorded late, but at the time it happened.
    assert credits[0].at.astimezone(UTC) == at
    assert escalations[0].level == 1
    assert tuple(outcome[0]) == ("breached", 1)
    # The month's statement counts the credit once.
    on_ticket = [c for c in statement["credits"] if c["ticket_id"] == tid]
    assert len(on_ticket) == 1 and on_ticket[0]["kind"] == "penalty", statement
