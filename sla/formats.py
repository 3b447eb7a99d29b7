"""A webhook's body as its receiver reads it: slaflow's own event (`standard`), a Slack
incoming-webhook message, a Microsoft Teams Adaptive Card (for a Workflows webhook), or a
PagerDuty Events API v2 event. Pure functions of the event, the link base and the target."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from sla.durations import format_duration
from sla.notifications import Event, WebhookTarget

# Block Kit's limits: a header's plain text, a section's text, a field's text, fields per
# section (docs.slack.dev, reference/block-kit).
SLACK_HEADER = 150
SLACK_TEXT = 3000
SLACK_FIELD = 2000
SLACK_FIELDS = 10
# Adaptive Cards: the schema version Teams renders everywhere, web, desktop and mobile.
CARD_VERSION = "1.4"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
# PagerDuty's limits: payload.summary, dedup_key.
PAGERDUTY_SUMMARY = 1024
PAGERDUTY_DEDUP_KEY = 255
# Free text (a comment, a resolution note) is cut here: a card stays far below Teams' 28 KB.
FACT_LIMIT = 1000

SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning"}
# PagerDuty's three actions; a breach and each escalation level trigger the ticket's incident.
PAGERDUTY_ACTIONS = {
    "breach": "trigger",
    "escalation": "trigger",
    "responded": "acknowledge",
    "resolved": "resolve",
    # Paging no one: a resolve for an incident that never was checks the key and the body.
    "test": "resolve",
}

# When two of a ticket's events share a time, the later word: a resolve ends what an
# acknowledge or a trigger of the same instant said.
_LATER = {"trigger": 0, "acknowledge": 1, "resolve": 2}


class CannotSay(ValueError):
    """The target's format has no way to say this event (a warning to PagerDuty)."""


@dataclass(frozen=True)
class Message:
    """What a person reads, whichever the service: a title, a sentence, facts, a link."""

    title: str
    text: str
    facts: list[tuple[str, str]]
    link: str | None  # absolute; None without a link base
    link_text: str
    tone: Literal["alert", "good", "plain"]


def body(hook: WebhookTarget, event: Event, link_base: str | None) -> bytes:
    """The exact bytes sent (and signed, with a secret): ASCII JSON."""
    if hook.format == "standard":
        return event.body()
    if hook.format == "slack":
        content = slack(event, link_base)
    elif hook.format == "teams":
        content = teams(event, link_base)
    else:
        assert hook.routing_key is not None  # config validation: pagerduty needs one
        content = pagerduty(event, hook.routing_key, link_base)
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode("ascii")


def slack(event: Event, link_base: str | None) -> dict[str, Any]:
    """An incoming-webhook message: `text` (the notification, and what clients without blocks
    show) and `blocks`: a header, the sentence with its link, the facts, the event's id."""
    message = describe(event, link_base)
    line = _mrkdwn(message.text, SLACK_TEXT - 200)
    if message.link:
        line += f"\n<{message.link}|{_mrkdwn(message.link_text, 100)}>"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(message.title, SLACK_HEADER)},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": line}},
    ]
    if message.facts:
        fields = [
            {
                "type": "mrkdwn",
                "text": f"*{_mrkdwn(name, 100)}*\n{_mrkdwn(value, SLACK_FIELD - 110)}",
            }
            for name, value in message.facts[:SLACK_FIELDS]
        ]
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _footer(event)}]})
    return {"text": line, "blocks": blocks}


def teams(event: Event, link_base: str | None) -> dict[str, Any]:
    """A message with one Adaptive Card, as a Teams Workflows webhook ("Post to a channel when
    a webhook request is received") posts it: title, sentence, facts, a button to the ticket."""
    message = describe(event, link_base)
    color = {"alert": "Attention", "good": "Good", "plain": "Default"}[message.tone]
    card_body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.title,
            "weight": "Bolder",
            "size": "Medium",
            "color": color,
            "wrap": True,
        },
        {"type": "TextBlock", "text": message.text, "wrap": True},
    ]
    if message.facts:
        facts = [{"title": name, "value": value} for name, value in message.facts]
        card_body.append({"type": "FactSet", "facts": facts})
    card_body.append(
        {
            "type": "TextBlock",
            "text": _footer(event),
            "isSubtle": True,
            "size": "Small",
            "wrap": True,
        }
    )
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": card_body,
        "msteams": {"width": "Full"},
    }
    if message.link:
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": message.link_text, "url": message.link}
        ]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
    }


