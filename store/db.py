"""Store access: SQLite file by default, PostgreSQL by URL; each write is idempotent by key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from sla.availability import Incident
from sla.effects import RECORDED, Effect, InvalidEffect
from sla.journal import JournalEntry, TicketOpening
from sla.records import TicketChanges, TicketIdTaken, TicketOutcome
from sla.what_if import JournaledTicket
from store.models import (
    CreditRow,
    IncidentRow,
    JournalRow,
    NotificationRow,
    OpeningRow,
    ProbeStateRow,
    StatementRow,
    TicketRow,
)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _notification(effect: Effect) -> dict[str, Any]:
    return {
        "key": effect.key,
        "kind": effect.kind.value,
        "ticket_id": effect.ticket_id,
        "customer_id": effect.customer_id,
        "metric": effect.metric.value,
        "cycle": effect.cycle,
        "level": effect.level,
        "at": effect.at,
        "payload": effect.model_dump_json(),
        "recorded_at": datetime.now(UTC),
    }


def _credit(effect: Effect) -> dict[str, Any]:
    return {
        "key": effect.key,
        "kind": effect.kind.value,
        "ticket_id": effect.ticket_id,
        "customer_id": effect.customer_id,
        "priority": effect.priority.value,
        "metric": effect.metric.value,
        "cycle": effect.cycle,
        "percent": None if effect.percent is None else str(effect.percent),
        "amount": None if effect.amount is None else str(effect.amount),
        "unit": effect.unit,
        "at": effect.at,
        "recorded_at": datetime.now(UTC),
    }


class _Writes:
    """The activities' statements, built once: SQLAlchemy compiles each once and caches it,
    where a statement carrying its values would be coerced and compiled on every write (that
    was most of a breach burst's CPU, docs/benchmarks.md). SQLite and PostgreSQL both have
    INSERT ... ON CONFLICT, so recording once by key is a single statement."""

    def __init__(self, dialect: Any) -> None:
        def once(table: type[Any]) -> Any:
            insert = dialect.insert(table)
            return insert.on_conflict_do_nothing(index_elements=["key"]).returning(table.key)

        self.notification = once(NotificationRow)
        self.credit = once(CreditRow)
        self.opening = dialect.insert(OpeningRow).on_conflict_do_nothing(
            index_elements=["ticket_id"]
        )
        # An entry's number is taken again with what the ticket really did when a workflow
        # task's local activity wrote, and then the task never completed (its worker died, or
        # it timed out): the task runs again, its messages perhaps in another order. The later
        # write is that of the task that completed (docs/design.md, "Speculative records").
        journal = dialect.insert(JournalRow)
        self.journal = journal.on_conflict_do_update(
            index_elements=["ticket_id", "seq"],
            set_={
                name: journal.excluded[name] for name in ("at", "kind", "payload", "recorded_at")
            },
        )
        insert = dialect.insert(TicketRow)
        # The opening request is the row's for good; only a newer outcome replaces an older.
        row, new = TicketRow.__table__.c, insert.excluded
        changed = {c.name: new[c.name] for c in TicketRow.__table__.columns}
        changed["request"] = func.coalesce(row.request, new.request)
        self.ticket = insert.on_conflict_do_update(
            index_elements=["ticket_id"],
            set_=changed,
            where=(
                (row.request.is_(None) | new.request.is_(None) | (row.request == new.request))
                & (
                    row.as_of.is_(None)
                    | new.as_of.is_(None)
                    | (row.as_of < new.as_of)
                    # Of two outcomes at one time, the one of more journal entries is the
                    # newer. A later time wins whatever its count: a task that never
                    # completed may have counted entries the ticket then numbered otherwise.
                    | (
                        (row.as_of == new.as_of)
                        & (
                            row.journaled.is_(None)
                            | new.journaled.is_(None)
                            | (row.journaled <= new.journaled)
                        )
                    )
                )
            ),
        ).returning(row.ticket_id)

    def effect(self, effect: Effect) -> tuple[Any, dict[str, Any]]:
        """Escalations and warnings are notifications; penalties and rewards are credits."""
        recorded = RECORDED.get(effect.kind)
        if recorded is None:
            raise InvalidEffect(f"{effect.kind.value} effects are not recorded in the store")
        if recorded.ledger == "credit":
            return self.credit, _credit(effect)
        return self.notification, _notification(effect)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    # WAL lets the API read while a worker writes; the timeout waits out a writer.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Store:
    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        # A database that does not answer fails a write in seconds, not minutes: the ticket's
        # fast path gives up and its records wait (docs/design.md).
        connect_args = {"connect_timeout": 5} if url.startswith("postgresql") else {}
        self.engine: Engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        if migrate:
            self.migrate()

    @classmethod
    def open(cls, database_url: str | None, data_dir: Path) -> Store:
        """The configured database, else a SQLite file in the data dir; migrated to the
        current schema."""
        return cls(database_url) if database_url else cls.at(data_dir / "slaflow.sqlite3")

    @classmethod
    def at(cls, path: Path) -> Store:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_url(path))

    def migrate(self) -> None:
        from store.migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @cached_property
    def _writes(self) -> _Writes:
        return _Writes(postgresql if self.engine.dialect.name == "postgresql" else sqlite)

    def _insert_once(self, connection: Connection, effect: Effect) -> bool:
        """True if this call recorded the effect; False if its key was recorded before."""
        statement, values = self._writes.effect(effect)
        return connection.execute(statement, values).first() is not None

    def _upsert_ticket(self, connection: Connection, changes: TicketChanges) -> None:
        """The ticket's row, unless a newer outcome is there already; raises TicketIdTaken
        when the row is another request's ticket (an id used before)."""
        outcome = changes.outcome
        values = outcome.model_dump(mode="python")
        values["priority"] = outcome.priority.value
        values["ratings"] = json.dumps(outcome.model_dump(mode="json")["ratings"])
        values["updated_at"] = datetime.now(UTC)
        values["request"] = changes.request
        values["as_of"] = changes.as_of
        values["journaled"] = changes.journaled
        if connection.execute(self._writes.ticket, values).first() is not None:
            return
        query = select(TicketRow.request).where(TicketRow.ticket_id == outcome.ticket_id)
        request = connection.execute(query).scalar()
        if request is not None and changes.request is not None and request != changes.request:
            raise TicketIdTaken(
                f"ticket id {outcome.ticket_id!r} was used by another ticket; its rows are kept"
            )

    def _journal(self, connection: Connection, changes: TicketChanges) -> None:
        """The opening once, and the journal entries by number: a retry writes them again as
        they were, a task that completed after one that did not replaces its entries."""
        now = datetime.now(UTC)
        ticket_id = changes.outcome.ticket_id
        if (opened := changes.opening) is not None:
            connection.execute(
                self._writes.opening,
                {
                    "ticket_id": opened.ticket_id,
                    "customer_id": opened.customer_id,
                    "priority": opened.priority.value,
                    "opened_at": opened.opened_at,
                    "policy": opened.policy.model_dump_json(),
                    "recorded_at": now,
                },
            )
        if changes.journal:
            connection.execute(
                self._writes.journal,
                [
                    {
                        "ticket_id": ticket_id,
                        "seq": entry.seq,
                        "at": entry.at,
                        "kind": entry.kind,
                        "payload": json.dumps(entry.payload),
                        "recorded_at": now,
                    }
                    for entry in changes.journal
                ],
            )

    # -- written by activities -----------------------------------------------------------

    def record_changes(self, changes: TicketChanges) -> list[bool]:
        """A workflow task's effects, each once by key (True where this call recorded it
        first), its journal, and the ticket's row: one transaction, so a breach is one
        commit."""
        with self.engine.begin() as connection:  # no ORM on the hot path
            # The row first: a ticket that is not the id's owner writes nothing at all.
            self._upsert_ticket(connection, changes)
            firsts = [self._insert_once(connection, effect) for effect in changes.effects]
            self._journal(connection, changes)
        return firsts

    def ping(self) -> None:
        """Raises when the database does not answer (health checks)."""
        with self.engine.connect() as connection:
            connection.execute(select(1))

    # -- incidents --------------------------------------------------------------------------

    def add_incident(self, incident: Incident) -> None:
        with self.session() as session:
            session.add(IncidentRow(**incident.model_dump()))

    def end_incident(self, incident_id: str, ended_at: datetime) -> Incident | None:
        with self.session() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                return None
            row.ended_at = ended_at
            return _incident(row)

    def incident(self, incident_id: str) -> Incident | None:
        with self.session() as session:
            row = session.get(IncidentRow, incident_id)
            return None if row is None else _incident(row)

    def incidents(self, start: datetime, end: datetime, service: str | None) -> list[Incident]:
        """Incidents overlapping [start, end)."""
        query = select(IncidentRow).where(
            IncidentRow.started_at < end,
            (IncidentRow.ended_at.is_(None)) | (IncidentRow.ended_at > start),
        )
        if service is not None:
            query = query.where(IncidentRow.service == service)
        with self.session() as session:
            rows = session.scalars(query.order_by(IncidentRow.started_at)).all()
            return [_incident(r) for r in rows]

    def open_incident(self, service: str, source: str) -> Incident | None:
        query = select(IncidentRow).where(
            IncidentRow.service == service,
            IncidentRow.source == source,
            IncidentRow.ended_at.is_(None),
        )
        with self.session() as session:
            row = session.scalars(query).first()
            return None if row is None else _incident(row)

    def probe_result(
        self, service: str, ok: bool, now: datetime, threshold: int
    ) -> tuple[str, Incident | None]:
        """Fold one check into the probe's state; opens or ends the probe's incident.

        Returns what happened ("up", "down", "opened", "ended") and the incident concerned.
        """
        with self.session() as session:
            state = session.get(ProbeStateRow, service, with_for_update=True)
            if state is None:
                state = ProbeStateRow(service=service, failures=0, checked_at=now)
                session.add(state)
            state.checked_at = now
            open_row = session.scalars(
                select(IncidentRow).where(
                    IncidentRow.service == service,
                    IncidentRow.source == "probe",
                    IncidentRow.ended_at.is_(None),
                )
            ).first()
            if ok:
                state.failures, state.first_failure_at = 0, None
                if open_row is None:
                    return "up", None
                open_row.ended_at = now
                return "ended", _incident(open_row)
            state.failures += 1
            state.first_failure_at = state.first_failure_at or now
            if open_row is not None or state.failures < threshold:
                return "down", None if open_row is None else _incident(open_row)
            # The outage began with the first failed check, not when the threshold was met.
            row = IncidentRow(
                id=f"probe-{service}-{int(state.first_failure_at.timestamp())}",
                service=service,
                started_at=state.first_failure_at,
                ended_at=None,
                note=f"opened by the probe after {state.failures} failed checks",
                source="probe",
            )
            session.add(row)
            return "opened", _incident(row)

    def close_statement(
        self,
        customer_id: str,
        month: str,
        payload: str,
        total: str,
        currency: str | None,
        now: datetime,
    ) -> bool:
        """Freeze a month's statement; False if that month was closed before."""
        try:
            with self.session() as session:
                session.add(
                    StatementRow(
                        customer_id=customer_id, month=month, credit_total=total,
                        currency=currency, payload=payload, closed_at=now,
                    )
                )  # fmt: skip
            return True
        except IntegrityError:
            return False

    def closed_statements(self, month: str) -> list[StatementRow]:
        with self.session() as session:
            query = select(StatementRow).where(StatementRow.month == month)
            return list(session.scalars(query.order_by(StatementRow.customer_id)).all())

    # -- read by the API --------------------------------------------------------------------

    def credits(self, customer_id: str, start: datetime, end: datetime) -> list[CreditRow]:
        query = select(CreditRow).where(
            CreditRow.customer_id == customer_id, CreditRow.at >= start, CreditRow.at < end
        )
        with self.session() as session:
            return list(session.scalars(query.order_by(CreditRow.at, CreditRow.id)).all())

    def tickets_opened(self, customer_id: str, start: datetime, end: datetime) -> int:
        query = select(func.count()).where(
            TicketRow.customer_id == customer_id,
            TicketRow.opened_at >= start,
            TicketRow.opened_at < end,
        )
        with self.session() as session:
            return int(session.scalar(query) or 0)

    def knows_customer(self, customer_id: str) -> bool:
        query = select(TicketRow.ticket_id).where(TicketRow.customer_id == customer_id).limit(1)
        with self.session() as session:
            return session.scalar(query) is not None

    def outcomes(
        self,
        start: datetime,
        end: datetime,
        customer_id: str | None = None,
        priority: str | None = None,
    ) -> list[TicketOutcome]:
        """Outcomes of tickets that may have a clock completed or breached in [start, end)."""
        query = select(TicketRow).where(TicketRow.opened_at < end, TicketRow.updated_at >= start)
        if customer_id is not None:
            query = query.where(TicketRow.customer_id == customer_id)
        if priority is not None:
            query = query.where(TicketRow.priority == priority)
        with self.session() as session:
            return [_outcome(row) for row in session.scalars(query)]

    def journaled_tickets(
        self,
        start: datetime,
        end: datetime,
        customer_id: str | None = None,
        priority: str | None = None,
    ) -> tuple[list[JournaledTicket], list[str]]:
        """Tickets opened in [start, end) with their opening, their journal up to their
        outcome, and the outcome; and the ids of those the store has no journal of (opened
        before it was kept). The outcome is read first: entries land with their outcome or
        before it, so every entry it reflects is there, whatever lands meanwhile."""
        tickets = select(TicketRow).where(TicketRow.opened_at >= start, TicketRow.opened_at < end)
        if customer_id is not None:
            tickets = tickets.where(TicketRow.customer_id == customer_id)
        if priority is not None:
            tickets = tickets.where(TicketRow.priority == priority)
        ids = tickets.with_only_columns(TicketRow.ticket_id).scalar_subquery()
        with self.session() as session:
            rows = {row.ticket_id: row for row in session.scalars(tickets)}
            openings = {
                row.ticket_id: row
                for row in session.scalars(select(OpeningRow).where(OpeningRow.ticket_id.in_(ids)))
            }
            entries: dict[str, list[JournalEntry]] = {}
            query = select(JournalRow).where(JournalRow.ticket_id.in_(ids))
            for entry in session.scalars(query.order_by(JournalRow.ticket_id, JournalRow.seq)):
                entries.setdefault(entry.ticket_id, []).append(_entry(entry))
        found, missing = [], []
        for ticket_id, row in sorted(rows.items(), key=lambda item: (item[1].opened_at, item[0])):
            opened = openings.get(ticket_id)
            if opened is None or row.journaled is None or row.as_of is None:
                missing.append(ticket_id)
                continue
            found.append(
                JournaledTicket(
                    opening=_opening(opened),
                    entries=[e for e in entries.get(ticket_id, []) if e.seq < row.journaled],
                    outcome=_outcome(row),
                    as_of=row.as_of,
                    journaled=row.journaled,
                )
            )
        return found, missing

    def ticket(self, ticket_id: str) -> TicketRow | None:
        with self.session() as session:
            return session.get(TicketRow, ticket_id)

    def events(self, ticket_id: str | None = None) -> list[dict[str, Any]]:
        """Every recorded effect of a ticket (or all), credits and notifications, in order."""
        out: list[dict[str, Any]] = []
        with self.session() as session:
            for model in (CreditRow, NotificationRow):
                query = select(model)
                if ticket_id is not None:
                    query = query.where(model.ticket_id == ticket_id)
                for row in session.scalars(query):
                    fields = {c.name: getattr(row, c.name) for c in model.__table__.columns}
                    fields.pop("id")
                    if isinstance(row, NotificationRow):
                        fields.update(json.loads(fields.pop("payload")))
                    out.append(fields)
        return sorted(out, key=lambda f: (f["recorded_at"], f["key"]))

    def close(self) -> None:
        self.engine.dispose()


_OUTCOME_FIELDS = [f for f in TicketOutcome.model_fields if f != "ratings"]


def _outcome(row: TicketRow) -> TicketOutcome:
    values = {f: getattr(row, f) for f in _OUTCOME_FIELDS}
    return TicketOutcome.model_validate({**values, "ratings": json.loads(row.ratings or "[]")})


def _opening(row: OpeningRow) -> TicketOpening:
    return TicketOpening.model_validate(
        {
            "ticket_id": row.ticket_id,
            "customer_id": row.customer_id,
            "priority": row.priority,
            "opened_at": row.opened_at,
            "policy": json.loads(row.policy),
        }
    )


def _entry(row: JournalRow) -> JournalEntry:
    return JournalEntry(seq=row.seq, at=row.at, kind=row.kind, payload=json.loads(row.payload))


def _incident(row: IncidentRow) -> Incident:
    return Incident(
        id=row.id,
        service=row.service,
        started_at=row.started_at,
        ended_at=row.ended_at,
        note=row.note,
        source=row.source,
    )
