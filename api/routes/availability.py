"""Availability: incidents of the platform (admin) and the month's uptime against the target."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.auth import ADMIN_ONLY, STAFF
from api.deps import DeskDep, StoreDep
from api.errors import ApiError
from api.instants import Instant
from sla.availability import Incident
from store.statements import availability_for

router = APIRouter(prefix="/availability", tags=["availability"])

SERVICE = r"^[A-Za-z0-9._-]{1,64}$"


class IncidentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    started_at: Instant
    ended_at: Instant | None = None
    service: str | None = Field(default=None, pattern=SERVICE)
    note: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _ends_after_start(self) -> IncidentCreate:
        if self.ended_at is not None and self.ended_at < self.started_at:
            raise ValueError("ended_at must not be before started_at")
        return self


class IncidentEnd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ended_at: Instant


@router.post("/incidents", status_code=status.HTTP_201_CREATED, dependencies=[ADMIN_ONLY])
async def open_incident(body: IncidentCreate, desk: DeskDep, store: StoreDep) -> dict[str, Any]:
    incident = Incident(
        id=uuid.uuid4().hex,
        service=body.service or desk.config.availability.service,
        started_at=body.started_at.astimezone(UTC),
        ended_at=None if body.ended_at is None else body.ended_at.astimezone(UTC),
        note=body.note,
    )
    await asyncio.to_thread(store.add_incident, incident)
    return incident.model_dump(mode="json")


@router.patch("/incidents/{incident_id}", dependencies=[ADMIN_ONLY])
async def end_incident(
    incident_id: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")],
    body: IncidentEnd,
    store: StoreDep,
) -> dict[str, Any]:
    existing = await asyncio.to_thread(store.incident, incident_id)
    if existing is None:
        raise ApiError(404, f"no incident {incident_id!r}")
    if body.ended_at < existing.started_at:
        raise ApiError(422, "ended_at must not be before the incident's started_at")
    ended = await asyncio.to_thread(store.end_incident, incident_id, body.ended_at.astimezone(UTC))
    assert ended is not None
    return ended.model_dump(mode="json")


@router.get("", dependencies=[STAFF])
async def availability(
    desk: DeskDep,
    store: StoreDep,
    month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", examples=["2026-11"])],
    service: Annotated[str | None, Query(pattern=SERVICE)] = None,
) -> dict[str, Any]:
    try:
        report = await asyncio.to_thread(
            availability_for, store, desk.config, month, service, datetime.now(UTC)
        )
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    return report.model_dump(mode="json")
