"""/healthz needs no key, so it tells whoever asks only "ok" or "unavailable"; a staff key (or
an API without keys, where every caller is an admin) gets the detail: Temporal, namespace,
task queue, workers, store, what waits. The status codes are the same for both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from settings import Settings
from store import Store
from tests.support.access import WRONG_KEY, Keyed, call, keyed_app

DETAIL = {"temporal", "namespace", "task_queue", "workers", "store", "pending_effects"}


def keyed_on(
    settings: Settings, dev_env: WorkflowEnvironment, store: Store, keys_file: Path
) -> AbstractAsyncContextManager[Keyed]:
    """An app with keys on these settings' task queue, in-process."""

    def build(keys: Path) -> FastAPI:
        keyed = settings.model_copy(update={"api_keys_file": keys})
        return create_app(keyed, dev_env.client, store)

    return keyed_app(build, keys_file)


@pytest.fixture(scope="module")
async def ready(
    api_url: str,  # its worker polls the task queue, so this app is ready
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Keyed]:
    keys = tmp_path_factory.mktemp("health") / "keys.yaml"
    async with keyed_on(e2e_settings, dev_env, store, keys) as keyed:
        yield keyed


@pytest.fixture(scope="module")
async def starting(
    dev_env: WorkflowEnvironment,
    e2e_settings: Settings,
    store: Store,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Keyed]:
    keys = tmp_path_factory.mktemp("health") / "keys.yaml"
    # No worker polls this queue: not ready.
    settings = e2e_settings.model_copy(update={"task_queue": f"nobody-{uuid.uuid4().hex[:6]}"})
    async with keyed_on(settings, dev_env, store, keys) as keyed:
        yield keyed


@pytest.mark.parametrize("who", [None, "acme", "wrong"])
async def test_without_a_staff_key_healthz_says_ok_and_nothing_more(
    ready: Keyed, who: str | None
) -> None:
    if who == "wrong":
        wrong = {"Authorization": f"Bearer {WRONG_KEY}"}
        response = await ready.http.get("/healthz", headers=wrong)
    else:
        response = await call(ready, who, "GET", "/healthz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


@pytest.mark.parametrize("who", [None, "acme"])
async def test_without_a_staff_key_a_server_not_ready_says_unavailable_and_nothing_more(
    starting: Keyed, who: str | None
) -> None:
    response = await call(starting, who, "GET", "/healthz")
    assert response.status_code == 503, response.text
    assert response.json() == {"status": "unavailable"}
    assert "nobody-" not in response.text and "default" not in response.text


@pytest.mark.parametrize("who", ["admin", "agent"])
async def test_a_staff_key_gets_the_detail(ready: Keyed, starting: Keyed, who: str) -> None:
    ok = await call(ready, who, "GET", "/healthz")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.json().keys() >= DETAIL and ok.json()["workers"] >= 1
    waiting = await call(starting, who, "GET", "/healthz")
    assert waiting.status_code == 503
    assert waiting.json()["status"] == "starting" and "no worker" in waiting.json()["detail"]
    assert waiting.json().keys() >= DETAIL


async def test_without_keys_every_caller_gets_the_detail(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200 and response.json().keys() >= DETAIL