def pagerduty(event: Event, routing_key: str, link_base: str | None) -> dict[str, Any]:
    """An Events API v2 event: the ticket is one incident (`dedup_key` its id), triggered by a
    breach or an escalation, acknowledged by the first response, resolved with the ticket."""
    action = PAGERDUTY_ACTIONS.get(event.type)
    if action is None:
        raise CannotSay(f"PagerDuty has no way to say a {event.type} event")
    key = event.ticket_id or f"slaflow-test-{event.id}"
    content: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": key[:PAGERDUTY_DEDUP_KEY],
    }
    if action != "trigger":
        return content  # acknowledge and resolve name the incident only
    message = describe(event, link_base)
    data = event.data
    content["payload"] = {
        "summary": _clip(message.text, PAGERDUTY_SUMMARY),
        "source": _host(link_base) or "slaflow",
        "severity": SEVERITY.get(str(data.get("priority")), "error"),
        "timestamp": _iso(event.at),
        "component": f"{data.get('metric', 'sla')} SLA",
        "group": str(data.get("customer_id") or "slaflow"),
        "class": f"sla {event.type}",
        "custom_details": {name.lower(): value for name, value in message.facts}
        | {"event id": event.id},
    }
    content["client"] = "slaflow"
    if link_base and message.link:
        content["client_url"] = link_base
        content["links"] = [{"href": message.link, "text": message.link_text}]
    return content


def pagerduty_last_word(sent: Event, said: Iterable[Event]) -> Event | None:
    """What PagerDuty must hear again once `sent` has triggered its ticket's incident, if
    anything: the latest of the ticket's events to the same target (`said`), when it is later
    than `sent` and not a trigger itself.

    Each event is a delivery of its own, so while a trigger is being retried (PagerDuty down,
    throttling) the ticket's acknowledge or resolve, made later, may get there first; PagerDuty
    drops an acknowledge or a resolve for a key without an open incident, and the late trigger
    then opens an incident that nothing would ever acknowledge or resolve. Sent again after the
    trigger, that last word leaves the incident as slaflow last said. None when `sent` is no
    trigger, or the ticket's last word is `sent` or another trigger (a reopened ticket that
    breached again: its new incident stays open)."""
    if PAGERDUTY_ACTIONS.get(sent.type) != "trigger" or sent.ticket_id is None:
        return None

    def when(event: Event) -> tuple[datetime, int]:
        return event.at, _LATER[PAGERDUTY_ACTIONS[event.type]]

    mine = [
        event
        for event in said
        if event.ticket_id == sent.ticket_id and event.type in PAGERDUTY_ACTIONS
    ]
    if not mine:
        return None
    last = max(mine, key=when)
    if when(last) <= when(sent) or PAGERDUTY_ACTIONS[last.type] == "trigger":
        return None
    return last


