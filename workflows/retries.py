"""The retry policies and timeouts of every activity slaflow's workflows call, in one place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from sla.effects import InvalidEffect
from sla.records import TicketIdTaken

# A ticket's records must land, so they retry until they do; the ledger key keeps them single.
# An effect the store does not keep is a bug, not an outage: that one is never retried.
RECORD = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[InvalidEffect.__name__, TicketIdTaken.__name__],
)
RECORD_TIMEOUT = timedelta(seconds=30)
# The ticket's fast path: a few quick attempts within a few seconds, in its workflow task;
# past that the records wait for the regular activity above (docs/design.md).
RECORD_FAST = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_attempts=3,
    non_retryable_error_types=[InvalidEffect.__name__, TicketIdTaken.__name__],
)
RECORD_FAST_WINDOW = timedelta(seconds=5)

# Starting the workflows a ticket hands off (deliveries, a run's archiving) asks Temporal
# only; retried until it answers.
HAND_OFF = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)
HAND_OFF_TIMEOUT = timedelta(seconds=30)

# Deliveries back off to ten minutes between attempts and never give up on a 5xx or timeout.
DELIVERY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
)
# Above the notifier's own 10 s HTTP timeout; also how soon a killed worker's attempt retries.
DELIVERY_TIMEOUT = timedelta(seconds=20)

# Archiving retries until the ticket has completed and the archive is written.
ARCHIVE = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    maximum_interval=timedelta(minutes=1),
)
ARCHIVE_TIMEOUT = timedelta(minutes=2)

# Closing a month reads the store; it retries until the store answers.
CLOSE_MONTH = RetryPolicy(maximum_interval=timedelta(minutes=10))
CLOSE_MONTH_TIMEOUT = timedelta(minutes=10)

# A failed availability check is an answer, not an error: the next scheduled run is the retry.
PROBE = RetryPolicy(maximum_attempts=3)
# Beyond the check's own HTTP timeout.
PROBE_SLACK = timedelta(seconds=10)

# A bulk repair's activities talk to Temporal only; bounded, so a ticket that cannot be
# reached is reported `failed` and the repair goes on. A killed worker's attempt is retried
# after the timeout, and applies once (the ticket dedups the request id).
REPAIR = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=6,
)
REPAIR_TIMEOUT = timedelta(seconds=20)
