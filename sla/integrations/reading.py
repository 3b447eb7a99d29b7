"""What one delivery of a desk's webhook asks of slaflow: the operations, in order, each dated
when it happened in the desk, or why there is nothing to do. And the small readers both desks'
bodies need: ids made safe, times with offsets, names out of values."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sla.actions import ID_PATTERN, TEXT_LIMIT, Action, kind_of
from sla.priorities import Priority

TITLE_LIMIT = 200
_NOT_ID = re.compile(r"[^A-Za-z0-9._-]+")
_ID = re.compile(ID_PATTERN)


class Opening(BaseModel):
    """Open a ticket, as `POST /tickets` would with `at`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ticket_id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1, max_length=TITLE_LIMIT)
    priority: Priority
    customer_id: str = Field(pattern=ID_PATTERN)
    description: str | None = Field(default=None, max_length=TEXT_LIMIT)
    at: datetime
    # The desk's reporter (requester), whose comments are not responses: kept with the
    # delivery, since a desk's later comment bodies may not say who reported the ticket.
    reporter: str | None = None


@dataclass(frozen=True)
class Step:
    """One operation on one ticket: an opening, or an action (with its `at` and request id)."""

    ticket_id: str
    do: Opening | Action

    @property
    def name(self) -> str:
        return "open" if isinstance(self.do, Opening) else kind_of(self.do).name

    @property
    def at(self) -> datetime | None:
        return self.do.at


@dataclass
class Reading:
    """A delivery read: its event, the ticket it is about, the steps it asks for, and what of
    it was passed over and why (`notes`). No steps and a note: the delivery is ignored."""

    event: str
    ticket_id: str | None = None
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # When the event happened in the desk (its first step's time, else the body's).
    at: datetime | None = None
    reporter: str | None = None

    def ignore(self, why: str) -> Reading:
        self.notes.append(why)
        return self


def safe_id(value: object, limit: int = 64) -> str | None:
    """A desk's id in slaflow's id alphabet: other characters become `-` (a Jira account id
    `557058:b2e1...` is `557058-b2e1...`); one too long keeps its start and a hash of all."""
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    text = _NOT_ID.sub("-", str(value).strip()).strip("-")
    if not text:
        return None
    if len(text) > limit:
        digest = hashlib.sha256(str(value).encode()).hexdigest()[:16]
        text = f"{text[: limit - 17]}-{digest}"
    return text if _ID.fullmatch(text) else None


def event_time(value: object) -> datetime | None:
    """An ISO 8601 time with an offset (`2009-12-16T23:46:10.612-0600`, `2021-03-25T05:09Z`),
    or epoch milliseconds (Jira's `timestamp`); None for anything else, a time without an
    offset included (whose zone would be a guess)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            return None
        return parsed
    return None


def name_of(value: object) -> str | None:
    """A field's value as a name: a string as it is, a number as text, an object's `name`,
    `value`, `key` or `id`, a list's first value."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        for key in ("name", "value", "key", "id"):
            if (found := name_of(value.get(key))) is not None:
                return found
        return None
    if isinstance(value, list):
        return name_of(value[0]) if value else None
    return None


def at_path(data: object, path: str) -> object:
    """`data`'s value at a dotted path (`author.accountType`); None where there is none."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit]


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
