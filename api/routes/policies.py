"""The active SLA policies, as support staff read them, and what-if: a proposed policy replayed
over a window's tickets beside the policies they ran under."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import DeskDep, SettingsDep, StoreDep
from api.errors import ApiError

# The window is read as reports read theirs: one parser of dates and times for both.
from api.routes.reports import _instant
from config.proposal import proposal
from sla.actions import ID_PATTERN
from sla.durations import format_duration
from sla.priorities import Priority
from sla.what_if import what_if_csv
from store.what_if import what_if_for

router = APIRouter(tags=["policies"])

# As reports: a window of at most this long.
LONGEST_WINDOW = timedelta(days=400)


@router.get("/policies")
async def policies(settings: SettingsDep) -> dict[str, Any]:
    """The policies in force, and the version of the config file they come from (it changes
    when a SIGHUP reloads a changed file)."""
    in_force = settings.config_file.in_force  # config and version from one read
    config = in_force.config
    out: dict[str, Any] = {}
    for name, policy in config.policies.items():
        out[name] = {
            "calendar": policy.calendar,
            "warn_at": policy.warn_at,
            "targets": {
                priority.value: {
                    "response": format_duration(t.response),
                    "response_seconds": int(t.response.total_seconds()),
                    "resolution": format_duration(t.resolution),
                    "resolution_seconds": int(t.resolution.total_seconds()),
                }
                for priority, t in policy.targets.items()
            },
            "escalation": [
                {"after": format_duration(level.after), "notify": level.notify}
                for level in policy.escalation
            ],
            "credits": None if policy.credits is None else policy.credits.model_dump(mode="json"),
            "auto_close_after": format_duration(policy.auto_close_after),
        }
    return {"version": in_force.version, "default_policy": config.default_policy, "policies": out}


class WhatIfRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str = Field(
        alias="from",
        max_length=40,
        description="the window's first day (UTC), or a time with its offset",
        examples=["2026-11-01"],
    )
    to: str = Field(
        max_length=40,
        description="the window's last day (inclusive, UTC), or a time with its offset",
        examples=["2026-11-30"],
    )
    policy: dict[str, Any] | str = Field(
        description="one policy in the config's shape (`policies.<name>` of the config file); "
        "or YAML or JSON text of one; or the name of a configured policy",
        examples=[{"targets": {"P1": {"response": "10m", "resolution": "2h"},
                               "P2": {"response": "1h", "resolution": "8h"},
                               "P3": {"response": "4h", "resolution": "1d"}}}],
    )  # fmt: skip
    customer_id: str | None = Field(default=None, pattern=ID_PATTERN)
    priority: Priority | None = None
    calendars: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description="calendars the policy names that the config lacks, in the config's shape",
    )


@router.post("/policies/what-if", response_model=None)
async def what_if(
    body: WhatIfRequest,
    desk: DeskDep,
    store: StoreDep,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Every ticket opened in the window, replayed from its journal under the proposed policy
    and under the policy it ran under: met and breached, credits, the tickets that change, and
    whether the replay reproduced what happened (docs/what-if.md)."""
    start, end = _instant(body.from_, "from", False), _instant(body.to, "to", True)
    if end <= start:
        raise ApiError(422, "`to` must be after `from`")
    if end - start > LONGEST_WINDOW:
        raise ApiError(422, "a what-if covers at most 400 days")
    now = datetime.now(UTC)
    try:
        proposed = proposal(desk.config, body.policy, body.calendars).until(now)
        answer = await asyncio.to_thread(
            what_if_for,
            store,
            desk.config,
            proposed,
            start,
            end,
            now,
            body.customer_id,
            body.priority.value if body.priority else None,
        )
    except ValueError as exc:  # ConfigError too: a bad policy names its key
        raise ApiError(422, str(exc)) from None
    if accept and "text/csv" in accept:
        return Response(what_if_csv(answer), media_type="text/csv")
    out: dict[str, Any] = answer.model_dump(mode="json")
    return JSONResponse({"from": out.pop("from_"), **out})
