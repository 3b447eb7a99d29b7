"""The reports page's what-if panel in a real headless Chromium: pick a configured policy or
paste one, and see actual against proposed, the credits' change and the tickets that change.
The board's own app, worker and 5-second P1 response target (tests/e2e/test_board.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from tests.e2e.test_board import (  # the board's fixtures, for an instance of this module's own
    MINE,
    Board,
    Page,
    board,
    browser,
    expect,
    open_on_board,
    page,
    ticket_id,
)

__all__ = ["board", "browser", "page"]

LOOSE = """\
targets:
  P1: {response: 1h, resolution: 1h}
  P2: {response: 1h, resolution: 8h}
  P3: {response: 4h, resolution: 1d}
credits:
  response_breach: {P1: 2%}
"""


async def test_the_what_if_panel_shows_a_pasted_policys_deltas(board: Board, page: Page) -> None:
    early, late = ticket_id("W-early"), ticket_id("W-late")
    await open_on_board(board, early, "P1")
    await open_on_board(board, late, "P1")
    assert (
        await board.http.post(f"/tickets/{early}/respond", json={"agent_id": "alice"})
    ).is_success
    for _ in range(100):  # the 5 s response target passes
        if (await board.http.get(f"/tickets/{late}")).json()["response"]["state"] == "breached":
            break
        await asyncio.sleep(0.2)
    assert (
        await board.http.post(f"/tickets/{late}/respond", json={"agent_id": "alice"})
    ).is_success
    # Resolved, the late answer is in the store: a respond's outcome waits for the ticket's
    # next record (docs/design.md, "What may wait for the alarm"), a resolution's does not.
    assert (
        await board.http.post(f"/tickets/{late}/resolve", json={"agent_id": "alice"})
    ).is_success

    today = datetime.now(UTC).date().isoformat()
    await page.goto(f"{board.url}/board/reports?from={today}&to={today}")
    form = page.locator("#what-if-form")
    await form.locator("[name=customer_id]").fill(MINE)
    # A configured policy, unchanged: sent by name, so nothing changes.
    await expect(form.locator("[name=configured] option[value=fast]")).to_have_count(1)
    await form.locator("[name=configured]").select_option("fast")
    await expect(form.locator("[name=policy]")).to_have_value(re.compile('"calendar": "always"'))
    await form.locator("button[type=submit]").click()
    result = page.locator("#what-if-result")
    await expect(result).to_be_visible()
    await expect(page.locator("#what-if-trust")).to_contain_text("reproduced what happened")
    await expect(page.locator("#what-if-changed")).to_contain_text("No ticket changes")

    # A pasted YAML policy with an hour to answer: the late answer is met, its credit goes.
    await form.locator("[name=policy]").fill(LOOSE)
    await form.locator("button[type=submit]").click()
    changed = page.locator(f'#what-if-changed tr[data-ticket-id="{late}"]')
    await expect(changed).to_contain_text("breached")
    await expect(changed).to_contain_text("met")
    await expect(changed.locator("a")).to_have_attribute("href", f"/board/tickets/{late}")
    row = page.locator('#what-if-clocks tr[data-group="all"][data-metric="response"]')
    await expect(row).to_contain_text("1 → 2")  # met
    await expect(row).to_contain_text("1 → 0")  # breached
    await expect(page.locator(f'#what-if-credits tr[data-customer="{MINE}"]')).to_contain_text(
        "100.00 EUR"
    )
    await expect(page.locator(f'#what-if-credits tr[data-customer="{MINE}"]')).to_contain_text(
        "-100.00 EUR"
    )

    # A policy that is wrong: the API's reason, with its key.
    await form.locator("[name=policy]").fill("targets: {P1: {response: soon}}")
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#what-if-error")).to_contain_text("policy.targets")
    await expect(result).to_be_hidden()
