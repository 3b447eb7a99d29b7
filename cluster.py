"""The Temporal cluster: how slaflow connects, and what it sets up there (search attributes,
schedules)."""

from __future__ import annotations

import contextlib
import math
import shlex
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, UpdateNamespaceRequest
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode

import tracing
from settings import Settings
from sla.policy import ConfigError
from sla.schedules import CloseMonth, ProbeCheck
from workflows.contracts import AvailabilityProbeWorkflow, MonthlyStatementsWorkflow
from workflows.search_attributes import ALL_KEYS


# Where slaflow's Temporal is, first that says wins (README: Temporal Cloud and profiles):
#   address: connect_temporal's `address` (`slaflow up`'s embedded server), TEMPORAL_ADDRESS
#     (or SLAFLOW_TEMPORAL_ADDRESS), the profile's `address`, 127.0.0.1:SLAFLOW_TEMPORAL_PORT;
#   namespace: TEMPORAL_NAMESPACE (or SLAFLOW_TEMPORAL_NAMESPACE), the profile's `namespace`,
#     "default";
#   TLS, API key, gRPC metadata: Temporal's environment config as the SDK defines it, the
#     profile TEMPORAL_PROFILE ("default" unset) of TEMPORAL_CONFIG_FILE (unset:
#     ~/.config/temporalio/temporal.toml, if there is one) under TEMPORAL_API_KEY, TEMPORAL_TLS_*.
def client_connect_config(
    settings: Settings, address: str | None = None, *, use_profile: bool = True
) -> dict[str, Any]:
    """Client.connect's arguments but the data converter and runtime. Without `use_profile`
    (the embedded dev server, which is plain gRPC) Temporal's environment config is left out."""
    config: dict[str, Any] = {}
    try:
        if use_profile:
            config.update(ClientConfig.load_client_connect_config())
    except RuntimeError as exc:  # the SDK's ConfigError: no such profile, a bad file
        raise ConfigError(
            f"Temporal's environment config (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE): {exc}"
        ) from None
    config["target_host"] = (
        address
        or settings.temporal_address
        or config.get("target_host")
        or f"127.0.0.1:{settings.temporal_port}"
    )
    # The field's default ("default") must not hide a profile's namespace: only a namespace
    # given in the environment goes over it.
    if "temporal_namespace" in settings.model_fields_set or "namespace" not in config:
        config["namespace"] = settings.temporal_namespace
    return config


async def connect_temporal(
    settings: Settings, address: str | None = None, *, use_profile: bool = True
) -> Client:
    """A client with the pydantic data converter, for the Temporal the settings and Temporal's
    environment config name (client_connect_config)."""
    connect_config = client_connect_config(settings, address, use_profile=use_profile)
    connect_config["data_converter"] = pydantic_data_converter
    connect_config["plugins"] = tracing.temporal_plugins()
    if settings.sdk_metrics_address:
        connect_config["runtime"] = _runtime_with_metrics(settings.sdk_metrics_address)
    return await Client.connect(**connect_config)


@cache
def _runtime_with_metrics(address: str) -> Runtime:
    """One runtime per process: the SDK's worker metrics for Prometheus on host:port."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


STATEMENTS_SCHEDULE = "slaflow-monthly-statements"
PROBE_SCHEDULE = "slaflow-availability-probe"

_INDEXED_TYPE = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "BOOL": IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    "INT": IndexedValueType.INDEXED_VALUE_TYPE_INT,
}
CLI_TYPE = {"KEYWORD": "Keyword", "BOOL": "Bool", "DATETIME": "Datetime", "INT": "Int"}


def attribute_type(key: Any) -> str:
    return str(key.indexed_value_type.name).removeprefix("INDEXED_VALUE_TYPE_")


# What a server that manages these itself answers (Temporal Cloud: tcld, its UI or its Terraform
# provider set a namespace's retention and search attributes, not the frontend's gRPC API).
REFUSALS = frozenset(
    {
        RPCStatusCode.PERMISSION_DENIED,
        RPCStatusCode.UNIMPLEMENTED,
        RPCStatusCode.INVALID_ARGUMENT,
    }
)


@dataclass(frozen=True)
class Refused:
    """A step of `prepare` the server refused, why, and the tcld commands that do it."""

    what: str
    reason: str
    commands: tuple[str, ...]


def _reason(exc: RPCError) -> str:
    return f"{exc.status.name}: {exc.message}"


async def register_search_attributes(client: Client) -> Refused | None:
    """Idempotent: adds the ticket search attributes a cluster does not have yet. Refused (on
    Temporal Cloud), the tcld command that adds those it lacks (all, if it will not list them)."""
    wanted = {key.name: _INDEXED_TYPE[attribute_type(key)] for key in ALL_KEYS}
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=wanted)
        )
    except RPCError as exc:
        if exc.status in REFUSALS:
            missing = await _missing_search_attributes(client, list(wanted))
            if not missing:
                return None
            flags = " ".join(
                f"--search-attribute {shlex.quote(f'{key.name}={CLI_TYPE[attribute_type(key)]}')}"
                for key in ALL_KEYS
                if key.name in missing
            )
            command = (
                f"tcld namespace search-attributes add --namespace {shlex.quote(client.namespace)} "
                + flags
            )
            return Refused("add the search attributes", _reason(exc), (command,))
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        for name, kind in wanted.items():  # some exist: add the missing ones one by one
            with contextlib.suppress(RPCError):
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(
                        namespace=client.namespace, search_attributes={name: kind}
                    )
                )
    return None


async def _missing_search_attributes(client: Client, names: list[str]) -> list[str]:
    """Those of `names` the namespace lacks; all of them if the server will not say."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
    except RPCError:
        return names
    return [name for name in names if name not in listed.custom_attributes]


