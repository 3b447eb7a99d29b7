"""The running product: a real worker and the real API over HTTP, on the local dev server; and
`slaflow` processes of the test's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from cli import open_store
from settings import Settings
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


@pytest.fixture(scope="session")
def store(e2e_settings: Settings) -> Store:
    return open_store(e2e_settings)  # the one the API reads, as `slaflow up` shares it


@pytest.fixture(scope="session")
async def api_url(
    dev_env: WorkflowEnvironment, e2e_settings: Settings, store: Store
) -> AsyncIterator[str]:
    """A worker and the API served by uvicorn on a real port, as `slaflow up` runs them."""
    worker = build_worker(dev_env.client, e2e_settings, store)
    worker_task = asyncio.create_task(worker.run())
    app = create_app(e2e_settings, dev_env.client, store)
    async with serve(app, e2e_settings.api_port) as url:
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
