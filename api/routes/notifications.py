"""Notifications: send a test event to one configured target and report what the receiver said."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from activities.notify import Notifier, UnknownTargetError
from api.errors import ApiError
from sla.notifications import Delivery, Event

router = APIRouter(prefix="/notifications", tags=["notifications"])


class TestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=r"^(webhook|mailto):\S{1,320}$")


# Admin only once access control lands (docs/api.md, "Access"): it makes the server call out.
@router.post("/test")
async def send_test(body: TestRequest, request: Request) -> dict[str, Any]:
    notifier: Notifier = request.app.state.notifier
    event = Event(
        id=str(uuid.uuid4()),  # every test is its own event: receivers must not drop it
        type="test",
        at=datetime.now(UTC),
        data={"message": "a test event from slaflow"},
    )
    try:
        result = await notifier.send(Delivery(event=event, target=body.target))
    except UnknownTargetError as exc:
        raise ApiError(404, str(exc)) from None
    return {
        "target": result.target,
        "ok": result.ok,
        "status_code": result.status_code,
        "detail": result.detail,
        "event_id": event.id,
    }
