"""No 5xx at the ends of time: dates and times the API takes are between 0001-01-02 and
9999-12-30 (UTC), and one outside, or one whose arithmetic would run past the year 9999 or
past what a calendar holds, is a 422 that says so. Each of these was a 500 (OverflowError or a
calendar's ValueError), or a 503 for a page token. The schemathesis run (tests/e2e) sends such
dates too."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import httpx
import pytest
import yaml
from temporalio.client import Client

from api.app import create_app
from api.deps import get_desk
from settings import Settings
from store import Store
from tests.api.conftest import FakeDesk, NoTemporal
from tests.support.http import API_CONFIG, asgi_client

RANGE = "dates must be between 0001-01-02 and 9999-12-30"


def _detail(response: httpx.Response) -> str:
    assert response.status_code == 422, response.text
    return str(response.json()["detail"])


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-30", "9999-12-31"),  # `to` is inclusive: its end would be 10000-01-01
        ("0001-01-01", "0001-01-02"),
        ("0001-01-01T00:00:00+14:00", "0001-01-02"),  # UTC: the last day of year 0
        ("9999-12-30", "9999-12-31T23:00:00-14:00"),  # UTC: 10000-01-01
    ],
)
async def test_a_report_beyond_the_range_is_422(
    http: httpx.AsyncClient, start: str, end: str
) -> None:
    response = await http.get("/reports/sla", params={"from": start, "to": end})
    assert RANGE in _detail(response)


async def test_a_report_at_the_very_ends_of_the_range_answers(http: httpx.AsyncClient) -> None:
    for start, end in (("0001-01-02", "0001-01-02"), ("9999-12-30", "9999-12-30")):
        response = await http.get("/reports/sla", params={"from": start, "to": end})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("path", "params", "says"),
    [
        (
            "/calendars/berlin-office/preview",
            {"start": "9999-12-31T00:00:00Z", "duration": "1h"},
            RANGE,
        ),
        (
            "/calendars/always/preview",
            {"start": "0001-01-01T00:00:00+14:00", "duration": "1h"},
            RANGE,
        ),
        # In range, but the due time is not: past 9999-12-31, or past the API's last date.
        (
            "/calendars/berlin-office/preview",
            {"start": "9999-12-30T12:00:00Z", "duration": "2d"},
            "ends after 9999-12-31",
        ),
        (
            "/calendars/always/preview",
            {"start": "9999-12-30T12:00:00Z", "duration": "2d"},
            "ends after 9999-12-31",
        ),
        (
            "/calendars/always/preview",
            {"start": "9999-12-30T12:00:00Z", "duration": "12h"},
            "falls after 9999-12-30",
        ),
        (
            "/calendars/berlin-office/business-time",
            {"start": "9999-12-31T23:00:00-14:00", "end": "9999-12-31T23:30:00-14:00"},
            RANGE,
        ),
    ],
)
async def test_calendar_arithmetic_past_the_ends_is_422(
    http: httpx.AsyncClient, path: str, params: dict[str, str], says: str
) -> None:
    assert says in _detail(await http.get(path, params=params))


@pytest.mark.parametrize(
    "params",
    [
        {"start": "0001-01-02T00:00:00Z", "end": "0001-01-09T00:00:00Z"},
        {"start": "9999-12-23T00:00:00+14:00", "end": "9999-12-30T23:59:59Z"},
    ],
    ids=["year-1", "year-9999"],
)
async def test_a_zoned_calendar_counts_at_both_ends_of_the_range(
    http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await http.get("/calendars/berlin-office/business-time", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["seconds"] > 0
    preview = await http.get(
        "/calendars/berlin-office/preview", params={"start": params["start"], "duration": "1h"}
    )
    assert preview.status_code == 200, preview.text


@pytest.mark.parametrize(
    "body",
    [
        {"started_at": "0001-01-01T00:00:00+14:00"},
        {"started_at": "0001-01-01T10:00:00Z", "ended_at": "0001-01-01T11:00:00Z"},
        {"started_at": "9999-12-31T23:00:00-14:00"},
        {"started_at": "2026-11-01T00:00:00Z", "ended_at": "9999-12-31T23:59:59-23:59"},
    ],
)
async def test_an_incident_beyond_the_range_is_422(
    http: httpx.AsyncClient, body: dict[str, str]
) -> None:
    service = f"edge-{uuid.uuid4().hex[:8]}"
    response = await http.post("/availability/incidents", json={**body, "service": service})
    assert RANGE in _detail(response)


async def test_an_incident_in_year_1_counts_and_cannot_end_past_the_range(
    http: httpx.AsyncClient,
) -> None:
    service = f"edge-{uuid.uuid4().hex[:8]}"
    opened = await http.post(
        "/availability/incidents",
        json={"started_at": "0001-01-02T00:00:00Z", "service": service},
    )
    assert opened.status_code == 201, opened.text
    ended = await http.patch(
        f"/availability/incidents/{opened.json()['id']}",
        json={"ended_at": "9999-12-31T23:00:00-14:00"},
    )
    assert RANGE in _detail(ended)
    ended = await http.patch(
        f"/availability/incidents/{opened.json()['id']}",
        json={"ended_at": "0001-01-02T01:00:00+00:00"},
    )
    assert ended.status_code == 200, ended.text
    month = await http.get("/availability", params={"month": "0001-01", "service": service})
    assert month.status_code == 200, month.text
    assert month.json()["downtime_seconds"] == 3600


@pytest.mark.parametrize("cursor", ["0001-01-01T00:00:00+14:00|x", "9999-12-31T23:00:00-14:00|x"])
async def test_a_page_token_at_the_ends_of_time_is_422_not_503(
    http: httpx.AsyncClient, cursor: str
) -> None:
    token = base64.urlsafe_b64encode(cursor.encode()).decode()
    assert "invalid page_token" in _detail(
        await http.get("/deliveries", params={"page_token": token})
    )


@pytest.fixture
async def sparse(tmp_path: Path, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    """The API under the test config plus a calendar open one minute a week."""
    data = yaml.safe_load(API_CONFIG.read_text(encoding="utf-8"))
    data["calendars"]["sparse"] = {"timezone": "UTC", "hours": {"mon": ["09:00-09:01"]}}
    config = tmp_path / "sla.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    settings = Settings(config=config, data_dir=tmp_path, task_queue="no-temporal")
    app = create_app(settings, cast(Client, NoTemporal()), store)
    app.dependency_overrides[get_desk] = lambda: FakeDesk(settings.sla_config)
    async with asgi_client(app) as client:
        yield client


async def test_a_calendar_short_of_the_business_time_asked_is_422(
    sparse: httpx.AsyncClient,
) -> None:
    response = await sparse.get(
        "/calendars/sparse/preview", params={"start": "2026-01-05T09:00:00Z", "duration": "366d"}
    )
    assert "calendar 'sparse' has only 8h43m of business time within 3660 days" in _detail(response)
    within = await sparse.get(
        "/calendars/sparse/preview", params={"start": "2026-01-05T09:00:00Z", "duration": "2m"}
    )
    assert within.json()["due_at"] == "2026-01-12T09:01:00+00:00"
