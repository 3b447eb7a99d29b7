"""Access control (docs/api.md, "Access") where no ticket takes part: keys and roles on every
endpoint, the schema and docs pages, the keys file, the bind check, the names an action may
carry. The app runs in-process without Temporal; the rows that open, list or act on tickets are
in tests/e2e/test_access.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from api.app import create_app
from api.desk import scoped_request_id
from cli import _check_bind
from settings import Settings
from sla.actions import ACTIONS, REQUEST_ID_LIMIT, ActionKind, Comment
from sla.policy import ConfigError
from tests.api.conftest import FakeDesk
from tests.support import rules
from tests.support.access import (
    MINE,
    ROWS,
    WRONG_KEY,
    Keyed,
    Row,
    T,
    assert_answered,
    call,
    call_row,
    fill,
    placeholders,
    role_cases,
    with_tickets,
)


@pytest.mark.parametrize(
    ("row", "caller", "expected"), role_cases([row for row in ROWS if not with_tickets(row)])
)
async def test_each_role_gets_its_status_on_each_endpoint(
    keyed: Keyed, row: Row, caller: str, expected: int
) -> None:
    values = await placeholders(keyed, caller, row[2])
    assert_answered(await call_row(keyed, row, caller, values), expected)


BAD_AUTH = {
    "no-header": lambda keys: {},
    "wrong-key": lambda keys: {"Authorization": f"Bearer {WRONG_KEY}"},
    "basic-scheme": lambda keys: {"Authorization": f"Basic {keys['admin']}"},
    "key-without-scheme": lambda keys: {"Authorization": keys["admin"]},
    "empty-bearer": lambda keys: {"Authorization": "Bearer "},
}


@pytest.mark.parametrize("auth", BAD_AUTH)
@pytest.mark.parametrize("row", [pytest.param(r, id=r[0]) for r in ROWS])
async def test_every_endpoint_but_healthz_answers_401_with_a_detail_without_a_valid_key(
    keyed: Keyed, sample_ticket: str, row: Row, auth: str
) -> None:
    _, method, path, body, _, _ = row
    values = {"customer": MINE, "tid": sample_ticket, "incident": "no-such-incident"}
    headers = BAD_AUTH[auth](keyed.keys)
    response = await keyed.http.request(
        method, fill(path, values), json=fill(body, values), headers=headers
    )
    assert response.status_code == 401, response.text
    assert "API key" in response.json()["detail"]
    assert WRONG_KEY not in response.text and keyed.keys["admin"] not in response.text


@pytest.mark.parametrize(
    ("path", "status"), [("/openapi.json", 401), ("/docs", 404), ("/redoc", 404)]
)
async def test_with_keys_the_schema_needs_a_key_and_the_docs_pages_are_off(
    keyed: Keyed, path: str, status: int
) -> None:
    assert (await keyed.http.get(path)).status_code == status
    if path == "/openapi.json":
        schema = await call(keyed, "agent", "GET", path)
        assert schema.status_code == 200 and "/tickets" in schema.json()["paths"]


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "expected"),
    [
        # Access is decided before the body is looked at: nothing about the schema leaks.
        pytest.param(None, "POST", "/tickets", {"title": ""}, 401, id="no-key-bad-body"),
        pytest.param("acme", "POST", T + "/respond", {"agent_id": "a b"}, 403, id="customer-bad"),
        pytest.param("acme", "POST", T + "/comments", {"author": "x", "body": ""}, 422,
                     id="customer-own-bad-body"),
        pytest.param("acme", "GET", "/tickets/bad%20id", None, 422, id="customer-bad-id"),
        pytest.param("agent", "POST", T + "/respond", {"agent_id": "a b"}, 422, id="agent-bad"),
    ],
)  # fmt: skip
async def test_input_is_validated_only_for_callers_allowed_to_call(
    keyed: Keyed, sample_ticket: str, who: str | None, method: str, path: str, body: Any,
    expected: int,
) -> None:  # fmt: skip
    response = await call(keyed, who, method, path.format(tid=sample_ticket), body)
    assert response.status_code == expected, response.text


async def test_without_a_keys_file_the_api_is_open(http: httpx.AsyncClient) -> None:
    assert (await http.get("/policies")).status_code == 200
    wrong = await http.get("/policies", headers={"Authorization": f"Bearer {WRONG_KEY}"})
    assert wrong.status_code == 200


SECRET = "a-secret-that-must-not-leak"


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ([{"name": "a", "key": "short-key", "role": "admin"}], "keys.0.key"),
        ([{"name": "a", "key": SECRET, "role": "root"}], "keys.0.role"),
        ([{"name": "a", "key": SECRET, "role": "customer"}], "customer_id"),
        ([{"name": "a", "key": SECRET, "role": "agent", "customer_id": "acme"}], "customer_id"),
        ([{"name": "a b", "key": SECRET, "role": "admin"}], "keys.0.name"),
        ([{"name": n, "key": SECRET, "role": "admin"} for n in "ab"], "each key must be different"),
    ],
)  # fmt: skip
def test_a_bad_keys_file_stops_the_app_naming_the_entry_never_the_key(
    tmp_path: Path, api_settings: Settings, entries: list[dict[str, str]], problem: str
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"keys": entries}))
    with pytest.raises(ConfigError) as failure:
        create_app(api_settings.model_copy(update={"api_keys_file": path}))
    assert problem in str(failure.value)
    assert entries[0]["key"] not in str(failure.value)


@pytest.mark.parametrize(
    ("host", "keys", "refused"),
    [("127.0.0.1", None, False), ("localhost", None, False), ("::1", None, False),
     ("0.0.0.0", None, True), ("::", None, True), ("192.0.2.10", None, True),
     ("api.example.com", None, True), ("0.0.0.0", Path("keys.yaml"), False)],
)  # fmt: skip
def test_only_loopback_may_be_served_without_keys(
    host: str, keys: Path | None, refused: bool
) -> None:
    settings = Settings(api_host=host, api_keys_file=keys)
    if refused:
        with pytest.raises(SystemExit, match="--api-keys"):
            _check_bind(settings)
    else:
        _check_bind(settings)


def test_the_access_table_covers_every_action_of_the_registry_as_it_says() -> None:
    """A new action in sla/actions.py must get its row here: staff may do every action (an
    admin-only one, admins), and a customer key exactly those the registry opens to
    customers."""
    rows: dict[tuple[str, str], tuple[int, int, int, int | None]] = {}
    for _, method, path, _, _, statuses in ROWS:
        rows.setdefault((method, path), statuses)  # the first: the action applied
    for kind in ACTIONS:
        statuses = rows.get((kind.method, T + kind.path))
        assert statuses is not None, f"no access row for {kind.name}"
        admin, agent, customer, _ = statuses
        assert (admin, agent) == (200, 403 if kind.admin_only else 200), kind.name
        assert (customer == 200) == (kind.customer_field is not None), kind.name


async def test_a_customer_sees_its_ticket_without_our_insides_and_staff_see_everything(
    keyed: Keyed, desk: FakeDesk
) -> None:
    """Escalation audiences, failed deliveries (targets, hosts, errors) and the raw history
    are staff's; the customer reads its ticket and its timeline without them."""
    ticket = rules.open_ticket("P1", rules.FULL, "T-escalated", customer_id=MINE)
    ticket.on_time(rules.at(20))  # breached at 15 min, escalated to team-lead at once
    ticket.record_delivery_failure(rules.at(21), "breach", "email:ops", "smtp.internal: 550")
    ticket.apply(Comment(author="alice", body="on it"), rules.at(22))
    ticket.apply(Comment(author="alice", body="ask team-lead", internal=True), rules.at(23))
    desk.add(ticket.state)
    path = "/tickets/T-escalated"

    seen = {who: (await call(keyed, who, "GET", path)).json() for who in ("acme", "agent")}
    timelines = {
        who: (await call(keyed, who, "GET", path + "/timeline")).json()["entries"]
        for who in ("acme", "agent")
    }
    history = await call(keyed, "acme", "GET", path + "/history")
    pages = {
        who: (await call(keyed, who, "GET", path + "/comments")).json() for who in ("acme", "agent")
    }
    internal = await call(
        keyed, "acme", "POST", path + "/comments", {"author": "x", "body": "y", "internal": True}
    )

    assert [e["notify"] for e in seen["agent"]["escalations"]] == [["team-lead"]]
    assert [e["notify"] for e in seen["acme"]["escalations"]] == [[]]
    assert "delivery_failed" in [e["kind"] for e in timelines["agent"]]
    assert "delivery_failed" not in [e["kind"] for e in timelines["acme"]]
    assert "escalated" in [e["kind"] for e in timelines["acme"]]
    customer_text = str(seen["acme"]) + str(timelines["acme"])
    assert "team-lead" not in customer_text and "smtp.internal" not in customer_text
    assert history.status_code == 403 and "timeline" in history.json()["detail"]
    assert [c["body"] for c in seen["acme"]["comments"]] == ["on it"]
    assert (seen["acme"]["comment_count"], seen["agent"]["comment_count"]) == (1, 2)
    assert [c["internal"] for c in seen["agent"]["comments"]] == [False, True]
    assert [e["kind"] for e in timelines["acme"]].count("commented") == 1
    assert [e["kind"] for e in timelines["agent"]].count("commented") == 2
    assert [c["body"] for c in pages["acme"]["comments"]] == ["on it"]
    assert pages["acme"]["comment_count"] == 1 and pages["agent"]["comment_count"] == 2
    assert internal.status_code == 403 and "internal" in internal.json()["detail"]


