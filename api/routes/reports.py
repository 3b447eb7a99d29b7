"""Reports for support managers: SLA compliance and time statistics, from the store."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse, Response

from api.deps import StoreDep
from api.errors import ApiError
from sla.actions import ID_PATTERN
from sla.priorities import Priority
from sla.reports import report_csv, sla_report

router = APIRouter(prefix="/reports", tags=["reports"])


def _instant(value: str, name: str, end_of_day: bool) -> datetime:
    """A date (whole day, UTC) or an ISO 8601 time with offset."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=end_of_day), time(), tzinfo=UTC)
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(422, f"{name}: {value!r} is neither a date nor an ISO 8601 time") from None
    if instant.tzinfo is None:
        raise ApiError(422, f"{name}: give the time with its UTC offset")
    return instant.astimezone(UTC)


@router.get("/sla", response_model=None)
async def sla(
    store: StoreDep,
    from_: Annotated[str, Query(alias="from", max_length=40, examples=["2026-11-01"])],
    to: Annotated[str, Query(max_length=40, examples=["2026-11-30"])],
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
