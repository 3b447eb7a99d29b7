"""Traces end to end, on real processes: `slaflow api` and `slaflow worker` export to an OTLP/HTTP
receiver of the test's own, and the spans chain from the HTTP request through the Temporal
client call, the ticket's workflow and activities, to the webhook delivery (docs/tracing.md)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from tests.support.otlp import Span, SpanReceiver
from tests.support.processes import SLAFLOW, Processes, wait_for
from tests.support.receiver import Receiver
from workflows.ticket import TicketWorkflow

# Not a customer other tests count tickets of (they share the dev server's visibility).
CUSTOMER = "tracing"
SECRET = "xoxb-not-for-traces"

CONFIG = """
default_policy: standard
notifications:
  webhooks:
    - {{name: ops, url: "{url}", secret: "s3cret", events: [breach, resolved]}}
policies:
  standard:
    targets:
      P1: {{response: 2s, resolution: 1h}}
      P2: {{response: 1h, resolution: 8h}}
      P3: {{response: 4h, resolution: 24h}}
"""


class Caller:
    """The test as a traced client: each request carries a traceparent of a span of its own."""

    def __init__(self) -> None:
        self.trace_id = secrets.token_hex(16)
        self.span_id = secrets.token_hex(8)
        self.headers = {"traceparent": f"00-{self.trace_id}-{self.span_id}-01"}


def chain(spans: SpanReceiver, span: Span) -> list[str]:
    """The names from `span` up to the root it reaches (the caller's span is not exported)."""
    names = [span.name]
    while (parent := spans.by_id(span.parent_id)) is not None:
        names.append(parent.name)
        span = parent
    return names


def root(spans: SpanReceiver, span: Span) -> Span:
    while (parent := spans.by_id(span.parent_id)) is not None:
        span = parent
    return span


def descendants(spans: SpanReceiver, span: Span) -> Iterator[Span]:
    for child in spans.children(span):
        yield child
        yield from descendants(spans, child)


@pytest.fixture
def otlp() -> Iterator[SpanReceiver]:
    with SpanReceiver() as receiver:
        yield receiver


def test_a_ticket_is_traced_from_the_request_to_the_webhook(
    processes: Processes,
    receiver: Callable[..., Receiver],
    otlp: SpanReceiver,
    dev_env: WorkflowEnvironment,
) -> None:
    hook = receiver(200)
    processes.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.url
    processes.env["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # ms: export at once, not every 5 s
    # A receiver URL with its secret in the path, as Slack's are.
    processes.configure(CONFIG.format(url=f"{hook.url}/services/T0/B0/{SECRET}"))
    api = processes.up()
    for probe in ("/livez", "/readyz", "/metrics"):
        assert api.get(probe).status_code == 200

    opening = Caller()
    opened = api.post(
        "/tickets",
        json={"title": "Down", "priority": "P1", "customer_id": CUSTOMER},
        headers=opening.headers,
    )
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    wait_for(lambda: hook.received, seconds=30)  # the response clock breached: a breach
    callers = {action: Caller() for action in ("respond", "resolve", "close")}
    for action, caller in callers.items():
        body = {} if action == "close" else {"agent_id": "alice"}
        answer = api.post(f"/tickets/{ticket_id}/{action}", json=body, headers=caller.headers)
        assert answer.status_code == 200, answer.text
    wait_for(lambda: len(hook.received) == 2, seconds=30)  # and resolved
    # Closed, the run ended: its span is exported with the last of the others.
    wait_for(lambda: otlp.named("RunWorkflow:TicketWorkflow"), seconds=30)
    wait_for(lambda: len(otlp.named("POST")) == 2, seconds=30)

    # The opening: the request, the client's start, the run, in the caller's trace.
    (run,) = otlp.named("RunWorkflow:TicketWorkflow")
    assert chain(otlp, run) == [
        "RunWorkflow:TicketWorkflow",
        "StartWorkflow:TicketWorkflow",
        "POST /tickets",
    ]
    assert root(otlp, run).parent_id == opening.span_id
    assert run.trace_id == opening.trace_id and run.service == "slaflow-worker"
    assert root(otlp, run).service == "slaflow-api"
    assert run.attributes["temporalWorkflowID"] == f"ticket-{ticket_id}"

    # Each action: its request, the client's update, the workflow's handling, in its own trace.
    handled = {}
    for action, caller in callers.items():
        (handling,) = otlp.named(f"HandleUpdate:{action}")
        assert chain(otlp, handling) == [
            f"HandleUpdate:{action}",
            f"StartWorkflowUpdate:{action}",
            f"POST /tickets/{{ticket_id}}/{action}",
        ]
        assert handling.trace_id == caller.trace_id
        assert root(otlp, handling).parent_id == caller.span_id
        handled[action] = handling

    # What each action caused, the ticket's loop records under a span of the ticket's trace,
    # linked to the action's handling.
    passes = otlp.named("record ticket changes")
    assert {p.parent_id for p in passes} == {run.span_id}
    caused = {
        action: [p for p in passes if (h.trace_id, h.span_id) in p.links]
        for action, h in handled.items()
    }
    assert all(len(found) == 1 for found in caused.values()), caused
    for action, (record_pass,) in caused.items():
        under = [s.name for s in descendants(otlp, record_pass)]
        assert "RunActivity:record_changes" in under, (action, under)

    # The deliveries: the webhook's POST, with the trace it was sent in, under the pass that
    # started it: the resolve's for `resolved`, a pass the breach timer woke for `breach`.
    sent = {r.json()["type"]: r.headers["traceparent"] for r in hook.received}
    for event, pass_of in (("resolved", caused["resolve"][0]), ("breach", None)):
        _, trace_id, span_id, _ = sent[event].split("-")
        assert trace_id == opening.trace_id
        post = otlp.by_id(span_id)
        assert post is not None and post.name == "POST"
        assert chain(otlp, post) == [
            "POST",
            "RunActivity:deliver",
            "StartActivity:deliver",
            "RunWorkflow:Delivery",
            "StartWorkflow:Delivery",
            "RunActivity:start_deliveries",
            "StartActivity:start_deliveries",
            "record ticket changes",
            "RunWorkflow:TicketWorkflow",
            "StartWorkflow:TicketWorkflow",
            "POST /tickets",
        ]
        started_by = next(s for s in passes if post in descendants(otlp, s))
        if pass_of is None:
            assert started_by.links == ()  # the timer's pass: no action caused it
        else:
            assert started_by == pass_of

    # A delivery's span says what it carried, for a trace search.
    delivered = otlp.named("RunActivity:deliver")
    assert sorted(s.attributes["slaflow.event_type"] for s in delivered) == ["breach", "resolved"]
    assert {
        (s.attributes["slaflow.ticket_id"], s.attributes["slaflow.target"]) for s in delivered
    } == {(ticket_id, "webhook:ops")}

    # The URL's secret stays out of every span; its origin is kept.
    assert not [s for s in otlp.spans if SECRET in repr(s)]
    posts = otlp.named("POST")
    origin = httpx.URL(hook.url)
    assert {p.attributes.get("url.full", p.attributes.get("http.url")) for p in posts} == {
        f"http://127.0.0.1:{origin.port}/REDACTED"
    }

    # Probes and scrapes (polled since the start) make no spans.
    assert not [s.name for s in otlp.spans if s.name.startswith("GET /")]

    # Traced or not, the run replays the same.
    async def replayed() -> None:
        handle = dev_env.client.get_workflow_handle(f"ticket-{ticket_id}")
        history = await handle.fetch_history()
        replayer = Replayer(workflows=[TicketWorkflow], data_converter=pydantic_data_converter)
        await replayer.replay_workflow(history)

    asyncio.run(replayed())


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"),
        ("OTEL_TRACES_EXPORTER", "zipkin", "OTEL_TRACES_EXPORTER=zipkin"),
    ],
)
def test_a_tracing_setting_it_cannot_honour_stops_start_up(
    processes: Processes, otlp: SpanReceiver, variable: str, value: str, said: str
) -> None:
    env = {**processes.env, "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url, variable: value}
    done = subprocess.run([SLAFLOW, "worker"], env=env, capture_output=True, timeout=60)
    assert done.returncode == 1
    assert said in done.stderr.decode(), done.stderr.decode()


def test_without_an_endpoint_nothing_is_traced(processes: Processes, otlp: SpanReceiver) -> None:
    processes.env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = f"{otlp.url}/v1/traces"
    processes.env["OTEL_SDK_DISABLED"] = "true"
    processes.env["OTEL_BSP_SCHEDULE_DELAY"] = "100"
    api = processes.up()
    opened = api.post("/tickets", json={"title": "t", "priority": "P3", "customer_id": CUSTOMER})
    assert opened.status_code == 201, opened.text
    ticket_id = opened.json()["ticket_id"]
    answer = api.post(f"/tickets/{ticket_id}/respond", json={"agent_id": "alice"})
    assert answer.status_code == 200, answer.text  # the worker ran the ticket and its records
    time.sleep(1.5)  # fifteen export intervals
    assert otlp.spans == []