# Each action's least body, without the field naming who does it (a new action needs its own).
LEAST: dict[str, dict[str, Any]] = {
    "respond": {}, "resolve": {}, "close": {}, "pause": {"reason": "logs"}, "resume": {},
    "reopen": {}, "change": {"assignee": "bob"}, "comment": {"body": "any news?"},
    "rate": {"score": 5}, "repair": {"reason": "config fixed"},
}  # fmt: skip
# An agent may not do an admin's action at all (403 before any name is looked at).
NAMED = [kind for kind in ACTIONS if kind.actor is not None and not kind.admin_only]


@pytest.mark.parametrize("kind", NAMED, ids=lambda kind: kind.name)
async def test_an_agent_key_naming_someone_else_is_refused_on_every_action(
    keyed: Keyed, sample_ticket: str, kind: ActionKind[Any]
) -> None:
    assert kind.actor is not None
    body = LEAST[kind.name] | {kind.actor: "bob"}
    path = T.format(tid=sample_ticket) + kind.path
    response = await call(keyed, "agent", kind.method, path, body)
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == (
        f"an agent key acts as itself: {kind.actor} must be 'alice' (its key's name) or left out"
    )


@pytest.mark.parametrize(
    "kind", [k for k in NAMED if k.customer_field is not None], ids=lambda kind: kind.name
)
async def test_a_customer_key_naming_someone_else_is_refused(
    keyed: Keyed, sample_ticket: str, kind: ActionKind[Any]
) -> None:
    assert kind.actor is not None
    body = LEAST[kind.name] | {kind.actor: "alice"}
    path = T.format(tid=sample_ticket) + kind.path
    response = await call(keyed, "acme", kind.method, path, body)
    assert response.status_code == 403, response.text
    assert response.json()["detail"] == (
        f"a customer key acts as itself: {kind.actor} must be 'acme-portal' (its key's name) "
        "or left out"
    )


