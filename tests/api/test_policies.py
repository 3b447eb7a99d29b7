"""GET /policies: the configured targets as support staff read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
import yaml

from config.resolve import policy_snapshot
from sla.actions import Respond
from sla.outcome import TicketChanges, outcome_of
from sla.policy import CreditRules
from sla.priorities import Priority
from store import Store
from tests.api.conftest import FakeDesk
from tests.sla.test_what_if import Desk
from tests.support.access import MINE


async def test_policies_answer_the_configured_targets(http: httpx.AsyncClient) -> None:
    policies = (await http.get("/policies")).json()
    assert policies["default_policy"] == "standard"
    targets = policies["policies"]["standard"]["targets"]
    assert (targets["P1"]["response_seconds"], targets["P1"]["resolution_seconds"]) == (900, 7200)
    assert (targets["P3"]["response"], targets["P3"]["resolution"]) == ("4h", "1d")


# -- what-if -----------------------------------------------------------------------------

# Tickets of the API tests' customer, recorded with their journals in 2003 (a year no other
# test of the session's store reads): acme-e2e pays 5000 EUR a month.
OPENED = datetime(2003, 3, 3, 9, tzinfo=UTC)
WINDOW = {"from": "2003-03-01", "to": "2003-03-31"}
FIVE_MINUTES = {"targets": {"P1": {"response": "5m", "resolution": "2h"},
                            "P2": {"response": "1h", "resolution": "8h"},
                            "P3": {"response": "4h", "resolution": "1d"}},
                "credits": {"response_breach": {"P1": "2%"}}}  # fmt: skip


@pytest.fixture(scope="module")
def answered_early_and_late(store: Store, desk: FakeDesk) -> None:
    for ticket_id, answered in (("WI-early", 10), ("WI-late", 20)):
        snapshot = policy_snapshot(desk.config, OPENED, MINE).model_copy(
            update={"credits": CreditRules(response_breach={Priority.P1: Decimal(2)})}
        )
        ticket = Desk(snapshot, ticket_id, "P1", OPENED, MINE)
        ticket.act(Respond(agent_id="alice"), OPENED + timedelta(minutes=answered))
        store.record_changes(
            TicketChanges(
                outcome=outcome_of(ticket.ticket.state),
                opening=ticket.opening,
                journal=ticket.entries,
                journaled=len(ticket.entries),
                as_of=ticket.applied,
            )
        )


@pytest.mark.usefixtures("answered_early_and_late")
async def test_what_if_answers_the_deltas_of_a_pasted_policy(http: httpx.AsyncClient) -> None:
    answer = await http.post("/policies/what-if", json={**WINDOW, "policy": FIVE_MINUTES})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["from"], body["to"]) == ("2003-03-01T00:00:00Z", "2003-04-01T00:00:00Z")
    assert body["policy"] == "proposed" and body["tickets"] == 2 and body["reproduced"] is True
    assert body["actual"]["response"] == {"met": 1, "breached": 1, "open": 0, "compliance": 0.5}
    assert body["proposed"]["response"]["breached"] == 2
    # 2% of 5000 EUR per breached response.
    assert body["actual"]["credits"] == [
        {"customer_id": MINE, "currency": "EUR", "amount": "100.00", "unit": "EUR"}
    ]
    assert body["proposed"]["credits"][0]["amount"] == "200.00"
    assert body["changed"] == [
        {"ticket_id": "WI-early", "metric": "response", "actual": "met", "proposed": "breached"}
    ]
    assert body["by_customer"][MINE]["proposed"]["response"]["breached"] == 2


@pytest.mark.usefixtures("answered_early_and_late")
async def test_what_if_takes_yaml_text_or_a_configured_name_and_answers_csv(
    http: httpx.AsyncClient,
) -> None:
    text = yaml.safe_dump(FIVE_MINUTES)
    as_yaml = (await http.post("/policies/what-if", json={**WINDOW, "policy": text})).json()
    assert as_yaml["proposed"]["response"]["breached"] == 2
    same = await http.post(
        "/policies/what-if", json={**WINDOW, "policy": "standard", "customer_id": MINE}
    )
    assert same.json()["policy"] == "standard" and same.json()["changed"] == []
    csv = await http.post(
        "/policies/what-if",
        json={**WINDOW, "policy": FIVE_MINUTES, "priority": "P1"},
        headers={"Accept": "text/csv"},
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert "all,all,response_breached,1,2,+1" in csv.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"policy": {"targets": {"P1": {"response": "soon"}}}},
         "policy.targets.P1.response: 'soon' is not a duration"),
        ({"policy": {**FIVE_MINUTES, "speed": "fast"}}, "policy.speed: unknown key"),
        ({"policy": {**FIVE_MINUTES, "calendar": "mars-office"}},
         "policy.calendar: unknown calendar 'mars-office'"),
        ({"policy": {**FIVE_MINUTES, "calendar": "mars"},
          "calendars": {"mars": {"timezone": "Mars/Olympus", "hours": {"mon": ["09:00-17:00"]}}}},
         "calendars.mars.timezone: unknown time zone"),
        ({"policy": "no-such-policy"}, "or the name of a configured one (business, standard)"),
        ({"policy": "a: &x [1]\nb: *x"}, "anchors and aliases are not taken"),
        ({"policy": "standard", "from": "2003-04-01"}, "`to` must be after `from`"),
    ],
)  # fmt: skip
async def test_a_bad_what_if_is_422_with_the_key_that_is_wrong(
    http: httpx.AsyncClient, body: dict[str, Any], detail: str
) -> None:
    answer = await http.post("/policies/what-if", json={**WINDOW, **body})
    assert answer.status_code == 422, answer.text
    assert detail in answer.json()["detail"]


async def test_a_policy_on_a_calendar_it_brings_is_replayed_on_it(
    http: httpx.AsyncClient,
) -> None:
    mars = {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}}
    answer = await http.post(
        "/policies/what-if",
        json={
            **WINDOW,
            "policy": {**FIVE_MINUTES, "calendar": "mars"},
            "calendars": {"mars": mars},
        },
    )
    assert answer.status_code == 200, answer.text
