"""What an action caused, for traces (docs/tracing.md).

An action's update (or signal) is handled in its own trace, the request's; what it causes is
done later by the ticket's loop, in one pass for every action since the last: the records
and the deliveries' starts. That pass runs under a span linked to each action's span, so a
trace viewer leads from `POST /tickets/{id}/respond` to the record it made and on.

OpenTelemetry's API only: without a tracer provider (tracing off, the replayer) each call does
nothing. No call makes a command, so a ticket replays alike with tracing on or off.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace

_tracer = trace.get_tracer("slaflow.ticket")


class Causes:
    def __init__(self) -> None:
        self._actions: list[trace.SpanContext] = []

    def note(self) -> None:
        """In an action's handler: the span it is handled under caused the next pass."""
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            self._actions.append(context)

    @contextmanager
    def span(self, name: str, ticket_id: str) -> Iterator[None]:
        """The pass, as a span linked to the actions noted since the last (none for a pass a
        timer woke): what runs inside, activities and the deliveries they start, is its child."""
        links = [trace.Link(context) for context in self._actions]
        self._actions = []
        if not trace.get_current_span().is_recording():
            yield  # tracing off, or this run not sampled: a span would record nothing
            return
        with _tracer.start_as_current_span(
            name, links=links, attributes={"slaflow.ticket_id": ticket_id}
        ):
            yield
