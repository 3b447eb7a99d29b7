"""The ticket routes' input checks, which answer before any ticket runs: validation (422), the
body limit (413), page tokens (422). The tickets themselves: tests/e2e/test_tickets_api.py."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"priority": "P1", "customer_id": "c"}, "title"),
        ({"title": "t", "priority": "P9", "customer_id": "c"}, "priority"),
        ({"title": "x" * 201, "priority": "P1", "customer_id": "c"}, "title"),
        ({"title": "t", "priority": "P1", "customer_id": "c/../d"}, "customer_id"),
        ({"title": "t", "priority": "P1", "customer_id": "c", "ticket_id": "a b"}, "ticket_id"),
        ({"title": "t", "priority": "P1", "customer_id": "c", "sneaky": 1}, "sneaky"),
        ({"title": "t", "priority": "P1", "customer_id": "c", "description": "d" * 10_001},
         "description"),
    ],
)  # fmt: skip
async def test_invalid_ticket_is_422_naming_the_field(
    http: httpx.AsyncClient, body: dict[str, Any], problem: str
) -> None:
    response = await http.post("/tickets", json=body)
    assert response.status_code == 422
    assert problem in response.text


async def test_malformed_and_oversized_bodies_are_4xx(http: httpx.AsyncClient) -> None:
    broken = await http.post(
        "/tickets", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    huge = await http.post("/tickets", content=b"x" * (65 * 1024),
                           headers={"content-type": "application/json"})  # fmt: skip
    assert huge.status_code == 413
    assert "too large" in huge.json()["detail"]

    async def chunks() -> Any:
        for _ in range(70):
            yield b" " * 1024

    streamed = await http.post(
        "/tickets", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413


async def test_a_garbled_page_token_is_422(http: httpx.AsyncClient) -> None:
    for garbage in ("%%%", "AAAA"):
        bad = await http.get("/tickets", params={"page_token": garbage})
        assert bad.status_code == 422, garbage
