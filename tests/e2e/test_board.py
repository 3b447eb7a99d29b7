"""The SLA board in a real headless Chromium: queue, ticket page, reports, and the key prompt.

The board gets its own app instances (an open one and one with a keys file) and its own
worker and task queue, with a policy whose P1 response target is 5 seconds, so a countdown
reaches zero and the breach shows on the page within a test. The browser is Debian's
chromium driven by Playwright; the module is skipped when either is missing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli import open_store
from settings import Settings
from tests.support.http import open_ticket, serve
from tests.support.ports import free_port
from worker import build_worker

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)
async_api = pytest.importorskip("playwright.async_api")
Page = async_api.Page
expect = async_api.expect

# docs/screenshots is refreshed on request only (SLAFLOW_SCREENSHOTS=docs/screenshots), so a
# test run leaves the checkout as it found it.
SCREENSHOTS = Path(
    os.environ.get("SLAFLOW_SCREENSHOTS") or Path(tempfile.gettempdir()) / "slaflow-screenshots"
)
MINE, THEIRS = "board-acme", "board-globex"
TEMPORAL_UI = "http://ui.example:8233"
BROWSER_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CONFIG = {
    "default_policy": "fast",
    "policies": {
        "fast": {
            "calendar": "always",
            "warn_at": [0.5],
            "targets": {
                "P1": {"response": "5s", "resolution": "1h"},
                "P2": {"response": "1h", "resolution": "8h"},
                "P3": {"response": "4h", "resolution": "24h"},
            },
            "credits": {
                "response_breach": {"P1": "2%", "P2": "1%", "P3": "0.5%"},
                "resolution_breach": {"P1": "5%", "P2": "2%", "P3": "1%"},
                "monthly_cap": "30%",
            },
        }
    },
    "customers": {
        MINE: {"policy": "fast", "monthly_fee": 5000, "currency": "EUR"},
        THEIRS: {"policy": "fast", "monthly_fee": 3000, "currency": "EUR"},
    },
}


@dataclass
class Board:
    url: str  # the open API
    keyed_url: str  # the same product with a keys file
    keys: dict[str, str]
    http: httpx.AsyncClient  # to the open API


@pytest.fixture(scope="module")
async def board(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Board]:
    root = tmp_path_factory.mktemp("board")
    (root / "sla.yaml").write_text(yaml.safe_dump(CONFIG))
    keys = {"agent": secrets.token_urlsafe(24), MINE: secrets.token_urlsafe(24)}
    (root / "keys.yaml").write_text(
        yaml.safe_dump(
            {
                "keys": [
                    {"name": "alice", "key": keys["agent"], "role": "agent"},
                    {"name": "acme", "key": keys[MINE], "role": "customer", "customer_id": MINE},
                ]
            }
        )
    )
    settings = Settings(
        config=root / "sla.yaml",
        data_dir=root / "data",
        task_queue=f"slaflow-board-{uuid.uuid4().hex[:8]}",
        max_request_seconds=10,
        temporal_ui_url=TEMPORAL_UI,
    )
    store = open_store(settings)
    worker = build_worker(dev_env.client, settings, store)
    worker_task = asyncio.create_task(worker.run())
    keyed = settings.model_copy(update={"api_keys_file": root / "keys.yaml"})
    async with (
        serve(create_app(settings, dev_env.client, store), free_port()) as url,
        serve(create_app(keyed, dev_env.client, store), free_port()) as keyed_url,
        httpx.AsyncClient(base_url=url, timeout=20) as http,
    ):
        yield Board(url, keyed_url, keys, http)
    await worker.shutdown()
    await worker_task


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    async with async_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=BROWSER_ARGS, timeout=30_000
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Page]:
    # A viewer far from the calendar's zone, so the ticket page shows both.
    context = await browser.new_context(
        timezone_id="America/New_York", locale="en-US", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The pages run under a strict Content-Security-Policy: anything it blocks is a failure.
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield page
    await context.close()
    assert not errors, f"the page's script failed or was blocked: {errors}"


def shot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / name


def ticket_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def open_on_board(board: Board, tid: str, priority: str, customer: str = MINE) -> None:
    await open_ticket(
        board.http, customer, title=f"{priority} board ticket", priority=priority, ticket_id=tid
    )


async def test_queue_opens_a_ticket_whose_countdown_reaches_zero_and_turns_breached(
    board: Board, page: Page
) -> None:
    # Other tickets for the screenshot: assigned, paused, plain.
    calm, paused = ticket_id("B-calm"), ticket_id("B-paused")
    await open_on_board(board, calm, "P3")
    await open_on_board(board, paused, "P2")
    assert (await board.http.patch(f"/tickets/{calm}", json={"assignee": "alice"})).is_success
    pause = await board.http.post(f"/tickets/{paused}/pause", json={"reason": "logs asked"})
    assert pause.is_success

    await page.goto(f"{board.url}/board?customer_id={MINE}&refresh=1")
    await page.evaluate("window.boardNeverReloaded = true")
    tid = ticket_id("B-urgent")
    await page.click("#new-ticket summary")
    form = page.locator("#new-ticket-form")
    await form.locator("[name=title]").fill("Checkout is down")
    await form.locator("[name=priority]").select_option("P1")
    await form.locator("[name=customer_id]").fill(MINE)
    await form.locator("[name=ticket_id]").fill(tid)
    await form.locator("button[type=submit]").click()
    await expect(page.locator("#new-ticket-result")).to_contain_text(f"Opened {tid}")

    row = page.locator(f'tr[data-ticket-id="{tid}"]')
    clock = row.locator('.clock[data-metric="response"]')
    await expect(row).to_be_visible(timeout=15_000)
    await expect(clock).to_have_text("0s", timeout=15_000)  # the countdown, in the browser
    await expect(clock).to_have_attribute("data-state", "breached", timeout=30_000)
    await expect(clock).to_have_class("clock breached")
    assert await page.evaluate("window.boardNeverReloaded") is True
    # Nearest due time first: the breached P1 heads the queue.
    await expect(page.locator("#queue-rows tr").first).to_have_attribute("data-ticket-id", tid)
    await expect(page.locator(f'tr[data-ticket-id="{paused}"] .clock').first).to_have_attribute(
        "data-state", "paused", timeout=15_000
    )
    await expect(page.locator(f'tr[data-ticket-id="{calm}"]')).to_contain_text("alice")

    # The assignee filter lives in the URL and narrows the rows.
    await page.fill("#filters [name=assignee]", "alice")
    await page.click("#filters button[type=submit]")
    assert "assignee=alice" in page.url and f"customer_id={MINE}" in page.url
    await expect(page.locator("#queue-rows tr")).to_have_count(1)
    await page.click("#clear-filters")
    await page.goto(f"{board.url}/board?customer_id={MINE}")
    await expect(page.locator("#queue-rows tr")).to_have_count(3, timeout=15_000)
    await page.wait_for_timeout(1_200)  # one tick, so every countdown shows
    await page.screenshot(path=shot("queue.png"), full_page=True)


async def test_ticket_page_responds_and_shows_the_reason_of_a_refused_action(
    board: Board, page: Page
) -> None:
    tid = ticket_id("B-page")
    await open_on_board(board, tid, "P2")
    # The Temporal link comes from the API's settings; the page's URL cannot choose it.
    await page.goto(f"{board.url}/board/tickets/{tid}?temporal_ui=javascript:alert(1)//")
    await expect(page.locator("#fields")).to_contain_text(MINE)
    await expect(page.locator("#temporal-link")).to_have_attribute(
        "href", f"{TEMPORAL_UI}/namespaces/default/workflows/ticket-{tid}"
    )
    clocks = page.locator("#clocks")
    # Due times in the viewer's zone (New York) and in the calendar's (UTC).
    await expect(clocks).to_contain_text("due (your time)")
    await expect(clocks).to_contain_text("due (calendar always)")
    await expect(clocks).to_contain_text("EDT" if _new_york_summer() else "EST")
    await expect(clocks).to_contain_text("UTC")

    await page.fill("#action-text", "Looking into it")
    await page.click("[data-action=respond]")
    await expect(page.locator('.clock-block[data-metric="response"] .clock')).to_have_attribute(
        "data-state", "met"
    )
    await expect(page.locator("#fields")).to_contain_text("responded")
    await expect(page.locator("#timeline")).to_contain_text("respond", timeout=10_000)

    refused = await board.http.post(f"/tickets/{tid}/close", json={})
    assert refused.status_code == 409
    await page.click("[data-action=close]")
    error = page.locator("#action-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("409")
    await expect(error).to_contain_text(refused.json()["detail"])
    await page.fill("#action-text", "Customer asked for an update")
    await page.click("[data-action=comment]")
    await expect(page.locator("#comments")).to_contain_text("Customer asked for an update")
    await page.click("[data-action=close]")  # the refusal again, for the screenshot
    await expect(error).to_be_visible()
    await page.screenshot(path=shot("ticket.png"), full_page=True)


async def test_the_pages_run_under_a_policy_that_blocks_inline_script(
    board: Board, browser: Any
) -> None:
    """Not the `page` fixture: this page is meant to hit the policy."""
    context = await browser.new_context()
    try:
        page = await context.new_page()
        for path in ("/board", "/board/reports", "/board/tickets/T-none"):
            response = await page.goto(f"{board.url}{path}")
            assert response is not None
            policy = response.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        blocked = await page.evaluate(
            """() => new Promise((resolve) => {
                document.addEventListener("securitypolicyviolation",
                  (e) => resolve(e.effectiveDirective), { once: true });
                const script = document.createElement("script");
                script.textContent = "window.inlineRan = true";
                document.head.append(script);
              })"""
        )
        assert blocked == "script-src-elem"
        assert await page.evaluate("window.inlineRan") is None
    finally:
        await context.close()


def _new_york_summer() -> bool:
    from zoneinfo import ZoneInfo

    offset = datetime.now(ZoneInfo("America/New_York")).utcoffset()
    return offset is not None and offset.total_seconds() == -4 * 3600


async def test_reports_page_charts_compliance_and_shows_a_statement(
    board: Board, page: Page
) -> None:
    today = datetime.now(UTC).date().isoformat()
    await page.goto(f"{board.url}/board/reports?from={today}&to={today}")
    table = page.locator("#report-table tbody")
    await expect(table).to_contain_text("P1")
    await expect(table).to_contain_text(f"customer {MINE}")
    assert await page.evaluate("typeof Chart") == "function"  # the vendored build, no CDN
    assert await page.evaluate("Chart.getChart('chart-priority').data.labels.length") >= 1

    await page.fill("#statement-form [name=customer_id]", MINE)
    await page.fill("#statement-form [name=month]", today[:7])
    await page.click("#statement-form button[type=submit]")
    statement = page.locator("#statement")
    await expect(statement).to_be_visible()
    await expect(statement).to_contain_text("5000")
    await expect(statement).to_contain_text("availability")
    await expect(page.locator("#statement-credits")).to_contain_text("penalty")
    assert f"statement={MINE}" in page.url
    await page.screenshot(path=shot("reports.png"), full_page=True)


async def test_a_customer_key_sees_only_its_own_tickets_on_the_board(
    board: Board, page: Page
) -> None:
    mine, theirs = ticket_id("B-mine"), ticket_id("B-theirs")
    await open_on_board(board, mine, "P3")
    await open_on_board(board, theirs, "P3", customer=THEIRS)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    await page.goto(f"{board.keyed_url}/board")
    dialog = page.locator("#key-dialog")
    await expect(dialog).to_be_visible()
    await page.fill("#key-input", "not-a-key-of-this-server-0123456789")
    await page.click("#key-form button[type=submit]")
    await expect(page.locator("#key-error")).to_contain_text("not accepted")  # 401: asked again
    await page.fill("#key-input", board.keys[MINE])
    await page.click("#key-form button[type=submit]")
    await expect(dialog).to_be_hidden()
    await expect(page.locator(f'tr[data-ticket-id="{mine}"]')).to_be_visible(timeout=15_000)
    await expect(page.locator(f'tr[data-ticket-id="{theirs}"]')).to_have_count(0)

    await page.goto(f"{board.keyed_url}/board?customer_id={THEIRS}")  # key kept in the tab
    await expect(page.locator("#queue-rows")).to_contain_text("No open tickets", timeout=15_000)
    await page.goto(f"{board.keyed_url}/board/tickets/{theirs}")
    await expect(page.locator("#page-error")).to_contain_text(f"no ticket '{theirs}'")
    await expect(page.locator("#fields")).to_be_empty()
    assert not any(board.keys[MINE] in url for url in requests)  # never in a URL


async def test_a_customer_rates_its_resolved_ticket_and_reports_chart_quality(
    board: Board, page: Page
) -> None:
    tid = ticket_id("B-rated")
    await open_on_board(board, tid, "P3")
    resolved = await board.http.post(
        f"/tickets/{tid}/resolve", json={"agent_id": "alice", "resolution": "cleared the cache"}
    )
    assert resolved.is_success, resolved.text

    await page.goto(f"{board.keyed_url}/board/tickets/{tid}")
    await page.fill("#key-input", board.keys[MINE])
    await page.click("#key-form button[type=submit]")
    quality = page.locator("#quality")
    await expect(quality).to_contain_text("cleared the cache")
    await expect(quality).to_contain_text("No rating yet.")
    form = page.locator("#rating-form")
    await expect(form).to_be_visible()
    await page.select_option("#rating-score", "4")
    await page.fill("#rating-comment", "quick and clear")
    await page.click("#rating-submit")
    await expect(page.locator("#ratings")).to_contain_text("4/5")
    await expect(page.locator("#ratings")).to_contain_text("quick and clear")
    await expect(form).to_be_hidden()  # one rating per cycle
    await expect(page.locator("#timeline")).to_contain_text("rated by acme", timeout=10_000)

    today = datetime.now(UTC).date().isoformat()
    await page.goto(f"{board.url}/board/reports?from={today}&to={today}")
    table = page.locator("#quality-table tbody")
    await expect(table.locator('tr[data-group="agent alice"]')).to_be_visible(timeout=15_000)
    row = await table.locator('tr[data-group="all"]').inner_text()
    assert int(row.split()[1]) >= 1  # ratings in the period
    months = await page.evaluate("Chart.getChart('chart-quality-month').data.labels")
    assert len(months) == 6 and months[-1] == today[:7]
