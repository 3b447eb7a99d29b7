"""The running product: a real worker and the real API over HTTP, on the local dev server; and
`slaflow` processes of the test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli import KEEP_ALIVE_SECONDS, open_store
from settings import Settings
from sla.what_if import why_not_reproduced
from store import Store
from tests.support.http import API_CONFIG, serve
from tests.support.ports import free_port
from tests.support.processes import Processes
from worker import build_worker


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("slaflow-data")
    return Settings(
        config=API_CONFIG,
        data_dir=data_dir,
        task_queue=f"slaflow-e2e-{uuid.uuid4().hex[:8]}",
        api_port=free_port(),
        # Generous: a loaded 2-core CI box can take seconds per workflow task.
        max_request_seconds=20,
    )


# Every ticket the suite opens was opened within these.
EVER = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def assert_reproduced(store: Store) -> None:
    """The journal of every ticket in the store, replayed under the policy it ran under, gives
    the store's outcome again (docs/what-if.md): what a what-if's comparison stands on. Each is
    compared at its outcome's time, so tickets still running meanwhile do not matter."""
    tickets, _ = store.journaled_tickets(*EVER)
    missed = {t.opening.ticket_id: why for t in tickets if (why := why_not_reproduced(t))}
    assert missed == {}, f"{len(missed)} of {len(tickets)} tickets not reproduced: {missed}"


@pytest.fixture(scope="session")
def store(e2e_settings: Settings) -> Iterator[Store]:
    opened = open_store(e2e_settings)  # the one the API reads, as `slaflow up` shares it
    yield opened
    assert_reproduced(opened)  # once the session's tests are done with it


@pytest.fixture(scope="session")
async def api_url(
    dev_env: WorkflowEnvironment, e2e_settings: Settings, store: Store
) -> AsyncIterator[str]:
    """A worker and the API served by uvicorn on a real port, as `slaflow up` runs them."""
    worker = build_worker(dev_env.client, e2e_settings, store)
    worker_task = asyncio.create_task(worker.run())
    app = create_app(e2e_settings, dev_env.client, store)
    async with serve(app, e2e_settings.api_port, timeout_keep_alive=KEEP_ALIVE_SECONDS) as url:
        yield url
    await worker.shutdown()
    await worker_task


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    # Above the API's own 20 s deadline, so the API answers (503) before the client gives up.
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        yield client


@pytest.fixture
def customer() -> str:
    """A customer id of its own per test, so visibility queries see only this test's tickets."""
    return f"cust-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def processes(tmp_path: Path, dev_env: WorkflowEnvironment) -> Iterator[Processes]:
    """`slaflow worker` and `slaflow api` processes of the test's own, on the shared dev
    server; all killed after it."""
    running = Processes(tmp_path, dev_env.client.service_client.config.target_host)
    yield running
    running.kill_all()
    if running.database.exists():  # a test on PostgreSQL has its own
        kept = Store.at(running.database)
        try:
            assert_reproduced(kept)
        finally:
            kept.close()
