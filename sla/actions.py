"""What agents and customers do to a ticket: the payloads of the workflow's Updates and Signals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sla.priorities import Priority

# Ids become parts of workflow ids and idempotency keys: keep them to a safe alphabet.
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
TEXT_LIMIT = 10_000


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Lets a producer retry an action (by Update or Signal) without it taking effect twice.
    request_id: str | None = Field(default=None, max_length=128)


class Respond(Action):
    agent_id: str = Field(pattern=ID_PATTERN)
    message: str | None = Field(default=None, max_length=TEXT_LIMIT)


class Resolve(Action):
    agent_id: str = Field(pattern=ID_PATTERN)
    resolution: str | None = Field(default=None, max_length=TEXT_LIMIT)


class Close(Action):
    actor: str | None = Field(default=None, pattern=ID_PATTERN)


class Pause(Action):
    reason: str = Field(min_length=1, max_length=TEXT_LIMIT)
    actor: str | None = Field(default=None, pattern=ID_PATTERN)


class Resume(Action):
    actor: str | None = Field(default=None, pattern=ID_PATTERN)


class Reopen(Action):
    reason: str | None = Field(default=None, max_length=TEXT_LIMIT)
    actor: str | None = Field(default=None, pattern=ID_PATTERN)


class ChangeTicket(Action):
    """Triage: a new priority, a new assignee, or both."""

    priority: Priority | None = None
    assignee: str | None = Field(default=None, pattern=ID_PATTERN)
    actor: str | None = Field(default=None, pattern=ID_PATTERN)


class Comment(Action):
    author: str = Field(pattern=ID_PATTERN)
    body: str = Field(min_length=1, max_length=TEXT_LIMIT)


class ActionRejected(Exception):
    """The ticket's state does not allow this action; the message says why."""
