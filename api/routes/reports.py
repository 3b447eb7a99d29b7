"""Reports for support managers: SLA compliance and time statistics, from the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from api.deps import StoreDep
from api.errors import ApiError
from api.instants import day_in_range, in_range
from sla.actions import ID_PATTERN
from sla.priorities import Priority
from sla.reports import report_csv, sla_report

router = APIRouter(prefix="/reports", tags=["reports"])

# A date or a time: said in the schema too, so clients and schemathesis send both forms.
DAY_OR_TIME: dict[str, Any] = {
    "max_length": 40,
    "description": "a date (whole day, UTC) or an ISO 8601 time with its UTC offset",
    "json_schema_extra": {"anyOf": [{"format": "date"}, {"format": "date-time"}]},
}


def _instant(value: str, name: str, end_of_day: bool) -> datetime:
    """A date (whole day, UTC) or an ISO 8601 time with offset, within the API's range."""
    try:
        parsed = date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(422, f"{name}: {value!r} is neither a date nor an ISO 8601 time") from None
    if isinstance(parsed, datetime) and parsed.tzinfo is None:
        raise ApiError(422, f"{name}: give the time with its UTC offset")
    try:
        if isinstance(parsed, datetime):
            return in_range(parsed).astimezone(UTC)
        day = day_in_range(parsed)
    except ValueError as exc:
        raise ApiError(422, f"{name}: {exc}") from None
    return datetime.combine(day + timedelta(days=end_of_day), time(), tzinfo=UTC)


@router.get("/sla", response_model=None)
async def sla(
    store: StoreDep,
    from_: Annotated[str, Query(alias="from", examples=["2026-11-01"], **DAY_OR_TIME)],
    to: Annotated[str, Query(examples=["2026-11-30"], **DAY_OR_TIME)],
    customer_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    priority: Priority | None = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    start, end = _instant(from_, "from", False), _instant(to, "to", True)
    if end <= start:
        raise ApiError(422, "`to` must be after `from`")
    if end - start > timedelta(days=400):
        raise ApiError(422, "a report covers at most 400 days")
    outcomes = await asyncio.to_thread(
        store.outcomes, start, end, customer_id, priority.value if priority else None
    )
    report = sla_report(outcomes, start, end)
    if accept and "text/csv" in accept:
        return Response(report_csv(report), media_type="text/csv")
    body: dict[str, Any] = report.model_dump(mode="json")
    body["from"] = body.pop("from_")
    return JSONResponse(body)
