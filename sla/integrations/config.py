"""The `integrations:` section of the config: which desks may send webhooks, their shared
secrets, and how their names (priorities, statuses, customers) map onto slaflow's."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sla.actions import ID_PATTERN
from sla.integrations.reading import at_path, name_of, safe_id
from sla.priorities import Priority


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerFrom(_Strict):
    """Whose ticket it is: a field of the desk's ticket (its value, or the value's name when it
    is an object, the first one of a list), else `default`. Written as a plain string, one
    fixed customer for every ticket."""

    # Jira: a key of `issue.fields` (`customfield_10010`, `reporter`); Zendesk: a key of the
    # template's `ticket` object (`organization`). Dotted for a value inside: `reporter.accountId`.
    field: str | None = Field(default=None, min_length=1, max_length=200)
    default: str = Field(default="unknown", pattern=ID_PATTERN)
    # A desk's names onto slaflow's customer ids ("Acme Corp": acme); a value not listed is
    # made an id as it is (letters, digits, `.`, `_`, `-`; anything else becomes `-`).
    values: dict[str, str] = {}

    @model_validator(mode="before")
    @classmethod
    def _fixed(cls, data: Any) -> Any:
        return {"default": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _ids(self) -> CustomerFrom:
        for name, customer in self.values.items():
            if not re.fullmatch(ID_PATTERN, customer):
                raise ValueError(f"values.{name}: {customer!r} is not a customer id")
        return self

    def of(self, ticket: dict[str, Any]) -> str:
        """The customer id of a desk's ticket (Jira: `issue.fields`; Zendesk: `ticket`)."""
        if self.field is None:
            return self.default
        value = name_of(at_path(ticket, self.field))
        if value is None:
            return self.default
        return self.values.get(value) or safe_id(value) or self.default


class Agents(_Strict):
    """Whose comment is an agent's response. With `group_field` null, anyone's but the
    reporter's (the requester's); with it, only an author whose value there (a dotted path in
    the comment, `author.accountType`) is one of `groups`, and never the reporter."""

    group_field: str | None = Field(default=None, min_length=1, max_length=200)
    groups: list[str] = []

    @model_validator(mode="after")
    def _groups_with_field(self) -> Agents:
        if self.group_field is not None and not self.groups:
            raise ValueError("group_field needs `groups`: the values that make an author an agent")
        return self


class DeskMapping(_Strict):
    """What Jira and Zendesk have in common: a secret, and their names onto slaflow's."""

    # The webhook's shared secret (Jira: the admin webhook's secret; Zendesk: the webhook's
    # signing secret). Never logged, never echoed.
    secret: str = Field(min_length=1, repr=False)
    # The desk's priority names (as its webhook body says them) onto slaflow's; a ticket whose
    # priority is not here is not opened (the delivery is recorded as ignored, with why).
    priorities: dict[str, Priority] = Field(min_length=1)
    customer: CustomerFrom = CustomerFrom()
    # Statuses that mean resolved (into one: resolve; out of one: reopen), and waiting on the
    # customer (into one: pause; out of one: resume). Compared without regard to case.
    resolved_statuses: list[str] = []
    waiting_statuses: list[str] = []
    agents: Agents = Agents()
    # Put before the desk's ticket id to make slaflow's (`ticket_prefix: "zd-"`: zd-4711).
    ticket_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9._-]{0,16}$")

    @model_validator(mode="after")
    def _disjoint(self) -> DeskMapping:
        both = {s.casefold() for s in self.resolved_statuses} & {
            s.casefold() for s in self.waiting_statuses
        }
        if both:
            raise ValueError(
                f"a status cannot be both resolved and waiting: {', '.join(sorted(both))}"
            )
        return self

    def resolved(self, status: str | None) -> bool:
        return status is not None and status.casefold() in {
            s.casefold() for s in self.resolved_statuses
        }

    def waiting(self, status: str | None) -> bool:
        return status is not None and status.casefold() in {
            s.casefold() for s in self.waiting_statuses
        }

    def priority(self, name: str | None) -> Priority | None:
        """slaflow's priority for the desk's name (exact, else without regard to case)."""
        if name is None:
            return self.priorities.get("")  # `"": P3`: what a ticket without one gets
        if name in self.priorities:
            return self.priorities[name]
        folded = {k.casefold(): v for k, v in self.priorities.items()}
        return folded.get(name.casefold())


class JiraMapping(DeskMapping):
    pass


class ZendeskMapping(DeskMapping):
    # A Zendesk ticket id is a bare number: prefixed, it cannot take another desk's id.
    ticket_prefix: str = Field(default="zendesk-", pattern=r"^[A-Za-z0-9._-]{0,16}$")


class IntegrationsConfig(_Strict):
    """Desks that may send their webhooks to `POST /integrations/{desk}`; one not configured
    answers 404 there."""

    jira: JiraMapping | None = None
    zendesk: ZendeskMapping | None = None