@pytest.mark.parametrize("who", ["admin", "agent", "acme", "no keys"])
async def test_sent_by_is_the_apis_to_set_never_a_bodys(
    keyed: Keyed, http: httpx.AsyncClient, sample_ticket: str, who: str
) -> None:
    body = {"body": "any news?", "sent_by": "ops"}
    path = T.format(tid=sample_ticket) + "/comments"
    if who == "no keys":
        response = await http.post(path, json=body)
    else:
        response = await call(keyed, who, "POST", path, body)
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "sent_by"]]


async def test_without_keys_the_body_names_who_does_it(
    http: httpx.AsyncClient, sample_ticket: str
) -> None:
    response = await http.post(T.format(tid=sample_ticket) + "/respond", json={"message": "hi"})
    assert response.status_code == 422, response.text
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "agent_id"]]


def test_an_idempotency_key_is_scoped_to_the_api_key_within_the_request_id_limit() -> None:
    assert scoped_request_id("alice", "deploy-4711") == "alice:deploy-4711"
    assert scoped_request_id("ops", "deploy-4711") != scoped_request_id("alice", "deploy-4711")
    longest = "k" * REQUEST_ID_LIMIT
    hashed = {scoped_request_id(who, longest) for who in ("alice", "ops", "x" * 64)}
    assert len(hashed) == 3 and all(len(h) <= REQUEST_ID_LIMIT for h in hashed)
    assert scoped_request_id("alice", longest) == scoped_request_id("alice", longest)
    assert scoped_request_id("alice", longest) != scoped_request_id("alice", longest[:-1] + "j")
