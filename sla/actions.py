"""What agents and customers do to a ticket: each action's payload, and the one registry of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sla.priorities import Priority

if TYPE_CHECKING:
    from sla.policy import PolicySnapshot

# Ids become parts of workflow ids and idempotency keys: keep them to a safe alphabet.
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
TEXT_LIMIT = 10_000
# An action's request id; the API's Idempotency-Key header becomes one, so both share it.
REQUEST_ID_LIMIT = 255
RATING_COMMENT_LIMIT = 2_000


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Lets a producer retry an action (by Update or Signal) without it taking effect twice.
    request_id: str | None = Field(default=None, max_length=REQUEST_ID_LIMIT)
    # The API key that sent it, set by the API alone (never from a body): an admin acting for
    # the agent its body names shows on the timeline as "ops for alice" (docs/api.md, "Access").
    sent_by: str | None = Field(default=None, pattern=ID_PATTERN)
    # When it really happened in the desk it came from (a help desk's webhook arrives late, a
    # backfill is days late): the clocks stop and start at this time, not when slaflow heard
    # of it. Only admin and integration keys send it; never before the ticket's last recorded
    # event (docs/api.md, "Event times").
    at: AwareDatetime | None = Field(
        default=None,
        description=(
            "when it happened in the source system (ISO 8601 with offset; admin and "
            "integration keys only): at most 30 days back, not before the ticket's last "
            "recorded event, not in the future"
        ),
    )


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
    # A note among staff: never shown to the customer (and a customer cannot write one).
    internal: bool = False


class Rate(Action):
    """The customer's rating of the ticket's current resolution cycle (sla/quality.py)."""

    score: int = Field(ge=1, le=5, description="1 (very unhappy) to 5 (very happy)")
    comment: str | None = Field(default=None, max_length=RATING_COMMENT_LIMIT)
    # Who gave it: the customer (a customer key's name), or staff recording it for them.
    by: str | None = Field(default=None, pattern=ID_PATTERN)


class Repair(Action):
    """The ticket's promise re-resolved from the config in force (a config that was wrong when
    it opened): the policy swapped, each running clock's due time computed again from its start
    under the new targets and calendar. A breach that happened stays."""

    # The policy asked for; None: the customer's, as the config has it now.
    policy: str | None = Field(default=None, pattern=ID_PATTERN)
    reason: str = Field(min_length=1, max_length=TEXT_LIMIT)
    actor: str | None = Field(default=None, pattern=ID_PATTERN)
    # The policy resolved for this ticket from the config in force, by the API (or a bulk
    # repair's activity), never sent by a caller: it is in the ticket's history and journal.
    # sla.policy imports this module (through sla.notifications): it completes the model once
    # PolicySnapshot exists, and no snapshot can be made without it.
    snapshot: PolicySnapshot


class ActionRejected(Exception):
    """The ticket's state does not allow this action; the message says why (409)."""


class ActionInvalid(ActionRejected):
    """The action is malformed for this ticket's policy, whatever its state (422): a resolve
    without the resolution note the policy requires."""


A = TypeVar("A", bound=Action)


@dataclass(frozen=True)
class ActionKind(Generic[A]):
    """One thing people do to a ticket, declared once: the rules (sla/ticket.py), the workflow's
    handlers, the API's routes and the access check all read it from `ACTIONS`."""

    # The Update's and the Signal's name in Temporal: saved histories, running tickets and the
    # stock `temporal workflow update` CLI depend on it, so it never changes.
    name: str
    model: type[A]
    # Where the API takes it: `POST /tickets/{id}{path}` (or PATCH), the body optional when
    # the action needs nothing from the caller.
    path: str
    method: Literal["POST", "PATCH"] = "POST"
    body_required: bool = True
    # Who may do it: staff (admin and agent keys) always; a customer key only where this names
    # the field its identity is stamped into (a customer speaks for itself, on its own ticket).
    customer_field: str | None = None
    # The field naming who does it, where a key's name goes (docs/api.md, "Access"); when not
    # given, `customer_field`, else `actor`.
    actor_field: str | None = None
    # Fields only staff may set: a customer key that sets one is refused (403).
    staff_fields: tuple[str, ...] = ()
    # Admin keys only: a change of the promise itself, not work on the ticket.
    admin_only: bool = False
    # Fields the API fills in from the config in force, never from a body: such an action has
    # a route of its own (api/routes/repairs.py), which resolves them.
    edge_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.body_required:
            self.model()  # a bodiless request must make a valid action: fails at import if not

    @property
    def actor(self) -> str | None:
        """The field naming who does it, if the action has one."""
        field = self.actor_field or self.customer_field or "actor"
        return field if field in self.model.model_fields else None


ACTIONS: tuple[ActionKind[Any], ...] = (
    ActionKind("respond", Respond, "/respond", actor_field="agent_id"),
    ActionKind("resolve", Resolve, "/resolve", actor_field="agent_id"),
    ActionKind("close", Close, "/close", body_required=False),
    ActionKind("pause", Pause, "/pause"),
    ActionKind("resume", Resume, "/resume", body_required=False),
    ActionKind("reopen", Reopen, "/reopen", body_required=False, customer_field="actor"),
    ActionKind("change", ChangeTicket, "", method="PATCH"),
    ActionKind(
        "comment", Comment, "/comments", customer_field="author", staff_fields=("internal",)
    ),
    ActionKind("rate", Rate, "/rating", customer_field="by"),
    ActionKind("repair", Repair, "/repair", admin_only=True, edge_fields=("snapshot",)),
)
_KINDS: dict[type[Action], ActionKind[Any]] = {kind.model: kind for kind in ACTIONS}


_NAMED: dict[str, ActionKind[Any]] = {kind.name: kind for kind in ACTIONS}


def kind_of(action: A) -> ActionKind[A]:
    """The registry entry of an action: its Temporal name, route and who may do it."""
    return _KINDS[type(action)]


def kind_named(name: str) -> ActionKind[Any] | None:
    """The registry entry of a Temporal name, if there is one."""
    return _NAMED.get(name)


# A ticket's opening carries at most this many past actions (a backfill of its story).
PAST_LIMIT = 100


class PastAction(BaseModel):
    """An action that already happened in the source desk when the ticket reaches slaflow (a
    backfill): sent with the opening, applied in order, at its time, before any deadline is
    checked, so its verdicts are those of what happened, not a race with the catch-up."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    at: AwareDatetime
    action: dict[str, Any]

    @classmethod
    def of(cls, action: Action) -> PastAction:
        assert action.at is not None, "a past action is dated"
        payload = action.model_dump(mode="json", exclude_none=True)
        return cls(kind=kind_of(action).name, at=action.at, action=payload)

    def parsed(self) -> Action:
        kind = kind_named(self.kind)
        if kind is None:
            raise ValueError(f"no action {self.kind!r}")
        action: Action = kind.model.model_validate(self.action)
        return action
