"""A what-if read from the store: the journals of a window's tickets, replayed by the pure rules
(sla/what_if.py) under the policy each ran under and under a proposed one."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sla.policy import SlaConfig
from sla.statement import terms_of
from sla.what_if import Proposed, WhatIf, reproduces, what_if
from store.db import Store


def what_if_for(
    store: Store,
    config: SlaConfig,
    proposed: Proposed,
    start: datetime,
    end: datetime,
    now: datetime,
    customer_id: str | None = None,
    priority: str | None = None,
) -> WhatIf:
    """Tickets opened in [start, end), replayed to `now`; money priced as each customer's
    statement prices it under today's config."""
    tickets, unjournaled = store.journaled_tickets(start, end, customer_id, priority)
    return what_if(tickets, unjournaled, proposed, partial(terms_of, config), start, end, now)


def not_reproduced(store: Store, start: datetime, end: datetime) -> list[str]:
    """The tickets opened in [start, end) whose journal, replayed under the policy each ran
    under, does not give the store's outcome again (and those without a journal)."""
    tickets, unjournaled = store.journaled_tickets(start, end)
    return [*unjournaled, *(t.opening.ticket_id for t in tickets if not reproduces(t))]
