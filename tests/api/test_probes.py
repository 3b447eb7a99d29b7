"""/livez asks nothing of anything: it answers while the process serves (here with no Temporal
at all), key or none. /readyz and /healthz against Temporal are in tests/e2e/test_probes.py."""

from __future__ import annotations

import httpx

from tests.support.access import WRONG_KEY, Keyed


async def test_livez_answers_without_temporal(http: httpx.AsyncClient) -> None:
    response = await http.get("/livez")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_livez_needs_no_key(keyed: Keyed) -> None:
    for headers in ({}, {"Authorization": f"Bearer {WRONG_KEY}"}):
        response = await keyed.http.get("/livez", headers=headers)
        assert response.status_code == 200 and response.json() == {"status": "ok"}
