"""On-call out on the running product (issue 19, point 5, "Done means"): `slaflow worker` and
`slaflow api` processes with a config that sends to a Slack, a Teams and a PagerDuty receiver,
each a real HTTP server that checks every body the way the service documents it and answers as
the service does (tests/support/services.py). A P1 ticket opened over HTTP breaches its 2 s
response target, escalates (level 1 at once, level 2 two seconds on), is answered and resolved:
Slack and Teams get a well-formed message for each event in that order, and PagerDuty's one
incident for the ticket is triggered three times, acknowledged, then resolved."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.processes import Processes, wait_for
from tests.support.receiver import Received, Receiver
from tests.support.services import CARD_TYPE, PagerDuty, Slack, Teams

pytestmark = pytest.mark.e2e

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"
BASE = "https://slaflow.example.test"
CHAT_EVENTS = ["breach", "escalation", "responded", "resolved"]

CONFIG = """
default_policy: quick
policies:
  quick:
    calendar: always
    targets:
      P1: {{response: 2s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
    escalation:
      - {{after: 0s, notify: [team-lead]}}
      - {{after: 2s, notify: [team-lead]}}
notifications:
  link_base: "{base}"
  webhooks:
    - {{name: chat, format: slack, url: "{slack}", events: {events}}}
    - {{name: room, format: teams, url: "{teams}", events: {events}}}
    - {{name: oncall, format: pagerduty, url: "{pagerduty}", routing_key: "{key}"}}
  audiences:
    team-lead: ["webhook:oncall", "webhook:chat", "webhook:room"]
"""


def kinds(hook: Receiver) -> list[str]:
    """The event types the receiver got, in the order they came."""
    return [r.headers["x-slaflow-event-type"] for r in hook.received]


def of(hook: Receiver, kind: str) -> list[Received]:
    return [r for r in hook.received if r.headers["x-slaflow-event-type"] == kind]


def level(received: Received) -> str:
    """An escalation's level, as the message says it ("Escalation level 2 on T-1: ...")."""
    text = json.dumps(received.json())
    return "2" if "Escalation level 2" in text else "1" if "Escalation level 1" in text else "?"


def test_slack_teams_and_pagerduty_get_well_formed_bodies_for_a_breach_and_its_resolution(
    processes: Processes, receiver: Callable[..., Receiver]
) -> None:
    pagerduty = PagerDuty()
    slack, teams = receiver(service=Slack()), receiver(service=Teams())
    oncall = receiver(service=pagerduty, path="/v2/enqueue")
    processes.configure(
        CONFIG.format(
            base=BASE,
            slack=slack.url,
            teams=teams.url,
            pagerduty=oncall.url,
            key=ROUTING_KEY,
            events=json.dumps(CHAT_EVENTS),
        )
    )
    api = processes.up()

    opened = api.post(
        "/tickets",
        json={"title": "Checkout is down", "priority": "P1", "customer_id": "acme"},
    )
    assert opened.status_code == 201, opened.text
    ticket: str = opened.json()["ticket_id"]

    # The breach and escalation level 1 at the 2 s deadline, level 2 two seconds later: each
    # event once to each target (the audience names all three, and their `events` list it).
    def escalated() -> bool:
        return all(len(hook.received) >= 3 for hook in (slack, teams, oncall))

    wait_for(escalated, seconds=60)
    for hook in (slack, teams, oncall):
        assert sorted(kinds(hook)) == ["breach", "escalation", "escalation"]
    assert pagerduty.incidents == {ticket: "triggered"}
    ticket_now = api.get(f"/tickets/{ticket}").json()
    assert ticket_now["response"]["state"] == "breached"
    assert ticket_now["escalation_level"] == 2

    # Their deliveries written down as delivered before the response, so its acknowledge
    # follows every trigger (a trigger that got there after it says it again: docs/webhooks.md).
    wait_for(lambda: len(listed(api, ticket, "delivered")) == 9)
    responded = api.post(f"/tickets/{ticket}/respond", json={"agent_id": "alice"})
    assert responded.status_code == 200, responded.text
    wait_for(lambda: all(len(hook.received) >= 4 for hook in (slack, teams, oncall)))
    assert pagerduty.incidents == {ticket: "acknowledged"}

    resolved = api.post(f"/tickets/{ticket}/resolve", json={"agent_id": "alice"})
    assert resolved.status_code == 200, resolved.text
    wait_for(lambda: all(len(hook.received) >= 5 for hook in (slack, teams, oncall)))
    assert pagerduty.incidents == {ticket: "resolved"}

    # Each receiver: the right sequence, every body taken by the service, one id per event.
    for hook, ok in ((slack, 200), (teams, 202), (oncall, 202)):
        assert kinds(hook)[3:] == ["responded", "resolved"]
        assert [r.status for r in hook.received] == [ok] * 5, [r.reply for r in hook.received]
        assert len({r.headers["webhook-id"] for r in hook.received}) == 5
        assert {r.headers["content-type"] for r in hook.received} == {"application/json"}
        assert all("webhook-signature" not in r.headers for r in hook.received)  # no secret
    assert sorted(level(r) for r in of(slack, "escalation")) == ["1", "2"]

    # Slack: `text` (the notification) and Block Kit blocks within their limits, ticket text
    # escaped, the link to the ticket's board page.
    board = f"{BASE}/board/tickets/{ticket}"
    for received in slack.received:
        message = received.json()
        assert Slack.problems(message) == []
        assert message["text"].strip() and f"<{board}|Open {ticket}>" in message["text"]
        assert [b["type"] for b in message["blocks"]] == ["header", "section", "section", "context"]
        assert received.event_id in message["blocks"][-1]["elements"][0]["text"]
    [breach] = [r.json() for r in of(slack, "breach")]
    assert breach["blocks"][0]["text"] == {
        "type": "plain_text",
        "text": f"Response SLA breached on {ticket}",
    }
    facts = [f["text"] for f in breach["blocks"][2]["fields"]]
    assert "*Priority*\nP1" in facts and "*Clock*\nresponse" in facts
    [done] = [r.json() for r in of(slack, "resolved")]
    assert done["blocks"][0]["text"]["text"] == f"{ticket} resolved"

    # Teams: a message whose first attachment is an Adaptive Card the Workflows flow posts.
    colors = {}
    for received in teams.received:
        message = received.json()
        assert Teams.problems(message, len(received.body)) == []
        assert message["type"] == "message"
        [attachment] = message["attachments"]
        assert attachment["contentType"] == CARD_TYPE
        card = attachment["content"]
        assert (card["$schema"], card["type"], card["version"]) == (
            "http://adaptivecards.io/schemas/adaptive-card.json",
            "AdaptiveCard",
            "1.4",
        )
        assert card["body"][0]["type"] == "TextBlock" and card["body"][-1]["isSubtle"] is True
        assert card["actions"] == [
            {"type": "Action.OpenUrl", "title": f"Open {ticket}", "url": board}
        ]
        colors[received.headers["x-slaflow-event-type"]] = card["body"][0]["color"]
    assert colors == {
        "breach": "Attention",
        "escalation": "Attention",
        "responded": "Good",
        "resolved": "Good",
    }

    # PagerDuty: the ticket is one incident; triggers carry the payload, the others name it.
    assert pagerduty.history == [("trigger", ticket)] * 3 + [
        ("acknowledge", ticket),
        ("resolve", ticket),
    ]
    for received in oncall.received:
        event = received.json()
        assert PagerDuty.problems(event, len(received.body)) == []
        assert received.path == "/v2/enqueue"
        assert (event["routing_key"], event["dedup_key"]) == (ROUTING_KEY, ticket)
        assert json.loads(received.reply) == {
            "status": "success",
            "message": "Event processed",
            "dedup_key": ticket,
        }
    triggers = [r.json() for r in oncall.received[:3]]
    for trigger in triggers:
        payload = trigger["payload"]
        assert trigger["event_action"] == "trigger"
        assert (payload["severity"], payload["source"], payload["group"]) == (
            "critical",
            "slaflow.example.test",
            "acme",
        )
        assert 1 <= len(payload["summary"]) <= 1024 and ticket in payload["summary"]
        assert payload["component"] == "response SLA"
        assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
        assert trigger["links"] == [{"href": board, "text": f"Open {ticket}"}]
    assert sorted(t["payload"]["class"] for t in triggers) == [
        "sla breach",
        "sla escalation",
        "sla escalation",
    ]
    ack, resolve = (r.json() for r in oncall.received[3:])
    assert ack == {"routing_key": ROUTING_KEY, "event_action": "acknowledge", "dedup_key": ticket}
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": ticket}

    # slaflow's own record: every delivery of the ticket delivered, once, on the first try.
    wait_for(lambda: len(listed(api, ticket, "delivered")) == 15)
    deliveries = listed(api, ticket)
    assert len(deliveries) == 15
    assert {(d["state"], d["attempts"]) for d in deliveries} == {("delivered", 1)}
    by_target: dict[str, list[str]] = {}
    for d in deliveries:
        by_target.setdefault(d["target"], []).append(d["event_type"])
    assert {t: sorted(k) for t, k in by_target.items()} == {
        target: sorted(["breach", "escalation", "escalation", "responded", "resolved"])
        for target in ("webhook:chat", "webhook:room", "webhook:oncall")
    }
    assert all(ROUTING_KEY not in json.dumps(d) for d in deliveries)


def listed(api: httpx.Client, ticket: str, state: str | None = None) -> list[dict[str, Any]]:
    """The ticket's deliveries (in `state`), as `GET /deliveries` lists them."""
    params = {"ticket_id": ticket} | ({"state": state} if state else {})
    answer = api.get("/deliveries", params=params)
    assert answer.status_code == 200, answer.text
    deliveries: list[dict[str, Any]] = answer.json()["deliveries"]
    return deliveries
