"""Calendars: what is configured, and business-time arithmetic for support staff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import DeskDep
from api.errors import ApiError
from api.instants import LAST_DAY, LATEST, Instant
from config.resolve import resolve_calendar
from sla.calendar import ALWAYS, Calendar, OutOfReach
from sla.durations import parse_duration

router = APIRouter(prefix="/calendars", tags=["calendars"])

# Arithmetic this far from the snapshot's horizon would need tables it does not hold.
MAX_SPAN = timedelta(days=366)


def _calendar(desk: DeskDep, name: str, around: datetime) -> Calendar:
    if name != ALWAYS and name not in desk.config.calendars:
        known = ", ".join([ALWAYS, *sorted(desk.config.calendars)])
        raise ApiError(404, f"no calendar {name!r} (known: {known})")
    return resolve_calendar(name, desk.config.calendars.get(name), around)


@router.get("")
async def calendars(desk: DeskDep) -> dict[str, Any]:
    out: dict[str, Any] = {ALWAYS: {"timezone": "UTC", "hours": None, "holidays": []}}
    now = datetime.now(UTC)
    for name, spec in desk.config.calendars.items():
        resolved = resolve_calendar(name, spec, now)
        out[name] = {
            "timezone": spec.timezone,
            "hours": spec.hours,
            "holiday_country": spec.holiday_country,
            "holiday_subdivision": spec.holiday_subdivision,
            "holidays": [d.isoformat() for d in resolved.holidays if d >= now.date()],
        }
    return {"calendars": out}


@router.get("/{name}/preview")
async def preview(
    name: str,
    desk: DeskDep,
    start: Annotated[Instant, Query(description="ISO 8601 with a UTC offset")],
    duration: Annotated[str, Query(max_length=64, examples=["8h", "PT8H"])],
) -> dict[str, Any]:
    try:
        amount = parse_duration(duration)
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    if not timedelta(0) <= amount <= MAX_SPAN:
        raise ApiError(422, "duration must be between 0 and 366 days")
    calendar = _calendar(desk, name, start)
    try:
        due = calendar.add_business_time(start.astimezone(UTC), amount)
    except OutOfReach as exc:
        raise ApiError(422, str(exc)) from None
    if due > LATEST:  # its local time could not be written
        raise ApiError(422, f"the due time falls after {LAST_DAY}, the last date the API takes")
    return {
        "calendar": name,
        "start": start.isoformat(),
        "duration_seconds": int(amount.total_seconds()),
        "due_at": due.astimezone(UTC).isoformat(),
        "due_at_local": calendar.in_zone(due).isoformat(),
        "timezone": calendar.timezone,
    }


@router.get("/{name}/business-time")
async def business_time(
    name: str,
    desk: DeskDep,
    start: Annotated[Instant, Query(description="ISO 8601 with a UTC offset")],
    end: Annotated[Instant, Query(description="ISO 8601 with a UTC offset")],
) -> dict[str, Any]:
    if end - start > MAX_SPAN:
        raise ApiError(422, "start and end must be at most 366 days apart")
    calendar = _calendar(desk, name, start)
    seconds = calendar.business_time_between(start.astimezone(UTC), end.astimezone(UTC))
    return {
        "calendar": name,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "seconds": int(seconds.total_seconds()),
    }