def describe(event: Event, link_base: str | None) -> Message:
    """The event in the support desk's words: what happened to which ticket, and how late."""
    data, ticket = event.data, event.ticket_id or ""
    clock = str(data.get("metric") or "")
    priority, customer = _text(data.get("priority")), _text(data.get("customer_id"))
    at = _when(event.at)
    who = f"{priority} ticket {ticket}" + (f" ({customer})" if customer else "")
    facts: list[tuple[str, str]] = [("Ticket", ticket), ("Priority", priority)]
    if customer:
        facts.append(("Customer", customer))
    if clock:
        facts.append(("Clock", clock))
    tone: Literal["alert", "good", "plain"] = "plain"
    kind = event.type
    if kind == "warning":
        used = _percent(data.get("fraction"))
        title = f"{clock.capitalize()} SLA {used} used on {ticket}"
        text = f"{who}: {used} of its {clock} target is used, at {at}."
        facts.append(("Used", used))
    elif kind == "breach":
        tone = "alert"
        title = f"{clock.capitalize()} SLA breached on {ticket}"
        text = f"{who}: the {clock} target ran out at {at}."
        facts.append(("Late since", at))
    elif kind == "escalation":
        tone = "alert"
        level, notify = _text(data.get("level")), ", ".join(map(str, _list(data.get("notify"))))
        breached = _breached_at(event)
        late = format_duration(event.at - breached) if breached else None
        title = f"Escalation level {level} on {ticket}: {clock} SLA " + (
            f"{late} late" if late else "breached"
        )
        text = f"{who}: escalated to level {level}" + (f" ({notify})" if notify else "")
        if breached and late:
            text += f", its {clock} target {late} past, breached at {_when(breached)}."
            facts += [("Level", level), ("Late by", f"{late} (since {_when(breached)})")]
        else:
            text += f", its {clock} target breached."
            facts.append(("Level", level))
        if notify:
            facts.append(("Notified", notify))
    elif kind == "penalty":
        tone = "alert"
        credit = _amount(data)
        title = f"Credit of {credit} for {ticket}"
        text = f"{who}: its {clock} breach credits the customer {credit}."
        facts.append(("Credit", credit))
    elif kind == "reward":
        tone = "good"
        reward = _amount(data)
        title = f"Reward earned on {ticket}"
        text = f"{who}: resolved well within its target, earning {reward}."
        facts.append(("Reward", reward))
    elif kind == "resolved":
        tone = "good"
        title = f"{ticket} resolved"
        text = f"{who} was resolved at {at}."
        facts.append(("Resolved at", at))
    elif kind == "responded":
        tone = "good"
        title = f"{ticket} answered"
        text = f"{who} had its first response at {at}."
        facts.append(("Responded at", at))
    elif kind == "survey":
        title = f"Survey sent for {ticket}"
        text = f"{who}: the customer is asked to rate the resolution."
        if note := _text(data.get("resolution")):
            facts.append(("Resolution", _clip(note, FACT_LIMIT)))
    elif kind == "follow_up":
        title = f"Follow-up due on {ticket}"
        text = f"{who}: resolved without a rating or a reopen; time to follow up."
        if assignee := _text(data.get("assignee")):
            facts.append(("Assignee", assignee))
    elif kind == "rating":
        score = _text(data.get("score"))
        tone = "good" if score in ("4", "5") else "alert"
        title = f"{ticket} rated {score}/5"
        text = f"{who} was rated {score} out of 5."
        facts.append(("Score", f"{score}/5"))
        if comment := _text(data.get("comment")):
            facts.append(("Comment", _clip(comment, FACT_LIMIT)))
    elif kind == "statement":
        month, total = _text(data.get("month")), _text(data.get("credit_total"))
        credits = f"{total} {_text(data.get('currency'))}".strip()
        title = f"Statement for {customer}, {month}"
        text = f"The {month} statement of {customer} is closed: credits {credits}."
        facts = [("Customer", customer), ("Month", month), ("Credits", credits)]
        if data.get("credit_capped"):
            facts.append(("Capped", "yes, at the monthly cap"))
    else:  # test
        title = "slaflow test"
        text = f"A test from slaflow at {at}: this target gets slaflow's notifications."
        facts = []
    return Message(
        title=title,
        text=text,
        facts=[(name, value) for name, value in facts if value],
        link=_link(event, link_base),
        link_text=f"Open {ticket}" if ticket else "Open the statement",
        tone=tone,
    )


def _link(event: Event, base: str | None) -> str | None:
    """The board's page of the ticket, or the customer's statement; only with a link base: a
    chat message or an incident has nowhere a relative link could point."""
    if base is None:
        return None
    if event.ticket_id is not None:
        return f"{base}/board/tickets/{quote(event.ticket_id)}"
    customer, month = event.data.get("customer_id"), event.data.get("month")
    if isinstance(customer, str) and isinstance(month, str):
        return f"{base}/customers/{quote(customer)}/statement?month={quote(month)}"
    return None


def _breached_at(event: Event) -> datetime | None:
    value = event.data.get("breached_at")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return None


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _percent(value: object) -> str:
    return f"{round(value * 100)}%" if isinstance(value, int | float) else "part"


def _amount(data: dict[str, Any]) -> str:
    amount, unit = _text(data.get("amount")), _text(data.get("unit"))
    if unit == "percent":
        return f"{amount}% of the monthly fee"
    return f"{amount} {unit}".strip()


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _host(base: str | None) -> str | None:
    return urlsplit(base).hostname if base else None


def _footer(event: Event) -> str:
    return f"slaflow {event.type} event {event.id}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


_ENTITY_TAIL = re.compile(r"&[a-z]*$")


def _mrkdwn(text: str, limit: int) -> str:
    """Slack's control characters escaped (its three entities), at most `limit` long, with no
    entity cut in half."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if len(escaped) <= limit:
        return escaped
    return _ENTITY_TAIL.sub("", escaped[: limit - 1]) + "…"
