"""The bodies of Slack, Teams and PagerDuty webhooks (sla/formats.py), checked the way each
service documents them (tests/support/services.py), for every event each can say."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sla import formats
from sla.notifications import ALL_EVENTS, PAGERDUTY_EVENTS, Event, WebhookTarget, event_id
from tests.support.services import PagerDuty, Slack, Teams

AT = datetime(2026, 11, 27, 9, 15, tzinfo=UTC)
BASE = "https://slaflow.example.com"
KEY = "R0123456789abcdef0123456789ABCDE"
TICKET = {"customer_id": "acme", "priority": "P1", "metric": "response", "cycle": 1}
DATA: dict[str, dict[str, Any]] = {
    "warning": TICKET | {"fraction": 0.75},
    "breach": TICKET | {"amount": "200.00", "unit": "EUR", "percent": "2"},
    "escalation": TICKET
    | {"level": 2, "notify": ["team-lead"], "breached_at": "2026-11-27T08:15:00Z"},
    "penalty": TICKET | {"amount": "200.00", "unit": "EUR", "percent": "2"},
    "reward": TICKET | {"metric": "resolution", "amount": "0.5", "unit": "support_hours"},
    "resolved": TICKET | {"metric": "resolution"},
    "responded": TICKET,
    "survey": TICKET
    | {"resolution": "restarted the sync job", "link": f"{BASE}/board/tickets/T-1"},
    "follow_up": TICKET | {"assignee": "alice"},
    "rating": TICKET | {"score": 2, "comment": "slow"},
    "statement": {
        "customer_id": "acme",
        "month": "2026-11",
        "credit_total": "250.00",
        "currency": "EUR",
        "credit_capped": False,
    },
    "test": {"message": "a test event from slaflow"},
}


def event(kind: str, **data: Any) -> Event:
    ticket = None if kind in ("statement", "test") else "T-1"
    return Event(
        id=event_id(f"T-1:{kind}"),
        type=kind,
        ticket_id=ticket,
        at=AT,
        data=DATA[kind] | data,
    )


def test_every_event_type_has_an_example() -> None:
    assert set(DATA) == set(ALL_EVENTS)


@pytest.mark.parametrize("base", [BASE, None], ids=["linked", "no-link-base"])
@pytest.mark.parametrize("kind", ALL_EVENTS)
def test_slack_and_teams_bodies_are_well_formed_for_every_event(
    kind: str, base: str | None
) -> None:
    assert Slack.problems(formats.slack(event(kind), base)) == []
    teams = formats.teams(event(kind), base)
    assert Teams.problems(teams, len(json.dumps(teams))) == []


@pytest.mark.parametrize("base", [BASE, None], ids=["linked", "no-link-base"])
@pytest.mark.parametrize("kind", [*PAGERDUTY_EVENTS, "test"])
def test_pagerduty_bodies_are_well_formed_for_every_event_it_can_say(
    kind: str, base: str | None
) -> None:
    assert PagerDuty.problems(formats.pagerduty(event(kind), KEY, base)) == []


def test_a_slack_breach_says_ticket_priority_clock_since_when_and_links_the_board() -> None:
    message = formats.slack(event("breach"), BASE)
    blocks = message["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Response SLA breached on T-1"},
    }
    link = f"<{BASE}/board/tickets/T-1|Open T-1>"
    assert link in message["text"] and link in blocks[1]["text"]["text"]
    assert "P1 ticket T-1 (acme)" in message["text"]
    fields = [f["text"] for f in blocks[2]["fields"]]
    assert fields[:4] == [
        "*Ticket*\nT-1",
        "*Priority*\nP1",
        "*Customer*\nacme",
        "*Clock*\nresponse",
    ]
    assert "*Late since*\n2026-11-27 09:15 UTC" in fields
    assert event("breach").id in blocks[-1]["elements"][0]["text"]


def test_an_escalation_says_how_late_from_the_breach_it_carries() -> None:
    described = formats.describe(event("escalation"), BASE)
    assert described.title == "Escalation level 2 on T-1: response SLA 1h late"
    assert ("Late by", "1h (since 2026-11-27 08:15 UTC)") in described.facts
    assert ("Notified", "team-lead") in described.facts
    # An escalation recorded before its events carried `breached_at` still reads well.
    older = formats.describe(event("escalation", breached_at=None), BASE)
    assert older.title == "Escalation level 2 on T-1: response SLA breached"


def test_slack_text_escapes_its_control_characters_and_keeps_a_link_whole() -> None:
    rated = event("rating", comment="<b>slow</b> & <!channel> rude")
    message = formats.slack(rated, BASE)
    comment = next(f["text"] for f in message["blocks"][2]["fields"] if "Comment" in f["text"])
    assert comment == "*Comment*\n&lt;b&gt;slow&lt;/b&gt; &amp; &lt;!channel&gt; rude"
    assert Slack.problems(message) == []


def test_long_free_text_is_cut_within_every_limit() -> None:
    long = event("rating", comment="x&" * 5000)
    slack = formats.slack(long, BASE)
    assert Slack.problems(slack) == []
    teams = formats.teams(long, BASE)
    facts = teams["attachments"][0]["content"]["body"][2]["facts"]
    assert max(len(f["value"]) for f in facts) == formats.FACT_LIMIT
    assert Teams.problems(teams, len(json.dumps(teams))) == []
    breach = event("breach", customer_id="c" * 2000)
    assert len(formats.pagerduty(breach, KEY, BASE)["payload"]["summary"]) <= 1024
    assert Slack.problems(formats.slack(breach, BASE)) == []


def test_the_teams_card_is_an_adaptive_card_with_facts_and_a_button_to_the_ticket() -> None:
    message = formats.teams(event("breach"), BASE)
    assert message["type"] == "message"
    [attachment] = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "Response SLA breached on T-1"
    assert card["body"][0]["color"] == "Attention"
    assert {"title": "Priority", "value": "P1"} in card["body"][2]["facts"]
    assert card["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open T-1", "url": f"{BASE}/board/tickets/T-1"}
    ]
    assert "actions" not in formats.teams(event("breach"), None)["attachments"][0]["content"]


@pytest.mark.parametrize(
    ("priority", "severity"), [("P1", "critical"), ("P2", "error"), ("P3", "warning")]
)
def test_a_pagerduty_breach_triggers_the_tickets_incident_with_its_priority_as_severity(
    priority: str, severity: str
) -> None:
    body = formats.pagerduty(event("breach", priority=priority), KEY, BASE)
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (KEY, "trigger", "T-1")
    payload = body["payload"]
    assert payload["severity"] == severity
    assert payload["summary"] == (
        f"{priority} ticket T-1 (acme): the response target ran out at 2026-11-27 09:15 UTC."
    )
    assert (payload["source"], payload["group"], payload["class"]) == (
        "slaflow.example.com", "acme", "sla breach"
    )  # fmt: skip
    assert payload["timestamp"] == "2026-11-27T09:15:00Z"
    assert payload["custom_details"]["event id"] == event("breach").id
    assert body["links"] == [{"href": f"{BASE}/board/tickets/T-1", "text": "Open T-1"}]


def test_pagerduty_hears_escalation_respond_and_resolve_on_the_same_incident() -> None:
    actions = {
        kind: formats.pagerduty(event(kind), KEY, BASE)
        for kind in ("escalation", "responded", "resolved")
    }
    assert actions["escalation"]["event_action"] == "trigger"
    assert "1h" in actions["escalation"]["payload"]["summary"]
    assert actions["responded"] == {
        "routing_key": KEY,
        "event_action": "acknowledge",
        "dedup_key": "T-1",
    }
    assert actions["resolved"] == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": "T-1",
    }


def test_a_pagerduty_test_resolves_an_incident_that_never_was_paging_no_one() -> None:
    test = event("test")
    assert formats.pagerduty(test, KEY, BASE) == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": f"slaflow-test-{test.id}",
    }


@pytest.mark.parametrize("kind", sorted(set(ALL_EVENTS) - {*PAGERDUTY_EVENTS, "test"}))
def test_pagerduty_cannot_say_the_other_events(kind: str) -> None:
    with pytest.raises(formats.CannotSay, match=f"no way to say a {kind} event"):
        formats.pagerduty(event(kind), KEY, BASE)


def test_the_body_is_the_standard_event_or_the_formats_ascii_json() -> None:
    breach = event("breach", note="café")
    standard = WebhookTarget(name="ops", url="https://ops.test/", secret="s")
    assert formats.body(standard, breach, BASE) == breach.body()
    pager = WebhookTarget.model_validate({"name": "pd", "format": "pagerduty", "routing_key": KEY})
    sent = formats.body(pager, breach, BASE)
    assert json.loads(sent) == formats.pagerduty(breach, KEY, BASE)
    sent.decode("ascii")
    slack = WebhookTarget(name="chat", format="slack", url="https://hooks.slack.test/x")
    assert KEY.encode() not in formats.body(slack, breach, BASE)


def test_the_service_checks_refuse_what_the_services_refuse() -> None:
    """The checks above have teeth: each refuses a body its service documents as wrong."""
    good = formats.slack(event("breach"), BASE)
    assert Slack.problems({"blocks": good["blocks"]}) != []  # no text
    long_header = {"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}
    assert Slack.problems({**good, "blocks": [long_header]}) != []
    assert Slack.problems({**good, "text": "a & b"}) != []
    assert Slack.problems({**good, "blocks": good["blocks"] * 13}) != []  # 52 blocks
    card = formats.teams(event("breach"), BASE)
    wrong_type = {**card, "attachments": [{**card["attachments"][0], "contentType": "x"}]}
    assert Teams.problems(wrong_type) != []
    assert Teams.problems(card, 29 * 1024) != []
    trigger = formats.pagerduty(event("breach"), KEY, BASE)
    assert PagerDuty.problems({**trigger, "routing_key": KEY[:31]}) != []
    assert PagerDuty.problems({**trigger, "payload": {**trigger["payload"], "severity": "high"}})
    too_long = {**trigger["payload"], "summary": "x" * 1025}
    assert PagerDuty.problems({**trigger, "payload": too_long}) != []
    assert PagerDuty.problems({"routing_key": KEY, "event_action": "resolve"}) != []


def said(kind: str, minutes: int, ticket: str = "T-1") -> Event:
    """A ticket's event `minutes` after AT (each its own id)."""
    return Event(
        id=event_id(f"{ticket}:{kind}:{minutes}"),
        type=kind,
        ticket_id=ticket,
        at=AT + timedelta(minutes=minutes),
        data=DATA[kind],
    )


