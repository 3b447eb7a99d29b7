"""Contract activities: the availability probe's check and closing a month's statements."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from temporalio import activity

from sla.notifications import Delivery, Event, event_id
from sla.policy import SlaConfig
from sla.schedules import ClosedMonth, CloseMonth, ProbeCheck, ProbeOutcome
from store import Store
from store.statements import statement_for

log = logging.getLogger("slaflow.activities")


class ContractActivities:
    def __init__(self, store: Store, config: SlaConfig | Callable[[], SlaConfig]) -> None:
        self._store = store
        self._config_source = config

    @property
    def _config(self) -> SlaConfig:
        """The config in force now (a callable follows reloads)."""
        source = self._config_source
        return source() if callable(source) else source

    @activity.defn(name="probe_availability")
    async def probe_availability(self, check: ProbeCheck) -> ProbeOutcome:
        try:
            async with httpx.AsyncClient(timeout=check.timeout_seconds) as http:
                response = await http.get(check.url)
            ok, detail = response.is_success, f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        happened, incident = await asyncio.to_thread(
            self._store.probe_result, check.service, ok, datetime.now(UTC), check.failures
        )
        incident_id = incident.id if incident else None
        if happened in ("opened", "ended"):
            fields = {"service": check.service, "incident_id": incident_id, "detail": detail}
            log.info(f"incident_{happened}", extra={"fields": fields})
        return ProbeOutcome(ok=ok, detail=detail, happened=happened, incident_id=incident_id)

    @activity.defn(name="close_month")
    async def close_month(self, request: CloseMonth) -> ClosedMonth:
        """Freeze each contracted customer's statement for the month, once."""
        assert request.month is not None
        closed: list[str] = []
        deliveries: list[Delivery] = []
        for customer_id in sorted(self._config.customers):
            statement = await asyncio.to_thread(
                statement_for, self._store, self._config, customer_id, request.month,
                datetime.now(UTC),
            )  # fmt: skip
            first = await asyncio.to_thread(
                self._store.close_statement, customer_id, request.month,
                statement.model_dump_json(), str(statement.credit_total), statement.currency,
                datetime.now(UTC),
            )  # fmt: skip
            if first:
                closed.append(customer_id)
                event = Event(
                    id=event_id(f"{customer_id}:statement:{request.month}"),
                    type="statement",
                    ticket_id=None,
                    at=datetime.now(UTC),
                    data={
                        "customer_id": customer_id,
                        "month": request.month,
                        "credit_total": str(statement.credit_total),
                        "currency": statement.currency,
                        "credit_capped": statement.credit_capped,
                    },
                )
                deliveries += [
                    Delivery(event=event, target=target)
                    for target in self._config.notifications.targets_for("statement", [])
                ]
                fields = {"customer_id": customer_id, "month": request.month,
                          "credit_total": str(statement.credit_total)}  # fmt: skip
                log.info("statement_closed", extra={"fields": fields})
        return ClosedMonth(
            month=request.month,
            customers=closed,
            deliveries=deliveries,
            give_up_after=self._config.notifications.give_up_after,
        )
