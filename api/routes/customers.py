"""Customers: the monthly statement of credits, rewards and availability (JSON or CSV)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, Response

from api.auth import PrincipalDep
from api.deps import DeskDep, StoreDep
from api.errors import ApiError
from sla.actions import ID_PATTERN
from sla.statement import statement_csv
from store.statements import statement_for

router = APIRouter(prefix="/customers", tags=["customers"])

MONTH = r"^\d{4}-\d{2}$"


@router.get("/{customer_id}/statement", response_model=None)
async def statement(
    customer_id: Annotated[str, Path(pattern=ID_PATTERN)],
    month: Annotated[str, Query(pattern=MONTH, examples=["2026-11"])],
    desk: DeskDep,
    store: StoreDep,
    principal: PrincipalDep,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    if not principal.sees(customer_id):
        raise ApiError(404, f"no customer {customer_id!r}")  # a customer sees only its own
    if customer_id not in desk.config.customers and not await asyncio.to_thread(
        store.knows_customer, customer_id
    ):
        raise ApiError(404, f"no customer {customer_id!r}")
    try:
        result = await asyncio.to_thread(
            statement_for, store, desk.config, customer_id, month, datetime.now(UTC)
        )
    except ValueError as exc:
        raise ApiError(422, str(exc)) from None
    if accept and "text/csv" in accept:
        return Response(
            statement_csv(result),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{customer_id}-{month}.csv"'},
        )
    return JSONResponse(result.model_dump(mode="json"))