def test_a_trigger_that_got_there_after_its_tickets_resolve_makes_the_resolve_said_again() -> None:
    breach, escalation = said("breach", 0), said("escalation", 0)
    responded, resolved = said("responded", 5), said("resolved", 9)
    history = [breach, escalation, responded, resolved]
    assert formats.pagerduty_last_word(breach, history) == resolved
    assert formats.pagerduty_last_word(escalation, history[:3]) == responded
    # Responded and resolved at one instant (a resolve is a first response): the resolve.
    same = said("resolved", 5)
    assert formats.pagerduty_last_word(breach, [breach, responded, same]) == same


def test_no_last_word_when_the_trigger_is_the_tickets_latest_or_no_trigger_at_all() -> None:
    breach = said("breach", 0)
    assert formats.pagerduty_last_word(breach, [breach]) is None
    assert formats.pagerduty_last_word(breach, []) is None
    # Resolved, reopened, breached again: the new incident stays open.
    history = [breach, said("resolved", 9), said("breach", 30)]
    assert formats.pagerduty_last_word(breach, history) is None
    assert formats.pagerduty_last_word(history[2], history) is None
    # Only a trigger asks; another ticket's events and events PagerDuty does not hear do not count.
    assert formats.pagerduty_last_word(said("resolved", 9), [breach, said("resolved", 9)]) is None
    others = [said("resolved", 9, ticket="T-2"), said("warning", 9), said("penalty", 9)]
    assert formats.pagerduty_last_word(breach, [breach, *others]) is None
