"""The FastAPI app: routes, error mapping, limits; the Temporal client connects in the lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from temporalio.client import Client

import tracing
from activities.notify import Notifier
from api import metrics
from api.auth import ADMIN_ONLY, STAFF, Keyring
from api.board.router import router as board_router
from api.browsers import REFUSALS, JsonBodies, LoopbackHosts, SecurityHeaders
from api.desk import Desk
from api.errors import install_error_handlers
from api.limits import INTEGRATION_BODIES, BodyLimit
from api.metrics import RequestMetrics
from api.routes import (
    availability,
    calendars,
    customers,
    deliveries,
    health,
    integrations,
    notifications,
    policies,
    repairs,
    reports,
    tickets,
)
from api.schemas import ERRORS
from cluster import connect_temporal
from settings import Settings
from store import Store
from store.archive import open_archive

# Read every few seconds by orchestrators and Prometheus: a span each would drown the traces.
_PROBES = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _PROBES


def create_app(
    settings: Settings | None = None, client: Client | None = None, store: Store | None = None
) -> FastAPI:
    """The API; give `client` and `store` to share them (tests, `slaflow up`), else it opens
    its own at startup."""
    settings = settings or Settings()
    _ = settings.config_file  # a bad config fails here, before serving anything
    tracing.start(tracing.API)  # done already in `slaflow api`; here for uvicorn's workers
    keyring = Keyring.load(settings.api_keys_file) if settings.api_keys_file else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        temporal = client or await connect_temporal(settings)
        app.state.settings = settings
        # The namespace the client is on: a temporal.toml profile may have named it (cluster.py).
        app.state.temporal_namespace = temporal.namespace
        app.state.keyring = keyring
        app.state.store = store or await asyncio.to_thread(
            Store.open, settings.database_url, settings.data_dir
        )
        # Both read the config in force at each use: SIGHUP reloads it (cli.py).
        app.state.desk = Desk(
            temporal,
            lambda: settings.sla_config,
            settings.task_queue,
            timedelta(seconds=settings.max_request_seconds),
            open_archive(settings.archive_url, settings.data_dir),
            app.state.store,
        )
        app.state.notifier = Notifier(lambda: settings.sla_config.notifications)
        yield

    # With keys, the schema is for key holders too, and the browsable docs (which fetch it
    # without a key) are off.
    guarded = keyring is not None
    app = FastAPI(
        title="slaflow",
        version="0.1.0",
        summary="SLA tickets kept by durable Temporal workflows",
        lifespan=lifespan,
        openapi_url=None if guarded else "/openapi.json",
        docs_url=None if guarded else "/docs",
        redoc_url=None if guarded else "/redoc",
        # A server span per request once tracing.py set a tracer provider; metrics stay
        # Prometheus's (api/metrics.py), and probes and scrapes stay out of the traces.
        telemetry={
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
            "exclude": _untraced,
        },
    )
    if guarded:

        @app.get("/openapi.json", include_in_schema=False, dependencies=[STAFF])
        async def openapi() -> dict[str, Any]:
            return app.openapi()

    # The last added runs first: every request is counted (bounded labels) and every answer,
    # refusals included, gets the headers; then Host, Content-Type, size (api/browsers.py).
    app.add_middleware(BodyLimit, larger=INTEGRATION_BODIES)
    app.add_middleware(JsonBodies)
    if not guarded:
        app.add_middleware(LoopbackHosts, allowed=settings.allowed_hosts)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestMetrics)
    install_error_handlers(app)
    errors = {**ERRORS, **REFUSALS}
    app.include_router(tickets.router, responses=errors)
    app.include_router(repairs.router, responses=errors)  # admins repair, staff read
    app.include_router(health.router, responses=errors)
    app.include_router(policies.router, responses=errors, dependencies=[STAFF])
    app.include_router(calendars.router, responses=errors, dependencies=[STAFF])
    app.include_router(customers.router, responses=errors)
    app.include_router(availability.router, responses=errors)
    app.include_router(reports.router, responses=errors, dependencies=[STAFF])
    app.include_router(metrics.router, responses=errors, dependencies=[STAFF])
    app.include_router(notifications.router, responses=errors, dependencies=[ADMIN_ONLY])
    app.include_router(deliveries.router, responses=errors)  # staff lists, admins retry
    # Help desks' webhooks, signed with the config's secrets (no key); staff list the events.
    app.include_router(integrations.router, responses=errors)
    app.include_router(board_router)  # pages without a key: their script sends it to the API
    return app
