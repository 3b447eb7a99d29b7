"""Repairs where no ticket changes: the version of the config in force, and what a repair
request is refused for before it reaches a ticket. Repairs that change tickets, and a bulk
repair, run against a real worker: tests/workflows/test_repair.py, tests/e2e/test_repairs.py."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.support.http import API_CONFIG


async def test_policies_say_the_version_of_the_config_file_in_force(
    http: httpx.AsyncClient,
) -> None:
    policies = (await http.get("/policies")).json()
    assert policies["version"] == hashlib.sha256(API_CONFIG.read_bytes()).hexdigest()[:12]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "detail"),
    [
        ("POST", "/tickets/T-sample/repair", {"reason": "x", "policy": "gold"}, 422,
         "no policy 'gold' in the config in force (it has business, standard)"),
        ("POST", "/tickets/T-sample/repair", {"reason": ""}, 422, None),
        # The policy is resolved by the API from the config: a body never brings one.
        ("POST", "/tickets/T-sample/repair", {"reason": "x", "snapshot": {}}, 422, None),
        ("POST", "/tickets/T-unknown/repair", {"reason": "x"}, 404, None),
        ("POST", "/policies/gold/repair", {"reason": "x"}, 404,
         "no policy 'gold' in the config in force (it has business, standard)"),
        ("POST", "/policies/standard/repair", {"dry_run": True}, 422, None),
        ("GET", "/repairs/not-a-repair", None, 422, None),
    ],
)  # fmt: skip
async def test_a_repair_is_refused_with_the_reason_before_any_ticket_changes(
    http: httpx.AsyncClient,
    sample_ticket: str,
    method: str,
    path: str,
    body: dict[str, object] | None,
    status: int,
    detail: str | None,
) -> None:
    response = await http.request(method, path, json=body)
    assert response.status_code == status, response.text
    if detail is not None:
        assert response.json()["detail"] == detail
