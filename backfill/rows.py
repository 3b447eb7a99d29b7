"""The import file: a CSV of tickets, one a row, checked before anything is sent.

A bad row is not an error of the file: it is reported with its line number and skipped, so
one typo in 10,000 rows costs one ticket, not the run. A bad header is: without the columns
nothing can be imported, and an unknown column is most likely a misspelt one whose times
would otherwise be dropped without a word.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sla.actions import ID_PATTERN

REQUIRED = ("ticket_id", "title", "priority", "customer_id", "opened_at")
OPTIONAL = ("responded_at", "resolved_at", "assignee")
PRIORITIES = ("P1", "P2", "P3")
TITLE_LIMIT = 200  # as POST /tickets takes it

_ID = re.compile(ID_PATTERN)


class FileError(Exception):
    """The file as a whole cannot be imported (unreadable, or its header is wrong)."""


@dataclass(frozen=True)
class Row:
    """One ticket to import, checked: what the API will be sent."""

    line: int
    ticket_id: str
    title: str
    priority: str
    customer_id: str
    opened_at: datetime
    responded_at: datetime | None = None
    resolved_at: datetime | None = None
    assignee: str | None = None


@dataclass(frozen=True)
class BadRow:
    """A row refused before sending: its line in the file, its ticket id if it had one, why."""

    line: int
    ticket_id: str | None
    reason: str


def read(path: Path) -> list[Row | BadRow]:
    """Every row of the file, in order, each checked; a ticket id seen on an earlier line is a
    bad row (which of the two is meant cannot be told). Raises FileError for the file."""
    seen: dict[str, int] = {}
    out: list[Row | BadRow] = []
    for row in _rows(path):
        if isinstance(row, Row) and (first := seen.setdefault(row.ticket_id, row.line)) != row.line:
            row = BadRow(row.line, row.ticket_id, f"ticket_id already on line {first}")
        out.append(row)
    return out


def _rows(path: Path) -> Iterator[Row | BadRow]:
    try:
        # utf-8-sig: a spreadsheet's export often starts with a byte-order mark.
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            header = _header(next(reader, None), path)
            line = reader.line_num + 1
            for cells in reader:
                # line_num is where the record ended; a quoted field may span lines.
                start, line = line, reader.line_num + 1
                if not any(cell.strip() for cell in cells):
                    continue  # blank lines, as spreadsheets leave at the end
                yield _row(start, header, cells)
    except OSError as exc:
        raise FileError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise FileError(f"{path} is not UTF-8 text") from None
    except csv.Error as exc:
        raise FileError(f"{path} is not a CSV file: {exc}") from None


def _header(cells: list[str] | None, path: Path) -> list[str]:
    if cells is None:
        raise FileError(f"{path} is empty: its first line names the columns")
    names = [cell.strip().lower() for cell in cells]
    if missing := [name for name in REQUIRED if name not in names]:
        raise FileError(f"{path} lacks the column(s) {', '.join(missing)}")
    if unknown := [name for name in names if name not in REQUIRED + OPTIONAL]:
        raise FileError(
            f"{path} has unknown column(s) {', '.join(map(repr, unknown))}; the columns are "
            f"{', '.join(REQUIRED + OPTIONAL)}"
        )
    if len(set(names)) != len(names):
        raise FileError(f"{path} names a column twice")
    return names


def _row(line: int, header: list[str], cells: list[str]) -> Row | BadRow:
    if len(cells) != len(header):
        at = header.index("ticket_id")
        ticket = cells[at].strip() if at < len(cells) else ""
        reason = f"{len(cells)} cells where the header has {len(header)}"
        return BadRow(line, ticket or None, reason)
    cell = {name: value.strip() for name, value in zip(header, cells, strict=True)}
    ticket_id = cell["ticket_id"]
    try:
        return _in_order(
            Row(
                line=line,
                ticket_id=_id(ticket_id, "ticket_id"),
                title=_title(cell["title"]),
                priority=_priority(cell["priority"]),
                customer_id=_id(cell["customer_id"], "customer_id"),
                opened_at=_time(cell["opened_at"], "opened_at"),
                responded_at=_optional_time(cell.get("responded_at"), "responded_at"),
                resolved_at=_optional_time(cell.get("resolved_at"), "resolved_at"),
                assignee=_id(cell["assignee"], "assignee") if cell.get("assignee") else None,
            )
        )
    except ValueError as exc:
        return BadRow(line, ticket_id or None, str(exc))


def _in_order(row: Row) -> Row:
    """Events happen in order: a reply before the ticket existed is a mistake in the file."""
    responded, resolved = row.responded_at, row.resolved_at
    if responded is not None and responded < row.opened_at:
        raise ValueError("responded_at is before opened_at")
    if resolved is not None and resolved < row.opened_at:
        raise ValueError("resolved_at is before opened_at")
    if responded is not None and resolved is not None and resolved < responded:
        raise ValueError("resolved_at is before responded_at")
    return row


def _id(value: str, column: str) -> str:
    if not value:
        raise ValueError(f"{column} is empty")
    if not _ID.fullmatch(value):
        raise ValueError(f"{column} {value!r} is not 1-64 characters of A-Z a-z 0-9 . _ -")
    return value


def _title(value: str) -> str:
    if not value:
        raise ValueError("title is empty")
    if len(value) > TITLE_LIMIT:
        raise ValueError(f"title is {len(value)} characters (at most {TITLE_LIMIT})")
    return value


def _priority(value: str) -> str:
    if value.upper() not in PRIORITIES:
        raise ValueError(f"priority {value!r} is not one of {', '.join(PRIORITIES)}")
    return value.upper()


def _time(value: str, column: str) -> datetime:
    if not value:
        raise ValueError(f"{column} is empty")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{column} {value!r} is not an ISO 8601 time like 2026-11-27T09:15:00+00:00"
        ) from None
    if at.tzinfo is None:
        # A time without an offset is some zone's local time, which only the file's author knows.
        raise ValueError(f"{column} {value!r} has no UTC offset (add +00:00 or Z)")
    return at


def _optional_time(value: str | None, column: str) -> datetime | None:
    return _time(value, column) if value else None
