"""The SLA ledger: one row per effect key, so a retried activity records it only once."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sla_events (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    cycle INTEGER NOT NULL,
    level INTEGER NOT NULL,
    at TEXT NOT NULL,
    payload TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sla_events_ticket ON sla_events (ticket_id);
"""


class Ledger:
    """SQLite in the data dir; the primary key on `key` is what makes recording exactly-once."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def record(self, key: str, kind: str, fields: dict[str, Any]) -> bool:
        """Record an event once; False when the key was already recorded."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO sla_events (key, kind, ticket_id, customer_id,"
                " metric, cycle, level, at, payload, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    kind,
                    fields["ticket_id"],
                    fields["customer_id"],
                    fields["metric"],
                    fields["cycle"],
                    fields.get("level", 0),
                    fields["at"],
                    json.dumps(fields, default=str, sort_keys=True),
                    datetime.now(UTC).isoformat(),
                ),
            )
            return cursor.rowcount == 1

    def events(self, ticket_id: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT key, kind, payload FROM sla_events"
        params: tuple[str, ...] = ()
        if ticket_id is not None:
            query += " WHERE ticket_id = ?"
            params = (ticket_id,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY rowid", params).fetchall()
        return [{"key": key, "kind": kind, **json.loads(payload)} for key, kind, payload in rows]

    def close(self) -> None:
        self._conn.close()
