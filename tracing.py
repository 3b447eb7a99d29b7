"""Tracing: OpenTelemetry spans over OTLP/HTTP, on when the standard variables ask for it.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set, and
never with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. The rest of OpenTelemetry's
variables (service name, resource attributes, sampler, headers, batch sizes) work as its SDK
defines them. docs/tracing.md shows the spans a ticket makes and how they chain.

One tracer provider per process, made by Temporal's `create_tracer_provider`: inside a
workflow its span ids come from the workflow's seeded random, so a replay rebuilds the same
ids and a span started before a worker died still parents what comes after.
"""

from __future__ import annotations

import os
from typing import Any

from sla.policy import ConfigError

# The services' names when OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES)
# does not give one.
API = "slaflow-api"
WORKER = "slaflow-worker"
ALL_IN_ONE = "slaflow"

_provider: Any = None


def wanted() -> bool:
    """The environment asks for traces."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def on() -> bool:
    """This process exports traces (start() turned them on)."""
    return _provider is not None


def _check_environment() -> None:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter != "otlp":
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER={exporter}: slaflow exports traces over OTLP only "
            "(otlp, or none to turn tracing off)"
        )
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol}: slaflow exports traces over OTLP/HTTP "
            "(http/protobuf); point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's HTTP port "
            "(4318 by default)"
        )


def start(service: str) -> bool:
    """Turn tracing on for this process if the environment asks for it: the global tracer
    provider with a batching OTLP/HTTP exporter, and httpx instrumented (webhook deliveries,
    on-call and desk calls). Once per process; the first caller names the service. True when
    tracing is on. A setting it cannot honour stops start-up (ConfigError) rather than run
    without the traces an operator asked for."""
    global _provider
    if _provider is not None or not wanted():
        return on()
    _check_environment()
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from temporalio.contrib.opentelemetry import create_tracer_provider
    except ImportError as exc:
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_ENDPOINT is set but tracing is not installed ({exc.name}): "
            "install slaflow with its otel extra (pip install 'slaflow[otel]')"
        ) from None
    resource = Resource.create({"service.version": _version()})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: service}))
    # No sampler given: the SDK reads OTEL_TRACES_SAMPLER (parent-based, always on by default).
    provider = create_tracer_provider(resource=resource, shutdown_on_exit=True)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(
        request_hook=_origin_only, async_request_hook=_origin_only_async
    )
    _provider = provider
    return True


# A receiver's URL may hold its secret in the path (Slack, Discord) or the query (Teams'
# `sig`): an outgoing request's span keeps the origin only.
_URL_KEYS = ("url.full", "http.url")


def _origin_only(span: Any, request: Any) -> None:
    if not span.is_recording():
        return
    url = request.url  # httpx.URL
    port = f":{url.port}" if url.port else ""
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_KEYS:
        if key in attributes:
            span.set_attribute(key, f"{url.scheme}://{url.host}{port}/REDACTED")


async def _origin_only_async(span: Any, request: Any) -> None:
    _origin_only(span, request)


def temporal_plugins() -> list[Any]:
    """The Temporal client's plugins: with tracing on, the SDK's OpenTelemetry plugin, which
    makes spans of client calls, workflow runs, updates, signals and activities and carries
    the trace in each call's headers. Workers built on the client inherit it."""
    if not on():
        return []
    from temporalio.contrib.opentelemetry import OpenTelemetryPlugin

    return [OpenTelemetryPlugin(add_temporal_spans=True)]


def stop() -> None:
    """Export what is still batched and stop the exporter (a command's end: `slaflow` leaves
    without the interpreter's exit hooks)."""
    global _provider
    if _provider is None:
        return
    provider, _provider = _provider, None
    provider.shutdown()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slaflow")
    except PackageNotFoundError:
        return "0.1.0"
