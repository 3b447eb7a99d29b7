"""POST /notifications/test to a Slack, a Teams and a PagerDuty webhook: each gets a body its
service takes (tests/support/services.py), and the answer is reported. A PagerDuty test
resolves an incident that never was, so nobody is paged."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI

from settings import Settings
from tests.support.http import API_CONFIG, asgi_client
from tests.support.receiver import Receiver
from tests.support.services import PagerDuty, Slack, Teams

ROUTING_KEY = "R0123456789abcdef0123456789ABCDE"


@pytest.fixture
def pagerduty() -> PagerDuty:
    return PagerDuty()


@pytest.fixture
def services(receiver: Callable[..., Receiver], pagerduty: PagerDuty) -> dict[str, Receiver]:
    return {
        "slack": receiver(service=Slack()),
        "teams": receiver(service=Teams()),
        "pagerduty": receiver(service=pagerduty),
    }


@pytest.fixture
async def http(
    tmp_path: Path,
    api_settings: Settings,
    app_for: Callable[[Settings], FastAPI],
    services: dict[str, Receiver],
) -> AsyncIterator[httpx.AsyncClient]:
    """The open API with one webhook per on-call format, as a team would paste them."""
    config = yaml.safe_load(API_CONFIG.read_text())
    config["notifications"]["webhooks"] += [
        {"name": "chat", "format": "slack", "url": services["slack"].url},
        {"name": "room", "format": "teams", "url": services["teams"].url},
        {
            "name": "oncall",
            "format": "pagerduty",
            "url": services["pagerduty"].url,
            "routing_key": ROUTING_KEY,
        },
    ]
    path = tmp_path / "sla.yaml"
    path.write_text(yaml.safe_dump(config))
    settings = Settings(**{**api_settings.model_dump(), "config": path})
    async with asgi_client(app_for(settings)) as client:
        yield client


@pytest.mark.parametrize(
    ("target", "service", "status"),
    [("chat", "slack", 200), ("room", "teams", 202), ("oncall", "pagerduty", 202)],
)
async def test_a_test_event_reaches_each_on_call_service_and_its_answer_is_reported(
    http: httpx.AsyncClient,
    services: dict[str, Receiver],
    pagerduty: PagerDuty,
    target: str,
    service: str,
    status: int,
) -> None:
    response = await http.post("/notifications/test", json={"target": f"webhook:{target}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["status_code"]) == (True, status), body
    [got] = services[service].received
    assert got.status == status
    assert got.headers["webhook-id"] == body["event_id"]
    assert ROUTING_KEY not in response.text
    if service == "pagerduty":
        assert pagerduty.history == [("resolve", f"slaflow-test-{body['event_id']}")]
        assert pagerduty.incidents == {}
