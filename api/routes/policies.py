"""The active SLA policies, as support staff read them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import DeskDep
from sla.durations import format_duration

router = APIRouter(tags=["policies"])


@router.get("/policies")
async def policies(desk: DeskDep) -> dict[str, Any]:
    config = desk.config
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
    return {"default_policy": config.default_policy, "policies": out}
