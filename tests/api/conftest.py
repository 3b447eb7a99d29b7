"""The real FastAPI app in-process, without Temporal: the routes talk to a fake desk, the rest
(keys, body limit, validation, error mapping, store, notifier) is the product's own.

A test that needs a ticket to run, be listed or change belongs in tests/e2e: here the desk
knows one sample ticket to read, and any other desk call or use of Temporal fails the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from fastapi import FastAPI
from temporalio.client import Client

from api.app import create_app
from api.deps import get_desk
from api.errors import not_found
from cli import open_store
from config.resolve import policy_snapshot
from settings import Settings
from sla.policy import SlaConfig
from sla.state import CommentsPage, CommentsWanted
from sla.ticket import TicketState
from store import Store
from tests.support import rules
from tests.support.access import MINE, Keyed, keyed_app
from tests.support.http import API_CONFIG, asgi_client


class NoTemporal:
    """Stands where the app keeps its Temporal client: any use of it fails the test."""

    namespace = "default"  # what the client is on: no call, the board's link names it

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AssertionError(f"the test reached Temporal (client.{name}): it belongs in tests/e2e")


class FakeDesk:
    """What the routes get instead of `api.desk.Desk`: the config, and tickets to read."""

    def __init__(self, config: SlaConfig) -> None:
        self.config = config
        self.task_queue = "no-temporal"
        self.timeout = timedelta(seconds=5)
        self.client = NoTemporal()
        self.tickets: dict[str, TicketState] = {}

    def add(self, state: TicketState) -> None:
        self.tickets[state.ticket_id] = state

    async def get(self, ticket_id: str) -> TicketState:
        if ticket_id not in self.tickets:
            raise not_found(ticket_id)
        return self.tickets[ticket_id]

    async def archived(self, ticket_id: str) -> None:
        return None

    async def comments(self, ticket_id: str, wanted: CommentsWanted) -> CommentsPage:
        return CommentsPage.of(await self.get(ticket_id), wanted)

    def __getattr__(self, name: str) -> Any:
        # open, act, list: they start, change or list workflows.
        if name.startswith("__"):
            raise AttributeError(name)
        raise AssertionError(f"the test called desk.{name}, which needs Temporal: tests/e2e")


@pytest.fixture(scope="session")
def api_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        config=API_CONFIG,
        data_dir=tmp_path_factory.mktemp("slaflow-api"),
        task_queue="no-temporal",
        max_request_seconds=5,
    )


@pytest.fixture(scope="session")
def store(api_settings: Settings) -> Iterator[Store]:
    opened = open_store(api_settings)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def desk(api_settings: Settings) -> FakeDesk:
    return FakeDesk(api_settings.sla_config)


@pytest.fixture(scope="session")
def sample_ticket(desk: FakeDesk) -> str:
    """A ticket of MINE (acme-e2e) the fake desk can read."""
    now = datetime.now(UTC)
    snapshot = policy_snapshot(desk.config, now, MINE)
    desk.add(rules.open_ticket("P3", snapshot, "T-sample", now, customer_id=MINE).state)
    return "T-sample"


@pytest.fixture(scope="session")
def app_for(store: Store, desk: FakeDesk) -> Callable[[Settings], FastAPI]:
    """The app for these settings, on the fake desk and the session's store."""

    def build(settings: Settings) -> FastAPI:
        app = create_app(settings, cast(Client, NoTemporal()), store)
        app.dependency_overrides[get_desk] = lambda: desk
        return app

    return build


@pytest.fixture
async def http(
    api_settings: Settings, app_for: Callable[[Settings], FastAPI]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client to the open API (no keys file)."""
    async with asgi_client(app_for(api_settings)) as client:
        yield client


@pytest.fixture(scope="module")
async def keyed(
    api_settings: Settings,
    app_for: Callable[[Settings], FastAPI],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Keyed]:
    """The app with a keys file of every role (tests/support/access.py), and its keys."""

    def build(keys: Path) -> FastAPI:
        return app_for(api_settings.model_copy(update={"api_keys_file": keys}))

    async with keyed_app(build, tmp_path_factory.mktemp("access") / "keys.yaml") as keyed:
        yield keyed
