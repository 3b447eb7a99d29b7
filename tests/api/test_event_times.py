"""`at` on opens and actions (docs/api.md, "Event times"): who may send it and which times are
refused, answered before any ticket runs. Tickets opened and worked with it:
tests/e2e/test_event_times.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.access import MINE, Keyed, T, call

OPEN = {"title": "Printer on fire", "priority": "P1", "customer_id": MINE}


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("agent", "/tickets"),
        ("acme", "/tickets"),
        ("agent", T + "/respond"),
        ("acme", T + "/comments"),
    ],
)
async def test_only_admin_and_integration_keys_may_date_what_they_send(
    keyed: Keyed, sample_ticket: str, who: str, path: str
) -> None:
    body = OPEN if path == "/tickets" else {"body": "hi"} if "comments" in path else {}
    response = await call(keyed, who, "POST", path.format(tid=sample_ticket), body | {"at": ago()})
    assert response.status_code == 403, response.text
    assert "only admin and integration keys" in response.json()["detail"]


@pytest.mark.parametrize("who", ["admin", "integration"])
@pytest.mark.parametrize(
    ("at", "problem"),
    [
        (lambda: ago(seconds=-60), "is in the future"),
        (lambda: ago(days=31), "more than 30 days back"),
        (lambda: "2026-11-01T10:00:00", "timezone"),  # no offset: whose ten o'clock?
        (lambda: "0001-01-01T00:00:00+00:00", "out of range"),
    ],
    ids=["future", "too-old", "naive", "year-1"],
)
async def test_a_time_that_cannot_be_an_events_is_422_saying_why(
    keyed: Keyed, sample_ticket: str, who: str, at: object, problem: str
) -> None:
    when = at()  # type: ignore[operator]
    opened = await call(keyed, who, "POST", "/tickets", OPEN | {"at": when})
    assert opened.status_code == 422, opened.text
    assert problem in opened.text
    path = f"/tickets/{sample_ticket}/respond"
    answered = await call(keyed, who, "POST", path, {"agent_id": "alice", "at": when})
    assert answered.status_code == 422 and problem in answered.text


async def test_an_integration_key_does_nothing_but_open_and_work_tickets(keyed: Keyed) -> None:
    for method, path in [
        ("GET", "/tickets"),
        ("GET", "/reports/sla?from=2026-11-01&to=2026-11-30"),
        ("GET", f"/customers/{MINE}/statement?month=2026-11"),
        ("GET", "/availability?month=2026-11"),
        ("GET", "/policies"),
    ]:
        response = await call(keyed, "integration", method, path)
        assert response.status_code == 403, (path, response.text)
        assert "integration key" in response.json()["detail"]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"events": [{"action": "respond", "at": ago(minutes=1)}]}, "events need the ticket's"),
        ({"at": ago(minutes=9), "events": [{"action": "fly", "at": ago(minutes=1)}]},
         "events[0].action must be one of"),
        ({"at": ago(minutes=9), "events": [{"action": "repair", "reason": "x"}]},
         "events[0].action must be one of"),
        ({"at": ago(minutes=9), "events": [{"action": "respond", "agent_id": "alice"}]},
         "events[0] needs `at`"),
        ({"at": ago(minutes=9), "events": [{"action": "pause", "at": ago(minutes=1)}]},
         "reason"),  # the action's own body checked: a pause needs its reason
        ({"at": ago(minutes=9), "events": [{"action": "respond", "at": ago(seconds=-60)}]},
         "is in the future"),
    ],
    ids=["no-opening-time", "unknown", "admin-only", "undated", "bad-body", "future"],
)  # fmt: skip
async def test_an_openings_past_is_checked_as_each_action_would_be(
    keyed: Keyed, extra: dict[str, object], problem: str
) -> None:
    response = await call(keyed, "integration", "POST", "/tickets", OPEN | extra)
    assert response.status_code == 422, response.text
    assert problem in response.text


async def test_only_admin_and_integration_keys_may_send_an_openings_past(keyed: Keyed) -> None:
    past = {"at": ago(minutes=9), "events": [{"action": "respond", "at": ago(minutes=1)}]}
    response = await call(keyed, "agent", "POST", "/tickets", OPEN | past)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("an agent key may not send `at`")
