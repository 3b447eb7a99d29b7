"""Calendars over HTTP: the configured ones, and business-time arithmetic for support staff.
A ticket on a business calendar: tests/e2e/test_calendars_api.py."""

from __future__ import annotations

import httpx
import pytest


async def test_calendars_lists_the_builtin_and_configured_ones(http: httpx.AsyncClient) -> None:
    body = (await http.get("/calendars")).json()["calendars"]
    assert set(body) == {"always", "berlin-office"}
    berlin = body["berlin-office"]
    assert berlin["timezone"] == "Europe/Berlin"
    assert berlin["hours"]["mon"] == ["09:00-12:00", "13:00-17:00"]
    assert "2026-12-25" in berlin["holidays"] or "2027-12-25" in berlin["holidays"]


async def test_preview_answers_the_due_time_in_utc_and_local_time(
    http: httpx.AsyncClient,
) -> None:
    # Friday 2026-05-22 16:30 CEST + 8 business hours, Whit Monday closed -> Tuesday 16:30.
    response = await http.get(
        "/calendars/berlin-office/preview",
        params={"start": "2026-05-22T16:30:00+02:00", "duration": "PT8H"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["due_at"] == "2026-05-26T14:30:00+00:00"
    assert body["due_at_local"] == "2026-05-26T16:30:00+02:00"
    assert body["duration_seconds"] == 8 * 3600
    compact = await http.get(
        "/calendars/berlin-office/preview",
        params={"start": "2026-05-22T16:30:00+02:00", "duration": "8h"},
    )
    assert compact.json()["due_at"] == body["due_at"]


async def test_business_time_between_two_instants(http: httpx.AsyncClient) -> None:
    # Monday 11:00 to 14:00 local with a lunch break: 2 hours.
    response = await http.get(
        "/calendars/berlin-office/business-time",
        params={"start": "2026-11-30T11:00:00+01:00", "end": "2026-11-30T14:00:00+01:00"},
    )
    assert response.json()["seconds"] == 7200


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/calendars/mars/preview", {"start": "2026-05-22T16:30:00+02:00", "duration": "1h"}, 404),
        ("/calendars/always/preview", {"start": "2026-05-22T16:30:00", "duration": "1h"}, 422),
        ("/calendars/always/preview", {"start": "yesterday", "duration": "1h"}, 422),
        ("/calendars/always/preview", {"start": "2026-05-22T16:30:00Z", "duration": "soon"}, 422),
        ("/calendars/always/preview", {"start": "2026-05-22T16:30:00Z", "duration": "9999d"}, 422),
        (
            "/calendars/always/business-time",
            {"start": "2026-01-01T00:00:00Z", "end": "2029-01-01T00:00:00Z"},
            422,
        ),
    ],
)
async def test_bad_calendar_questions_are_4xx_with_a_reason(
    http: httpx.AsyncClient, path: str, params: dict[str, str], status: int
) -> None:
    response = await http.get(path, params=params)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
