"""A proposed policy for a what-if: validated as config, with the key that is wrong; its
calendar, or a customer's own, resolved once for the whole replay."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from config.proposal import proposal
from sla.journal import TicketOpening
from sla.policy import ConfigError, SlaConfig, parse_config
from sla.priorities import Priority
from tests.support.rules import SHIPPED

TARGETS = {"P1": {"response": "5m", "resolution": "1h"},
           "P2": {"response": "1h", "resolution": "8h"},
           "P3": {"response": "4h", "resolution": "1d"}}  # fmt: skip
OFFICE = {"timezone": "Europe/Berlin", "hours": {"mon": ["09:00-17:00"], "tue": ["09:00-17:00"]}}
OPENED = datetime(2026, 11, 2, 8, tzinfo=UTC)


def config() -> SlaConfig:
    return parse_config(
        {
            "default_policy": "standard",
            "calendars": {"berlin": OFFICE},
            "policies": {"standard": {"targets": TARGETS, "credits": {"monthly_cap": "10%"}}},
            "customers": {
                "acme": {"monthly_fee": 100, "currency": "EUR"},
                "globex": {"monthly_fee": 100, "currency": "EUR", "calendar": "berlin"},
            },
        }
    )


def ticket_of(customer_id: str) -> TicketOpening:
    return TicketOpening(
        ticket_id="T-1",
        customer_id=customer_id,
        priority=Priority.P1,
        opened_at=OPENED,
        policy=SHIPPED,
    )


def test_a_configured_policy_is_picked_by_name() -> None:
    picked = proposal(config(), "standard")
    assert picked.name == "standard" and picked.cap == Decimal(10)
    assert picked.snapshot_for(ticket_of("acme")).calendar.name == "always"


def test_a_pasted_policy_gets_its_calendar_resolved_and_a_customers_own_stands() -> None:
    pasted = proposal(
        config(),
        f"calendar: mars\ntargets: {TARGETS}\n",
        {"mars": {"timezone": "UTC", "hours": {"sat": ["10:00-12:00"]}}},
    ).until(OPENED + timedelta(days=500))
    assert pasted.name == "proposed" and pasted.cap is None
    mars = pasted.snapshot_for(ticket_of("acme")).calendar
    assert mars.name == "mars" and mars.horizon_start == date(2026, 10, 26)
    assert mars.horizon_end == date(2029, 4, 20)  # 400 days past the replay's end
    assert pasted.snapshot_for(ticket_of("globex")).calendar.name == "berlin"


@pytest.mark.parametrize(
    ("policy", "calendars", "message"),
    [
        ({"targets": {**TARGETS, "P1": {"response": "0s", "resolution": "1h"}}}, None,
         "policy.targets.P1.response: a target must be longer than zero"),
        ({"targets": TARGETS, "calendar": "berlin", "warn_at": [2]}, None,
         "policy.warn_at: 2.0 is not a fraction"),
        ({"targets": {**TARGETS, "P3": {"response": "4h", "resolution": "3000d"}},
          "calendar": "berlin"}, None, "policy.targets.P3.resolution: 3000d of business time"),
        ({"targets": TARGETS, "calendar": "mars"}, {"mars": {"timezone": "UTC", "hours": {}}},
         "calendars.mars.hours: a calendar needs business hours"),
        ("- just\n- a list", None, "give one policy in the config's shape"),
        ("targets: [", None, "policy: not YAML or JSON"),
    ],
)  # fmt: skip
def test_a_bad_proposal_names_the_key(
    policy: object, calendars: dict[str, object] | None, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        proposal(config(), policy, calendars)
    assert message in str(refused.value)
