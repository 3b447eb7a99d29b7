"""The ticket id registry: a ticket id, once used, belongs to its ticket for good.

The store's row of a ticket (`tickets`, written by the ticket's own records from its first
one on, and kept after Temporal's retention) holds the fingerprint of the request that opened
it (`sla.outcome.opening_request`). The API looks it up before it starts a workflow: the very
same request again is answered with the existing ticket, any other is refused.
"""

from __future__ import annotations

from sqlalchemy import select

from store.db import Store
from store.models import TicketRow


def opening_request_of(store: Store, ticket_id: str) -> str | None:
    """The opening request's fingerprint of the ticket with this id; None when the store has
    no row of it, or a row without one (treated as unknown: Temporal's own check decides).
    Raises when the store does not answer."""
    query = select(TicketRow.request).where(TicketRow.ticket_id == ticket_id)
    with store.engine.connect() as connection:
        request: str | None = connection.execute(query).scalar()
    return request
