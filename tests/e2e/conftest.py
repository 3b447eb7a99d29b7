"""The running product: a real worker and the real API over HTTP, on the local dev server."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from store import Store
from worker import build_worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def e2e_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir: Path = tmp_path_factory.mktemp("slaflow-data")
    return Settings(
        config=Path(__file__).parent / "sla-test.yaml",
        data_dir=data_dir,
        task_queue=f"slaflow-e2e-{uuid.uuid4().hex[:8]}",
        api_port=free_port(),
        # Generous: a loaded 2-core CI box can take seconds per workflow task.
        max_request_seconds=20,
    )


@pytest.fixture(scope="session")
def store(e2e_settings: Settings) -> Store:
    return e2e_settings.store()  # the one the API reads, as `slaflow up` shares it


@pytest.fixture(scope="session")
async def api_url(
    dev_env: WorkflowEnvironment, e2e_settings: Settings, store: Store
) -> AsyncIterator[str]:
    """A worker and the API served by uvicorn on a real port, as `slaflow up` runs them."""
    worker = build_worker(dev_env.client, e2e_settings, store)
    worker_task = asyncio.create_task(worker.run())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(e2e_settings, dev_env.client, store),
            host="127.0.0.1",
            port=e2e_settings.api_port,
            log_level="warning",
        )
    )
    server_task = asyncio.create_task(server.serve())
    url = f"http://127.0.0.1:{e2e_settings.api_port}"
    async with httpx.AsyncClient(base_url=url) as http:
        for _ in range(200):
            try:
                if (await http.get("/healthz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError("the API never became ready")
    yield url
    server.should_exit = True
    await server_task
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
