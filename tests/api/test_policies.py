"""GET /policies: the configured targets as support staff read them."""

from __future__ import annotations

import httpx


async def test_policies_answer_the_configured_targets(http: httpx.AsyncClient) -> None:
    policies = (await http.get("/policies")).json()
    assert policies["default_policy"] == "standard"
    targets = policies["policies"]["standard"]["targets"]
    assert (targets["P1"]["response_seconds"], targets["P1"]["resolution_seconds"]) == (900, 7200)
    assert (targets["P3"]["response"], targets["P3"]["resolution"]) == ("4h", "1d")
