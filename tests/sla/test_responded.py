"""The first response is news (PagerDuty acknowledges the ticket's incident with it), and an
escalation says when its clock breached, so a receiver can say how late it is."""

from __future__ import annotations

from sla.actions import Respond
from sla.effects import RECORDED, EffectKind, events_for
from sla.notifications import event_id
from tests.support.rules import RESOLVE, RESPOND, at, open_ticket


def test_the_first_response_announces_a_responded_event_once() -> None:
    ticket = open_ticket("P1")
    [effect] = ticket.apply(RESPOND, at(5))
    assert (effect.kind, effect.at, effect.key) == (
        EffectKind.RESPONDED, at(5), "T-1:responded:response:c1"
    )  # fmt: skip
    assert effect.kind not in RECORDED  # announced only, like a resolution
    [(event, audiences)] = events_for(effect)
    assert (event.type, event.ticket_id, event.at, audiences) == ("responded", "T-1", at(5), [])
    assert event.id == event_id("T-1:responded:response:c1")
    assert event.data == {
        "customer_id": "acme", "priority": "P1", "metric": "response", "cycle": 1
    }  # fmt: skip
    assert ticket.apply(Respond(agent_id="bob"), at(9)) == []


def test_a_resolve_without_a_response_announces_no_responded() -> None:
    ticket = open_ticket("P1")
    effects = ticket.apply(RESOLVE, at(5))
    assert EffectKind.RESPONDED not in [e.kind for e in effects]


def test_an_escalation_event_carries_when_its_clock_breached() -> None:
    ticket = open_ticket("P1")  # response due at 15m; levels at +0s, +1h, +4h
    effects = ticket.on_time(at(80))
    escalations = [e for e in effects if e.kind is EffectKind.ESCALATION]
    assert [(e.level, e.at, e.breached_at) for e in escalations] == [
        (1, at(15), at(15)),
        (2, at(75), at(15)),
    ]
    [(event, _)] = events_for(escalations[1])
    assert event.data["breached_at"] == "2026-03-02T09:15:00Z"
