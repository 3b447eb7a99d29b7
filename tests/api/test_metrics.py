"""Request metrics stay bounded (api/metrics.py): whatever methods and paths clients make up,
the request series are labelled by the standard methods or `other` and by route templates or
`unmatched`. Over real HTTP (uvicorn with h11, which passes any method token to the app)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import METHODS
from settings import Settings
from tests.support.access import write_keys
from tests.support.http import serve
from tests.support.ports import free_port

SERIES = ("slaflow_http_requests", "slaflow_http_request_duration_seconds")


def request_series(text: str) -> set[tuple[str, str, str]]:
    """(family, method, route) of every request series /metrics shows."""
    found = set()
    for family in text_string_to_metric_families(text):
        if family.name in SERIES:
            for sample in family.samples:
                found.add((family.name, sample.labels["method"], sample.labels["route"]))
    return found


def requests_total(text: str, labels: dict[str, str]) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "slaflow_http_requests"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels == labels
    )


def templates(routes: Iterable[Any]) -> Iterator[str]:
    """The path template of every route, through included routers."""
    for route in routes:
        if isinstance(getattr(route, "path", None), str):
            yield route.path
        yield from templates(getattr(getattr(route, "original_router", None), "routes", []))


def made_up(n: int) -> tuple[str, str, dict[str, str]]:
    """The n-th request: a made-up or odd method on a real route (405), a standard one on a
    made-up path (404), both made up, a real template with a made-up id; some with a refused
    Host (421) or a text body (415)."""
    junk = uuid.uuid4().hex[:8]
    odd = [f"X{junk.upper()}", "get", "Post", "PROPFIND", "TRACE", "PURGE"][n % 6]
    standard = sorted(METHODS)[n % len(METHODS)]
    real = ["/tickets", "/policies", "/metrics", "/healthz", "/board/reports"][n % 5]
    method, path = [
        (odd, real),
        (standard, f"/{junk}/{n}"),
        (odd, f"/tickets/{junk}/{junk}"),
        ("GET", f"/tickets/T-{junk}"),
    ][n % 4]
    headers = {"host": f"{junk}.example"} if n % 17 == 0 else {}
    if n % 13 == 0:
        headers["content-type"] = "text/plain"
    return method, path, headers


async def test_made_up_methods_and_paths_make_no_new_series(
    api_settings: Settings,
    app_for: Callable[[Settings], FastAPI],
    tmp_path: Path,
) -> None:
    write_keys(tmp_path / "keys.yaml")
    open_app = app_for(api_settings)
    keyed = app_for(api_settings.model_copy(update={"api_keys_file": tmp_path / "keys.yaml"}))
    known = set(templates(open_app.routes))
    assert {"/tickets/{ticket_id}", "/board/tickets/{ticket_id}", "/metrics"} <= known
    async with (
        serve(open_app, free_port(), ready="/policies", http="h11") as url,
        serve(keyed, free_port(), ready="/board", http="h11") as keyed_url,
        httpx.AsyncClient(timeout=20) as http,
    ):
        statuses = set()
        for n in range(200):  # every other one to the API with keys, without a key
            method, path, headers = made_up(n)
            body = b"x" if "content-type" in headers else None
            base = keyed_url if n % 2 else url
            response = await http.request(method, base + path, headers=headers, content=body)
            statuses.add(response.status_code)
        text = (await http.get(url + "/metrics")).text

    assert {401, 404, 405, 415, 421} <= statuses and max(statuses) < 500, statuses
    series = request_series(text)
    methods = {method for _, method, _ in series}
    routes = {route for _, _, route in series}
    assert methods <= METHODS | {"other"}, methods - METHODS
    assert routes <= known | {"unmatched"}, routes - known
    assert {"other", "unmatched", "/tickets/{ticket_id}"} <= methods | routes


@pytest.mark.parametrize(
    ("method", "path", "status", "labels"),
    [("GET", "/no/such/path", 404, ("GET", "unmatched")),
     ("BREW", "/policies", 405, ("other", "/policies")),
     ("DELETE", "/tickets/T-1", 405, ("DELETE", "/tickets/{ticket_id}")),
     ("GET", "/tickets/T-404", 404, ("GET", "/tickets/{ticket_id}"))],
)  # fmt: skip
async def test_each_request_is_counted_under_its_bounded_labels(
    http: httpx.AsyncClient, method: str, path: str, status: int, labels: tuple[str, str]
) -> None:
    wanted = {"method": labels[0], "route": labels[1], "status": str(status)}
    before = requests_total((await http.get("/metrics")).text, wanted)
    assert (await http.request(method, path)).status_code == status
    assert requests_total((await http.get("/metrics")).text, wanted) == before + 1