async def set_retention(client: Client, retention: timedelta) -> Refused | None:
    """How long Temporal keeps closed tickets (the dev server's default is a day). Left alone
    when it is already that; refused (on Temporal Cloud: whole days, 1 to 90), the tcld command
    that sets it, in days rounded up."""
    with contextlib.suppress(RPCError):
        if await retention_of(client) == retention:
            return None
    try:
        await client.workflow_service.update_namespace(
            UpdateNamespaceRequest(
                namespace=client.namespace,
                config=NamespaceConfig(
                    workflow_execution_retention_ttl=Duration(
                        seconds=int(retention.total_seconds())
                    )
                ),
            )
        )
    except RPCError as exc:
        if exc.status not in REFUSALS:
            raise
        days = max(1, math.ceil(retention / timedelta(days=1)))
        command = (
            f"tcld namespace retention set --namespace {shlex.quote(client.namespace)} "
            f"--retention-days {days}"
        )
        return Refused(f"set the retention to {days} days", _reason(exc), (command,))
    return None


async def retention_of(client: Client) -> timedelta:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def prepare(client: Client, settings: Settings) -> list[Refused]:
    """Everything slaflow keeps on the cluster, idempotently: `slaflow up` and `setup`. The
    search attributes too: the dev server registers its `--search-attribute`s only in a new
    database, and a ticket started with one the cluster lacks is refused. What the server
    refuses (Temporal Cloud: retention and search attributes) is returned, not raised: the
    schedules are made all the same."""
    refused = [
        step
        for step in (
            await register_search_attributes(client),
            await set_retention(client, settings.retention),
        )
        if step is not None
    ]
    await ensure_schedules(client, settings)
    return refused


async def _upsert_schedule(client: Client, schedule_id: str, schedule: Schedule) -> None:
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        async def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)


async def ensure_schedules(client: Client, settings: Settings) -> None:
    """Monthly statements always; the availability probe when the config has one."""
    await _upsert_schedule(
        client,
        STATEMENTS_SCHEDULE,
        Schedule(
            action=ScheduleActionStartWorkflow(
                MonthlyStatementsWorkflow.run,
                CloseMonth(),
                id="slaflow-monthly-statements",
                task_queue=settings.task_queue,
            ),
            # Five minutes into the 1st, UTC: the month before is over everywhere it counts.
            spec=ScheduleSpec(cron_expressions=["5 0 1 * *"]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
    terms = settings.sla_config.availability
    probe_handle = client.get_schedule_handle(PROBE_SCHEDULE)
    if terms.probe is None:
        with contextlib.suppress(RPCError):
            await probe_handle.delete()
        return
    await _upsert_schedule(
        client,
        PROBE_SCHEDULE,
        Schedule(
            action=ScheduleActionStartWorkflow(
                AvailabilityProbeWorkflow.run,
                ProbeCheck(
                    url=terms.probe.url,
                    service=terms.service,
                    failures=terms.probe.failures,
                    timeout_seconds=terms.probe.timeout.total_seconds(),
                ),
                id="slaflow-availability-probe",
                task_queue=settings.task_queue,
            ),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=terms.probe.every)]),
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        ),
    )
