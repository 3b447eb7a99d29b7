"""Calendars over HTTP on a running ticket: its due times are the calendar's business time.
The calendar routes alone: tests/api/test_calendars.py."""

from __future__ import annotations

import httpx


async def test_a_customer_on_a_business_calendar_gets_business_due_times(
    http: httpx.AsyncClient,
) -> None:
    """globex-e2e is on the `business` policy: Berlin office hours, P2 response 4 h."""
    opened = await http.post(
        "/tickets", json={"title": "Invoice wrong", "priority": "P2", "customer_id": "globex-e2e"}
    )
    ticket = opened.json()
    assert (ticket["policy"], ticket["calendar"], ticket["timezone"]) == (
        "business",
        "berlin-office",
        "Europe/Berlin",
    )
    for metric, duration in (("response", "4h"), ("resolution", "16h")):
        preview = await http.get(
            "/calendars/berlin-office/preview",
            params={"start": ticket["created_at"], "duration": duration},
        )
        assert ticket[metric]["due_at"] == preview.json()["due_at"]
        assert ticket[metric]["target_seconds"] == preview.json()["duration_seconds"]
