"""Access control (API.md "Access"): API keys with roles, against a real worker and Temporal.

A second app with a keys file runs in-process on the same task queue as the `api_url` fixture's
worker, so tickets really run. Tickets are opened with the admin key; acme-e2e is the customer
key's own customer, globex-e2e another customer (both in sla-test.yaml).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli import _check_bind
from settings import Settings
from sla.policy import ConfigError
from store import Store
from tests.e2e.conftest import free_port

MINE, THEIRS = "acme-e2e", "globex-e2e"
WRONG_KEY = "not-a-key-of-this-server-0123456789"
INCIDENT = {"started_at": "2001-01-01T00:00:00Z", "service": "access-e2e", "note": "drill"}


@dataclass
class Keyed:
    http: httpx.AsyncClient
    keys: dict[str, str]  # admin, agent, acme (customer acme-e2e), globex (customer globex-e2e)


@pytest.fixture(scope="module")
async def keyed(
    api_url: str,  # its worker serves the task queue this app starts tickets on
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Keyed]:
    keys = {who: secrets.token_urlsafe(24) for who in ("admin", "agent", "acme", "globex")}
    entries = [
        {"name": "ops", "key": keys["admin"], "role": "admin"},
        {"name": "alice", "key": keys["agent"], "role": "agent"},
        {"name": "acme-portal", "key": keys["acme"], "role": "customer", "customer_id": MINE},
        {"name": "globex-portal", "key": keys["globex"], "role": "customer", "customer_id": THEIRS},
    ]
    path = tmp_path_factory.mktemp("access") / "keys.yaml"
    path.write_text(yaml.safe_dump({"keys": entries}))
    app = create_app(e2e_settings.model_copy(update={"api_keys_file": path}), dev_env.client, store)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api", timeout=20
        ) as http,
    ):
        yield Keyed(http, keys)


async def call(
    k: Keyed, who: str | None, method: str, path: str, body: Any = None, **headers: str
) -> httpx.Response:
    if who is not None:
        headers["Authorization"] = f"Bearer {k.keys[who]}"
    return await k.http.request(method, path, json=body, headers=headers)


async def new_ticket(k: Keyed, customer: str) -> str:
    body = {"title": "VPN down", "priority": "P3", "customer_id": customer}
    response = await call(k, "admin", "POST", "/tickets", body)
    assert response.status_code == 201, response.text
    ticket_id: str = response.json()["ticket_id"]
    return ticket_id


GIVEN = {  # what an admin does to a fresh ticket first, so the action under test can apply
    "respond": ("/respond", {"agent_id": "ops"}),
    "resolve": ("/resolve", {"agent_id": "ops"}),
    "pause": ("/pause", {"reason": "waiting for logs"}),
}
T = "/tickets/{tid}"
CAL = "/calendars/berlin-office"
# name, method, path, body, given, expected status for (admin, agent, the customer key on its own
# ticket or customer, the customer key on another customer's); None: the row has no "another's".
ROWS: list[tuple[str, str, str, Any, tuple[str, ...], tuple[int, int, int, int | None]]] = [
    ("open", "POST", "/tickets", {"title": "x", "priority": "P3", "customer_id": "{customer}"},
     (), (201, 201, 201, 403)),
    ("list", "GET", "/tickets", None, (), (200, 200, 200, None)),
    ("read", "GET", T, None, (), (200, 200, 200, 404)),
    ("history", "GET", T + "/history", None, (), (200, 200, 200, 404)),
    ("timeline", "GET", T + "/timeline", None, (), (200, 200, 200, 404)),
    ("comment", "POST", T + "/comments", {"author": "alice", "body": "any news?"},
     (), (200, 200, 200, 404)),
    ("reopen", "POST", T + "/reopen", {"reason": "still down"}, ("resolve",),
     (200, 200, 200, 404)),
    # An open ticket cannot be reopened: the 409 comes from the workflow's validator, so it still
    # proves the role was let through; another customer's ticket is 404 before any state is read.
    ("reopen-open-ticket", "POST", T + "/reopen", {}, (), (409, 409, 409, 404)),
    ("respond", "POST", T + "/respond", {"agent_id": "alice"}, (), (200, 200, 403, 403)),
    ("resolve", "POST", T + "/resolve", {"agent_id": "alice"}, (), (200, 200, 403, 403)),
    ("pause", "POST", T + "/pause", {"reason": "logs"}, (), (200, 200, 403, 403)),
    ("resume", "POST", T + "/resume", {}, ("pause",), (200, 200, 403, 403)),
    ("close", "POST", T + "/close", {}, ("resolve",), (200, 200, 403, 403)),
    ("patch", "PATCH", T, {"assignee": "bob"}, (), (200, 200, 403, 403)),
    ("policies", "GET", "/policies", None, (), (200, 200, 403, None)),
    ("calendars", "GET", "/calendars", None, (), (200, 200, 403, None)),
    ("preview", "GET", CAL + "/preview?start=2026-01-05T08:00:00Z&duration=8h", None, (),
     (200, 200, 403, None)),
    ("business-time", "GET", CAL + "/business-time?start=2026-01-05T00:00:00Z"
     "&end=2026-01-06T00:00:00Z", None, (), (200, 200, 403, None)),
    ("report", "GET", "/reports/sla?from=2025-12-01&to=2025-12-31", None, (),
     (200, 200, 403, None)),
    # API.md does not name statements for agents; the product lets staff read every one.
    ("statement", "GET", "/customers/{customer}/statement?month=2025-12", None, (),
     (200, 200, 200, 404)),
    ("availability", "GET", "/availability?month=2025-12", None, (), (200, 200, 403, None)),
    ("incident-open", "POST", "/availability/incidents", INCIDENT, (), (201, 403, 403, None)),
    ("incident-end", "PATCH", "/availability/incidents/{incident}",
     {"ended_at": "2001-01-01T01:00:00Z"}, (), (200, 403, 403, None)),
    ("metrics", "GET", "/metrics", None, (), (200, 200, 403, None)),
    ("notifications-test", "POST", "/notifications/test", {"target": "webhook:e2e-down"}, (),
     (200, 403, 403, None)),
]  # fmt: skip
CALLERS = {"admin": "admin", "agent": "agent", "mine": "acme", "theirs": "acme"}
ROLE_CASES = [
    pytest.param(row, caller, status, id=f"{row[0]}-{caller}")
    for row in ROWS
    for caller, status in zip(CALLERS, row[5], strict=True)
    if status is not None
]


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("row", "caller", "expected"), ROLE_CASES)
async def test_each_role_gets_its_status_on_each_endpoint_and_a_refusal_changes_nothing(
    keyed: Keyed, row: tuple[Any, ...], caller: str, expected: int
) -> None:
    _, method, path, body, given, _ = row
    values = {"customer": THEIRS if caller == "theirs" else MINE}
    if "{tid}" in path:
        values["tid"] = await new_ticket(keyed, values["customer"])
        for step in given:
            suffix, step_body = GIVEN[step]
            done = await call(keyed, "admin", "POST", T.format(**values) + suffix, step_body)
            assert done.status_code == 200, done.text
    if "{incident}" in path:
        opened = await call(keyed, "admin", "POST", "/availability/incidents", INCIDENT)
        values["incident"] = opened.json()["id"]
    before = None
    if "tid" in values:
        before = (await call(keyed, "admin", "GET", T.format(**values))).json()

    response = await call(keyed, CALLERS[caller], method, fill(path, values), fill(body, values))

    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.json()["detail"]
        if before is not None:  # nothing happened to the ticket
            assert (await call(keyed, "admin", "GET", T.format(**values))).json() == before


@pytest.fixture(scope="module")
async def sample_ticket(keyed: Keyed) -> str:
    return await new_ticket(keyed, MINE)


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
    keyed: Keyed, sample_ticket: str, row: tuple[Any, ...], auth: str
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


@pytest.mark.parametrize("headers", [{}, {"Authorization": f"Bearer {WRONG_KEY}"}])
async def test_healthz_is_open_with_or_without_a_key(keyed: Keyed, headers: dict[str, str]) -> None:
    response = await keyed.http.get("/healthz", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok"


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


async def listed(k: Keyed, who: str, **params: str) -> list[dict[str, Any]]:
    """Every page of GET /tickets for this caller."""
    tickets: list[dict[str, Any]] = []
    token = None
    headers = {"Authorization": f"Bearer {k.keys[who]}"}
    while True:
        query = {**params, "page_size": "50", **({"page_token": token} if token else {})}
        response = await k.http.get("/tickets", params=query, headers=headers)
        assert response.status_code == 200, response.text
        tickets += response.json()["tickets"]
        token = response.json()["next_page_token"]
        if not token:
            return tickets


async def test_a_customer_lists_only_its_own_tickets_whatever_customer_id_it_asks_for(
    keyed: Keyed,
) -> None:
    mine, theirs = await new_ticket(keyed, MINE), await new_ticket(keyed, THEIRS)
    for _ in range(100):  # visibility is eventually consistent
        seen = {t["ticket_id"] for t in await listed(keyed, "admin")}
        if {mine, theirs} <= seen:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the tickets never became visible")

    own = await listed(keyed, "acme")
    assert mine in {t["ticket_id"] for t in own}
    assert {t["customer_id"] for t in own} == {MINE}
    assert await listed(keyed, "acme", customer_id=THEIRS) == []
    assert {t["customer_id"] for t in await listed(keyed, "acme", customer_id=MINE)} == {MINE}
    assert theirs in {t["ticket_id"] for t in await listed(keyed, "admin", customer_id=THEIRS)}


async def test_a_customer_comment_and_reopen_are_recorded_under_the_customers_id(
    keyed: Keyed,
) -> None:
    tid = await new_ticket(keyed, MINE)
    comment = {"author": "alice", "body": "it is still down"}  # posing as an agent
    commented = await call(keyed, "acme", "POST", f"/tickets/{tid}/comments", comment)
    assert commented.status_code == 200, commented.text
    last = commented.json()["comments"][-1]
    assert (last["author"], last["body"]) == (MINE, "it is still down")
    await call(keyed, "admin", "POST", f"/tickets/{tid}/resolve", {"agent_id": "ops"})
    reopen = {"reason": "no", "actor": "alice"}
    assert (await call(keyed, "acme", "POST", f"/tickets/{tid}/reopen", reopen)).status_code == 200
    timeline = (await call(keyed, "acme", "GET", f"/tickets/{tid}/timeline")).json()["entries"]
    actors = {e["kind"]: e["actor"] for e in timeline}
    assert (actors["commented"], actors["reopened"], actors["resolved"]) == (MINE, MINE, "ops")


async def test_one_idempotency_key_from_two_customers_opens_two_tickets(keyed: Keyed) -> None:
    """Idempotency keys are scoped to the caller: one client's key never finds another's ticket."""
    opened = []
    for who, customer in (("acme", MINE), ("globex", THEIRS)):
        body = {"title": "VPN down", "priority": "P3", "customer_id": customer}
        headers = {"Idempotency-Key": "order-4711"}
        response = await call(keyed, who, "POST", "/tickets", body, **headers)
        assert response.status_code == 201, response.text
        assert response.json()["customer_id"] == customer
        opened.append(response.json()["ticket_id"])
    assert opened[0] != opened[1]


async def test_a_taken_ticket_id_is_refused_without_telling_whose_it_is(keyed: Keyed) -> None:
    theirs = await new_ticket(keyed, THEIRS)
    body = {"title": "mine now", "priority": "P1", "customer_id": MINE, "ticket_id": theirs}
    response = await call(keyed, "acme", "POST", "/tickets", body)
    assert response.status_code == 409, response.text
    assert THEIRS not in response.text and "VPN down" not in response.text


async def test_keys_never_appear_in_responses_or_logs(
    keyed: Keyed, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tid = await new_ticket(keyed, MINE)
    responses = [
        await call(keyed, "acme", "GET", f"/tickets/{tid}"),
        await call(keyed, "acme", "POST", f"/tickets/{tid}/comments", {"author": "x", "body": "y"}),
        await call(keyed, "acme", "POST", f"/tickets/{tid}/respond", {"agent_id": "x"}),
        await call(keyed, "agent", "POST", "/availability/incidents", INCIDENT),
        await call(keyed, "admin", "GET", f"/tickets/{tid}/history"),
        await call(keyed, "globex", "GET", f"/tickets/{tid}"),
        await keyed.http.get("/tickets", headers={"Authorization": f"Bearer {WRONG_KEY}"}),
        await keyed.http.get("/tickets", headers={"Authorization": f"Basic {keyed.keys['agent']}"}),
    ]
    assert [r.status_code for r in responses] == [200, 200, 403, 403, 200, 404, 401, 401]
    secret_values = [*keyed.keys.values(), WRONG_KEY]
    for response in responses:
        seen = response.text + repr(response.headers.multi_items())
        assert not [s for s in secret_values if s in seen]
    logged = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert not [s for s in secret_values if s in logged]


async def test_ticket_history_holds_webhook_names_but_no_webhook_secret_or_url(
    keyed: Keyed,
) -> None:
    tid = await new_ticket(keyed, MINE)
    history = await call(keyed, "acme", "GET", f"/tickets/{tid}/history")
    assert history.status_code == 200
    assert "webhook:e2e-receiver" in history.text  # the routing is frozen into the ticket by name
    assert "e2e-secret" not in history.text and "127.0.0.1:18765" not in history.text


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
    tmp_path: Path, e2e_settings: Settings, entries: list[dict[str, str]], problem: str
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(yaml.safe_dump({"keys": entries}))
    with pytest.raises(ConfigError) as failure:
        create_app(e2e_settings.model_copy(update={"api_keys_file": path}))
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


def test_slaflow_up_on_all_interfaces_without_keys_exits_before_starting_anything(
    tmp_path: Path,
) -> None:
    data_dir, temporal_port = tmp_path / "data", free_port()
    env = {k: v for k, v in os.environ.items() if k != "TEMPORAL_ADDRESS"}
    env.pop("SLAFLOW_API_KEYS_FILE", None)
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "slaflow"), "up",
            "--config", str(Path(__file__).parent / "sla-test.yaml"),
            "--data-dir", str(data_dir), "--api-host", "0.0.0.0",
            "--api-port", str(free_port()), "--temporal-port", str(temporal_port),
            "--ui-port", str(free_port()),
        ],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "refusing to serve the API on 0.0.0.0" in done.stderr
    assert "--api-keys" in done.stderr
    assert not data_dir.exists()  # no dev server, no store: it stopped before either
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", temporal_port)) != 0
