"""Jira Service Management in: what Jira's own webhook bodies mean for slaflow's tickets.

- `jira:issue_created` opens ticket `{issue.key}` at `fields.created`.
- `comment_created` (and an `issue_updated` that carries a comment, as Jira Server sends it)
  is a response at the comment's `created`, when its author is not the reporter (and is an
  agent by `agents.group_field`, when set); a JSM internal note (`jsdPublic: false`) is not.
- `jira:issue_updated` with a `changelog`: a status into a resolved status resolves, out of one
  reopens, into a waiting status pauses, out of one resumes; a priority change is a priority
  change; all at the event's `timestamp`.

Each action's request id comes from the delivery's identifier (a comment's, from the comment's
id, so the same comment heard twice responds once): a retried delivery applies once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sla.actions import (
    TEXT_LIMIT,
    Action,
    ChangeTicket,
    Pause,
    Reopen,
    Resolve,
    Respond,
    Resume,
    kind_of,
)
from sla.integrations.config import JiraMapping
from sla.integrations.reading import (
    TITLE_LIMIT,
    Opening,
    Reading,
    Step,
    at_path,
    event_time,
    name_of,
    obj,
    safe_id,
    text,
)

SENT_BY = "jira"
CREATED = "jira:issue_created"
UPDATED = "jira:issue_updated"
COMMENTED = "comment_created"


def user_id(user: object) -> str | None:
    """A Jira user's id in slaflow's alphabet: Cloud's `accountId`, else Server's key or name."""
    found = obj(user)
    for key in ("accountId", "key", "name"):
        if (value := safe_id(found.get(key))) is not None:
            return value
    return None


def reporter_of(issue: dict[str, Any]) -> str | None:
    fields = obj(issue.get("fields"))
    return user_id(fields.get("reporter"))


def read_jira(
    body: dict[str, Any], mapping: JiraMapping, delivery: str, reporter: str | None = None
) -> Reading:
    """What a Jira delivery asks for; `delivery` is its idempotency key, `reporter` the
    reporter slaflow remembers for the issue (comment bodies may not carry one)."""
    event = name_of(body.get("webhookEvent")) or "(no webhookEvent)"
    reading = Reading(event=event)
    issue = obj(body.get("issue"))
    key = safe_id(issue.get("key"))
    if key is None or (ticket_id := safe_id(mapping.ticket_prefix + key)) is None:
        return reading.ignore("the body names no issue (issue.key)")
    reading.ticket_id = ticket_id
    reading.reporter = reporter_of(issue) or reporter
    if event == CREATED:
        return _created(reading, body, issue, mapping)
    if event == COMMENTED:
        return _commented(reading, body, mapping, delivery)
    if event == UPDATED:
        _changed(reading, body, mapping, delivery)
        if body.get("issue_event_type_name") == "issue_commented" and body.get("comment"):
            _commented(reading, body, mapping, delivery)
        if not reading.steps and not reading.notes:
            reading.ignore("no change slaflow follows (status, priority) in the changelog")
        return reading
    return reading.ignore(f"{event} is not an event slaflow follows")


def _created(
    reading: Reading, body: dict[str, Any], issue: dict[str, Any], mapping: JiraMapping
) -> Reading:
    assert reading.ticket_id is not None
    fields = obj(issue.get("fields"))
    at = event_time(fields.get("created")) or event_time(body.get("timestamp"))
    reading.at = at
    if at is None:
        return reading.ignore("the issue has no creation time (fields.created)")
    name = name_of(fields.get("priority"))
    priority = mapping.priority(name)
    if priority is None:
        shown = "no priority" if name is None else f"priority {name!r}"
        return reading.ignore(f"{shown} is not in integrations.jira.priorities")
    reporter = reading.reporter or user_id(fields.get("creator")) or user_id(body.get("user"))
    reading.reporter = reporter
    opening = Opening(
        ticket_id=reading.ticket_id,
        title=text(fields.get("summary"), TITLE_LIMIT) or reading.ticket_id,
        priority=priority,
        customer_id=mapping.customer.of(fields),
        description=text(fields.get("description"), TEXT_LIMIT),
        at=at,
        reporter=reporter,
    )
    reading.steps.append(Step(reading.ticket_id, opening))
    return reading


def _commented(
    reading: Reading, body: dict[str, Any], mapping: JiraMapping, delivery: str
) -> Reading:
    assert reading.ticket_id is not None
    comment = obj(body.get("comment"))
    at = event_time(comment.get("created")) or event_time(body.get("timestamp"))
    reading.at = reading.at or at
    author = user_id(comment.get("author"))
    if at is None:
        return reading.ignore("the comment has no time (comment.created)")
    if comment.get("jsdPublic") is False:
        return reading.ignore("an internal comment is not a response to the customer")
    agents = mapping.agents
    if agents.group_field is not None:
        group = name_of(at_path(comment, agents.group_field))
        if group not in agents.groups:
            return reading.ignore(
                f"the comment's author is not an agent ({agents.group_field}: {group!r})"
            )
    elif reading.reporter is None:
        return reading.ignore(
            "the issue's reporter is unknown (its creation was not received), so a customer's "
            "comment cannot be told from an agent's"
        )
    if author is not None and author == reading.reporter:
        return reading.ignore("a comment by the reporter is not a response")
    comment_id = safe_id(comment.get("id"))
    request = f"comment:{comment_id}" if comment_id else f"{delivery}:respond"
    message = f"Jira comment {comment_id}" if comment_id else "Jira comment"
    respond = Respond(agent_id=author or SENT_BY, message=message, **_sent(request, at))
    reading.steps.append(Step(reading.ticket_id, respond))
    return reading


def _changed(reading: Reading, body: dict[str, Any], mapping: JiraMapping, delivery: str) -> None:
    assert reading.ticket_id is not None
    items = obj(body.get("changelog")).get("items")
    if not isinstance(items, list) or not items:
        return
    fields = obj(obj(body.get("issue")).get("fields"))
    at = event_time(body.get("timestamp")) or event_time(fields.get("updated"))
    reading.at = at
    who = user_id(body.get("user")) or SENT_BY
    actions: list[Action] = []
    for item in map(obj, items):
        field = item.get("fieldId") or item.get("field")
        if field == "status":
            before, after = name_of(item.get("fromString")), name_of(item.get("toString"))
            actions += _transition(before, after, who, mapping)
        elif field == "priority":
            name = name_of(item.get("toString"))
            if (priority := mapping.priority(name)) is None:
                reading.ignore(f"priority {name!r} is not in integrations.jira.priorities")
            elif priority is not mapping.priority(name_of(item.get("fromString"))):
                actions.append(ChangeTicket(priority=priority, actor=who))
            else:  # Minor -> Trivial, say, both P3: the ticket would refuse "nothing to change"
                reading.ignore(f"priority {name!r} is {priority.value}, as before")
    if actions and at is None:
        reading.ignore("the change has no time (timestamp)")
        return
    for action in actions:
        dated = action.model_copy(update=_sent(f"{delivery}:{kind_of(action).name}", at))
        reading.steps.append(Step(reading.ticket_id, dated))


def _transition(before: str | None, after: str | None, who: str, m: JiraMapping) -> list[Action]:
    """A status change's actions, in the order the ticket takes them."""
    how = f"Jira status {before or '?'} -> {after or '?'}"
    if m.resolved(after) and not m.resolved(before):
        return [Resolve(agent_id=who)]
    actions: list[Action] = []
    if m.resolved(before) and not m.resolved(after):
        actions.append(Reopen(reason=how, actor=who))
    if m.waiting(after) and not m.waiting(before):
        actions.append(Pause(reason=how, actor=who))
    elif m.waiting(before) and not m.waiting(after):
        actions.append(Resume(actor=who))
    return actions


def _sent(request: str, at: datetime | None) -> dict[str, Any]:
    return {"request_id": f"{SENT_BY}:{request}", "sent_by": SENT_BY, "at": at}
