"""The Temporal cluster: how slaflow connects, and what it sets up there (search attributes,
schedules)."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from functools import cache
from typing import Any

from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
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

from settings import Settings
from sla.schedules import CloseMonth, ProbeCheck
from workflows.contracts import AvailabilityProbeWorkflow, MonthlyStatementsWorkflow
from workflows.search_attributes import ALL_KEYS


async def connect_temporal(settings: Settings, address: str | None = None) -> Client:
    """A client with the pydantic data converter; TLS and API keys from Temporal's env config."""
    connect_config: dict[str, Any] = dict(ClientConfig.load_client_connect_config())
    connect_config["target_host"] = (
        address or settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"
    )
    connect_config["namespace"] = settings.temporal_namespace
    connect_config["data_converter"] = pydantic_data_converter
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


async def register_search_attributes(client: Client) -> None:
    """Idempotent: adds the ticket search attributes a cluster does not have yet."""
    wanted = {key.name: _INDEXED_TYPE[attribute_type(key)] for key in ALL_KEYS}
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=wanted)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        for name, kind in wanted.items():  # some exist: add the missing ones one by one
            with contextlib.suppress(RPCError):
                await client.operator_service.add_search_attributes(
                    AddSearchAttributesRequest(
                        namespace=client.namespace, search_attributes={name: kind}
                    )
                )


async def set_retention(client: Client, retention: timedelta) -> None:
    """How long Temporal keeps closed tickets (the dev server's default is a day)."""
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=client.namespace,
            config=NamespaceConfig(
                workflow_execution_retention_ttl=Duration(seconds=int(retention.total_seconds()))
            ),
        )
    )


async def retention_of(client: Client) -> timedelta:
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=client.namespace)
    )
    return described.config.workflow_execution_retention_ttl.ToTimedelta()


async def prepare(client: Client, settings: Settings) -> None:
    """Everything slaflow keeps on the cluster, idempotently: `slaflow up` and `setup`. The
    search attributes too: the dev server registers its `--search-attribute`s only in a new
    database, and a ticket started with one the cluster lacks is refused."""
    await register_search_attributes(client)
    await set_retention(client, settings.retention)
    await ensure_schedules(client, settings)


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
