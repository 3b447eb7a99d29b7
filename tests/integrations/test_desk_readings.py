"""What the desks' webhook bodies mean (sla/integrations/): Jira's published example bodies
and the Zendesk template, read into steps with their times, and what is passed over and why."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sla.actions import ChangeTicket, Close, Pause, Reopen, Resolve, Respond, Resume
from sla.integrations.config import IntegrationsConfig
from sla.integrations.jira import read_jira
from sla.integrations.reading import Opening, Reading, event_time, safe_id
from sla.integrations.zendesk import read_zendesk
from sla.priorities import Priority
from sla.state import TicketState
from tests.support import rules
from tests.support.desks import INTEGRATIONS, fixture

CONFIG = IntegrationsConfig.model_validate(INTEGRATIONS)
assert CONFIG.jira is not None and CONFIG.zendesk is not None
JIRA = CONFIG.jira
ZENDESK = CONFIG.zendesk


def jira(name: str, reporter: str | None = None, **changes: Any) -> Reading:
    body = fixture(f"jira/{name}.json") | changes
    return read_jira(body, JIRA, "d-1", reporter)


def only(reading: Reading) -> Any:
    [step] = reading.steps
    assert step.ticket_id == "JRA-20002" or step.ticket_id.startswith("zendesk-")
    return step.do


# -- Jira ----------------------------------------------------------------------------------


def test_an_issue_created_opens_its_ticket_when_jira_created_it() -> None:
    reading = jira("issue_created")
    opening = only(reading)
    assert isinstance(opening, Opening)
    assert opening.at == datetime(2009, 12, 17, 5, 46, 10, 612000, tzinfo=UTC)  # -0600
    assert (opening.ticket_id, opening.title, opening.priority) == (
        "JRA-20002", "I feel the need for speed", Priority.P2,
    )  # fmt: skip
    assert (opening.customer_id, opening.reporter) == ("acme-e2e", "jsmith")
    assert opening.description == "Make the issue nav load 10x faster"
    assert reading.notes == []


def test_the_customer_comes_from_the_configured_field_by_name_or_value() -> None:
    body = fixture("jira/issue_created.json")
    body["issue"]["fields"]["customfield_10010"] = [{"id": "7", "name": "Globex Inc."}]
    opening = only(read_jira(body, JIRA, "d-1"))
    assert opening.customer_id == "Globex-Inc."
    body["issue"]["fields"]["customfield_10010"] = {"value": "acme"}
    assert only(read_jira(body, JIRA, "d-1")).customer_id == "acme"


def test_an_unmapped_priority_opens_nothing_and_says_why() -> None:
    body = fixture("jira/issue_created.json")
    body["issue"]["fields"]["priority"] = {"name": "Whenever", "id": "9"}
    reading = read_jira(body, JIRA, "d-1")
    assert reading.steps == []
    assert reading.notes == ["priority 'Whenever' is not in integrations.jira.priorities"]


def test_an_agents_comment_is_a_response_at_its_time_once_per_comment() -> None:
    respond = only(jira("comment_created", reporter="jsmith"))
    assert isinstance(respond, Respond)
    assert respond.agent_id == "brollins"
    assert respond.at == datetime(2011, 6, 7, 15, 31, 26, 805000, tzinfo=UTC)
    # Keyed by the comment: heard again in another delivery, it responds once.
    assert (respond.request_id, respond.sent_by) == ("jira:comment:252789", "jira")


def test_the_reporters_own_comment_an_internal_note_and_an_unknown_reporter_are_not() -> None:
    assert jira("comment_created", reporter="brollins").notes == [
        "a comment by the reporter is not a response"
    ]
    internal = fixture("jira/comment_created.json")
    internal["comment"]["jsdPublic"] = False
    assert read_jira(internal, JIRA, "d", "jsmith").notes == [
        "an internal comment is not a response to the customer"
    ]
    unknown = jira("comment_created")
    assert unknown.steps == [] and "reporter is unknown" in unknown.notes[0]


def test_with_a_group_field_only_its_groups_respond() -> None:
    mapping = JIRA.model_copy(
        update={"agents": JIRA.agents.model_copy(
            update={"group_field": "author.accountType", "groups": ["atlassian"]}
        )}
    )  # fmt: skip
    body = fixture("jira/comment_created.json")
    body["comment"]["author"]["accountType"] = "customer"
    assert read_jira(body, mapping, "d").steps == []
    body["comment"]["author"]["accountType"] = "atlassian"
    assert isinstance(only(read_jira(body, mapping, "d")), Respond)


def test_a_resolve_transition_resolves_at_the_events_time() -> None:
    resolve = only(jira("issue_updated_resolved"))
    assert isinstance(resolve, Resolve)
    assert resolve.agent_id == "brollins"
    assert resolve.at == datetime.fromtimestamp(1525698237.764, UTC)
    assert resolve.request_id == "jira:d-1:resolve"


def status(before: str, after: str) -> list[type]:
    body = fixture("jira/issue_updated_resolved.json")
    body["changelog"]["items"] = [{"field": "status", "fromString": before, "toString": after}]
    return [type(step.do) for step in read_jira(body, JIRA, "d").steps]


@pytest.mark.parametrize(
    ("before", "after", "actions"),
    [
        ("In Progress", "Done", [Resolve]),
        ("Waiting for customer", "Resolved", [Resolve]),
        ("Resolved", "In Progress", [Reopen]),
        ("Done", "Waiting for customer", [Reopen, Pause]),
        ("Open", "waiting for customer", [Pause]),  # statuses compare without case
        ("Waiting for customer", "In Progress", [Resume]),
        ("Open", "In Progress", []),
        ("Resolved", "Done", []),
    ],
)
def test_status_changes(before: str, after: str, actions: list[type]) -> None:
    assert status(before, after) == actions


def test_a_priority_change_is_a_change_and_an_unmapped_one_is_noted() -> None:
    body = fixture("jira/issue_updated_resolved.json")
    body["changelog"]["items"] = [
        {"field": "priority", "fromString": "Minor", "toString": "Blocker"},
        {"field": "status", "fromString": "Open", "toString": "Waiting for customer"},
    ]
    change, pause = [s.do for s in read_jira(body, JIRA, "d").steps]
    assert isinstance(change, ChangeTicket) and change.priority is Priority.P1
    assert isinstance(pause, Pause) and pause.reason == "Jira status Open -> Waiting for customer"
    body["changelog"]["items"] = [{"field": "priority", "fromString": "High", "toString": "Major"}]
    assert read_jira(body, JIRA, "d").notes == ["priority 'Major' is P1, as before"]
    body["changelog"]["items"] = [{"field": "priority", "toString": "Meh"}]
    assert read_jira(body, JIRA, "d").notes == [
        "priority 'Meh' is not in integrations.jira.priorities"
    ]


def test_atlassians_example_as_published_changes_nothing_slaflow_follows() -> None:
    body = fixture("jira/issue_updated_resolved.json")
    body["changelog"]["items"] = [
        {"field": "summary", "fromString": "What is going on here?????", "toString": "A new"},
        {"field": "issuetype", "fromString": "Improvement", "toString": "New Feature"},
    ]
    assert read_jira(body, JIRA, "d").notes == [
        "no change slaflow follows (status, priority) in the changelog"
    ]


def test_other_events_and_bodies_without_an_issue_are_passed_over() -> None:
    assert jira("issue_created", webhookEvent="jira:issue_deleted").notes == [
        "jira:issue_deleted is not an event slaflow follows"
    ]
    assert read_jira({"webhookEvent": "jira:issue_created"}, JIRA, "d").notes == [
        "the body names no issue (issue.key)"
    ]


# -- Zendesk -------------------------------------------------------------------------------


def zendesk(name: str, known: TicketState | None = None, **ticket: Any) -> Reading:
    body = copy.deepcopy(fixture(f"zendesk/{name}.json"))
    body["ticket"] |= ticket
    return read_zendesk(body, ZENDESK, "inv-1", known)


T0 = datetime(2021, 3, 25, 5, 9, 27, tzinfo=UTC)


def known(*actions: Any) -> TicketState:
    ticket = rules.open_ticket("P1", ticket_id="zendesk-35436", now=T0)
    for action in actions:
        ticket.apply(action, T0 + timedelta(minutes=1))
    return ticket.state


def test_a_created_ticket_opens_with_its_organizations_customer() -> None:
    opening = only(zendesk("ticket_created"))
    assert isinstance(opening, Opening)
    assert (opening.ticket_id, opening.at, opening.priority) == ("zendesk-35436", T0, Priority.P1)
    assert (opening.customer_id, opening.reporter) == ("acme-e2e", "20978392")
    # Its first comment is the requester's own: no response.


def test_an_update_of_a_ticket_slaflow_does_not_have_is_passed_over() -> None:
    assert zendesk("agent_replied").notes == [
        "no ticket zendesk-35436: its creation was not received (or was ignored)"
    ]


def test_an_agents_public_reply_responds_once() -> None:
    respond = only(zendesk("agent_replied", known()))
    assert isinstance(respond, Respond)
    assert (respond.agent_id, respond.request_id) == ("1903375", "zendesk:comment:1275")
    assert respond.at == datetime(2021, 3, 25, 5, 12, 2, tzinfo=UTC)
    seen = known(respond.model_copy(update={"at": None}))
    assert zendesk("agent_replied", seen).steps == []


def test_solved_resolves_and_the_reply_that_came_with_it_responds_first() -> None:
    respond, resolve = [s.do for s in zendesk("ticket_solved", known()).steps]
    assert isinstance(respond, Respond) and isinstance(resolve, Resolve)
    assert resolve.agent_id == "1903375" and resolve.at == datetime(
        2021, 3, 25, 5, 30, 45, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("status", "before", "actions"),
    [
        ("Pending", [], [Pause]),
        ("On-hold", [rules.PAUSE], []),
        ("Open", [rules.PAUSE], [Resume]),
        ("Open", [rules.RESOLVE], [Reopen]),
        ("Pending", [rules.RESOLVE], [Reopen, Pause]),
        ("Solved", [rules.RESOLVE], []),
    ],
)
def test_statuses_are_compared_with_the_ticket(
    status: str, before: list[Any], actions: list[type]
) -> None:
    reading = zendesk("ticket_created", known(*before), status=status)
    reading_types = [type(s.do) for s in reading.steps]
    assert reading_types == actions


def test_a_priority_that_differs_is_a_change() -> None:
    [change] = [s.do for s in zendesk("ticket_created", known(), priority="Low").steps]
    assert isinstance(change, ChangeTicket) and change.priority is Priority.P3
    assert zendesk("ticket_created", known(), priority="Someday").notes == [
        "priority 'Someday' is not in integrations.zendesk.priorities"
    ]
    # No priority in Zendesk: the `""` mapping.
    assert only(zendesk("ticket_created", priority="")).priority is Priority.P3


def test_a_closed_ticket_takes_nothing() -> None:
    closed = known(rules.RESOLVE, Close())
    assert zendesk("agent_replied", closed).notes == ["ticket zendesk-35436 is closed"]


# -- reading helpers and config ------------------------------------------------------------


def test_ids_are_made_safe_and_times_need_an_offset() -> None:
    assert safe_id("557058:b2e19a89-93eb-479c-a287-d6943fe6b823") == (
        "557058-b2e19a89-93eb-479c-a287-d6943fe6b823"
    )
    long = safe_id("x" * 100)
    assert long is not None and len(long) == 64
    assert safe_id("::") is None and safe_id({"a": 1}) is None
    assert event_time("2013-12-12T05:35Z") == datetime(2013, 12, 12, 5, 35, tzinfo=UTC)
    assert event_time("2013-12-12T05:35:00") is None  # whose zone?
    assert event_time("soon") is None and event_time(True) is None


def test_the_section_is_validated_with_the_config() -> None:
    from sla.policy import ConfigError, parse_config
    from tests.support.rules import SHIPPED_DATA

    assert parse_config(SHIPPED_DATA).integrations.jira is None  # a file without it works
    data = copy.deepcopy(SHIPPED_DATA) | {"integrations": copy.deepcopy(INTEGRATIONS)}
    data["integrations"]["jira"]["waiting_statuses"] = ["Done"]
    with pytest.raises(ConfigError, match="both resolved and waiting: done"):
        parse_config(data)
    data["integrations"] = {"zendesk": {"secret": "s", "priorities": {"Urgent": "P0"}}}
    with pytest.raises(ConfigError, match=r"integrations.zendesk.priorities.Urgent"):
        parse_config(data)
    fixed = {"zendesk": {"secret": "s", "priorities": {"Urgent": "P1"}, "customer": "acme"}}
    config = parse_config(SHIPPED_DATA | {"integrations": fixed}).integrations
    assert config.zendesk is not None and config.zendesk.customer.of({}) == "acme"
