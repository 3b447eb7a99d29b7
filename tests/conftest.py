"""Shared fixtures: real Temporal servers (time-skipping and local dev) and a PostgreSQL server,
once per session; webhook receivers and SMTP servers per test (code in tests/support)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from sla.policy import PolicySnapshot, SlaConfig
from tests.support import postgres
from tests.support.mail import Inbox
from tests.support.processes import BIN
from tests.support.receiver import Receiver
from workflows.search_attributes import ALL_KEYS

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
async def time_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server: SLA deadlines pass in milliseconds."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real local dev server with slaflow's search attributes, for visibility and the API."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=ALL_KEYS,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "matching.numTaskqueueReadPartitions=1",
            "--dynamic-config-value",
            "matching.numTaskqueueWritePartitions=1",
        ],
    )
    yield env
    await env.shutdown()


@pytest.fixture
def task_queue() -> str:
    return f"tq-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def shipped_config() -> SlaConfig:
    from settings import load_config_file

    return load_config_file(REPO / "config" / "sla.yaml")


@pytest.fixture(scope="session")
def standard_policy(shipped_config: SlaConfig) -> PolicySnapshot:
    return shipped_config.snapshot()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session; skips where the server is not installed."""
    if not postgres.installed():
        pytest.skip("PostgreSQL server binaries not installed: apt-get install postgresql")
    with postgres.postgres_server() as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    """Starts webhook receivers: `receiver(500, 200)` (the arguments of `Receiver`); each is
    closed after the test."""
    started: list[Receiver] = []

    def start(*statuses: int, **options: Any) -> Receiver:
        started.append(Receiver(*statuses, **options))
        return started[-1]

    yield start
    for one in started:
        one.close()


@pytest.fixture
def mail_server() -> Iterator[Callable[..., Inbox]]:
    """Starts SMTP servers: `mail_server(refuse=True)` (the arguments of `Inbox`); each is
    stopped after the test."""
    started: list[Inbox] = []

    def start(refuse: bool = False) -> Inbox:
        started.append(Inbox(refuse))
        return started[-1]

    yield start
    for inbox in started:
        inbox.close()
