"""/metrics on the running product: slaflow_open_tickets{sla} read from visibility at each scrape
(tickets not yet resolved, breached or on track); a resolved ticket leaves it."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.http import open_ticket, wait_until


async def open_tickets(http: httpx.AsyncClient) -> dict[str, float]:
    text = (await http.get("/metrics")).text
    return {
        sample.labels["sla"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "slaflow_open_tickets"
    }


async def test_open_tickets_by_sla_state(http: httpx.AsyncClient, customer: str) -> None:
    ticket = await open_ticket(http, customer, priority="P3")  # hours from any breach
    counted = await open_tickets(http)
    assert counted.keys() == {"breached", "on_track"} and counted["on_track"] >= 1
    tid = ticket["ticket_id"]
    for action in ("respond", "resolve"):
        answer = await http.post(f"/tickets/{tid}/{action}", json={"agent_id": "alice"})
        assert answer.status_code == 200, answer.text
    query = f"/tickets?customer_id={customer}&status=resolved"

    async def resolved_listed() -> bool:
        return bool((await http.get(query)).json().get("tickets"))

    await wait_until(resolved_listed)  # visibility has it resolved
    after = await open_tickets(http)
    assert after["on_track"] <= counted["on_track"] - 1  # nothing else opens meanwhile
