"""Builders for tests of the pure rules (`sla/`): fixed UTC times, policies from parsed config,
a ticket opened without Temporal, and the actions tests take most."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from sla.actions import Pause, Resolve, Respond
from sla.policy import PolicySnapshot, parse_config
from sla.priorities import Priority
from sla.ticket import OpenTicket, Ticket

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SHIPPED_YAML = Path(__file__).resolve().parents[2] / "config" / "sla.yaml"
SHIPPED_DATA: dict[str, Any] = yaml.safe_load(SHIPPED_YAML.read_text(encoding="utf-8"))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def at(n: float) -> datetime:
    """`n` minutes after T0."""
    return T0 + minutes(n)


def policy(**standard: Any) -> PolicySnapshot:
    """The shipped policy with keys of `policies.standard` replaced, validated by parse_config."""
    data = copy.deepcopy(SHIPPED_DATA)
    data["policies"]["standard"].update(standard)
    return parse_config(data).snapshot()


SHIPPED = policy()
CHAIN = [
    {"after": "0s", "notify": ["team-lead"]},
    {"after": "1h", "notify": ["support-manager"]},
    {"after": "PT4H", "notify": ["director"]},
]
CREDITS = {
    "response_breach": {"P1": "2%", "P2": "1%", "P3": "0.5%"},
    "resolution_breach": {"P1": "5%", "P2": "2%", "P3": "1%"},
    "monthly_cap": "30%",
}
# Three escalation levels, two warnings, money credits, a one-day auto-close.
FULL = policy(escalation=CHAIN, warn_at=[0.5, 0.75], credits=CREDITS, auto_close_after="1d")

RESPOND = Respond(agent_id="alice")
RESOLVE = Resolve(agent_id="alice")
PAUSE = Pause(reason="waiting for logs")


def open_ticket(
    priority: Priority | str = "P1",
    snapshot: PolicySnapshot = FULL,
    ticket_id: str = "T-1",
    now: datetime = T0,
    customer_id: str = "acme",
) -> Ticket:
    new = OpenTicket(
        ticket_id=ticket_id,
        customer_id=customer_id,
        title="Printer on fire",
        priority=Priority(priority),
        policy=snapshot,
    )
    return Ticket.open(new, now)


def copy_of(ticket: Ticket) -> Ticket:
    return Ticket(ticket.state.model_copy(deep=True), ticket.policy)
