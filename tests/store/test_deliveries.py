"""The deliveries table on both databases: rows move only forward however late or often a write
lands, a delivery is counted once where it first turns dead, lists page newest first."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import ActivityEnvironment

from activities.deliveries import DeliveryActivities
from sla.notifications import Delivery, DeliveryOrder, Event, delivery_id, event_id
from store import Store
from store.deliveries import (
    DeliveryRecord,
    DeliveryState,
    decode_cursor,
    delivery,
    encode_cursor,
    list_deliveries,
    record_delivery,
    reopen_delivery,
    restore_dead,
)
from telemetry import DELIVERIES

AT = datetime(2026, 11, 3, 9, 15, tzinfo=UTC)


def order(key: str = "T-1:breach:response:c1", target: str = "webhook:ops") -> DeliveryOrder:
    ticket = key.split(":")[0]
    event = Event(id=event_id(key), type="breach", ticket_id=ticket, at=AT, data={"n": 1})
    return DeliveryOrder(
        delivery=Delivery(event=event, target=target),
        give_up_after=timedelta(hours=1),
        ticket_workflow_id=f"ticket-{ticket}",
    )


def write(
    store: Store,
    state: DeliveryState,
    the_order: DeliveryOrder | None = None,
    at: datetime = AT,
    attempts: int = 0,
    detail: str | None = None,
) -> bool:
    record = DeliveryRecord(
        order=the_order or order(), state=state, attempts=attempts, detail=detail, at=at
    )
    return record_delivery(store, record)


def state_of(store: Store, the_order: DeliveryOrder | None = None) -> DeliveryState | None:
    row = delivery(store, delivery_id((the_order or order()).delivery))
    return None if row is None else row.state


def test_a_row_keeps_the_event_the_target_and_the_order_to_send_again(store: Store) -> None:
    assert write(store, "pending") is True
    row = delivery(store, delivery_id(order().delivery))
    assert row is not None
    assert (row.event_id, row.event_type, row.ticket_id, row.target, row.state) == (
        event_id("T-1:breach:response:c1"),
        "breach",
        "T-1",
        "webhook:ops",
        "pending",
    )
    assert row.order == order()
    assert row.created_at == row.updated_at == AT
    assert delivery(store, "0" * 32) is None


@pytest.mark.parametrize("final", ["delivered", "dead"])
def test_a_late_pending_write_never_overwrites_an_ended_delivery(
    store: Store, final: DeliveryState
) -> None:
    assert write(store, final, attempts=3, detail="over") is True  # the final write came first
    assert write(store, "pending") is False
    row = delivery(store, delivery_id(order().delivery))
    assert row is not None and (row.state, row.attempts, row.detail) == (final, 3, "over")


def test_each_end_is_written_once_and_dead_never_overwrites_delivered(store: Store) -> None:
    assert write(store, "pending") is True
    assert write(store, "dead", attempts=4, detail="gone") is True
    assert write(store, "dead", attempts=4, detail="gone") is False  # the write retried
    assert write(store, "delivered", attempts=1, detail="HTTP 200 OK") is True  # a retry's
    assert write(store, "delivered", attempts=1) is False
    assert write(store, "dead", attempts=9, detail="late") is False
    row = delivery(store, delivery_id(order().delivery))
    assert row is not None and (row.state, row.detail) == ("delivered", "HTTP 200 OK")


async def test_a_delivery_is_counted_dead_once_however_often_its_write_is_retried(
    store: Store,
) -> None:
    dead = DELIVERIES.labels("dead")
    before = dead._value.get()
    activities = DeliveryActivities(store)
    record = DeliveryRecord(order=order("T-count:breach:r:c1"), state="dead", attempts=2, at=AT)
    env = ActivityEnvironment()
    assert [await env.run(activities.record_delivery, record) for _ in range(3)] == [
        True,
        False,
        False,
    ]
    assert dead._value.get() == before + 1


def test_concurrent_writes_of_one_end_move_the_row_once(store: Store) -> None:
    the_order = order("T-race:breach:response:c1")
    write(store, "pending", the_order)
    results: list[bool] = []

    def send() -> None:
        results.append(write(store, "dead", the_order, detail="gone"))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]


def test_reopen_takes_a_dead_delivery_back_to_pending_once_and_restore_undoes_it(
    store: Store,
) -> None:
    write(store, "pending")
    assert reopen_delivery(store, delivery_id(order().delivery)) is None  # not dead
    write(store, "dead", at=AT + timedelta(hours=1), attempts=7, detail="HTTP 503")
    id = delivery_id(order().delivery)
    reopened = reopen_delivery(store, id, AT + timedelta(hours=2))
    assert reopened is not None
    before, now = reopened
    assert (before.state, before.attempts, before.detail) == ("dead", 7, "HTTP 503")
    assert (now.state, now.attempts, now.updated_at) == ("pending", 0, AT + timedelta(hours=2))
    assert delivery(store, id) == now
    assert reopen_delivery(store, id) is None  # a second retry finds it pending
    restore_dead(store, before)
    assert delivery(store, id) == before
    assert reopen_delivery(store, "f" * 32) is None


def test_a_retried_delivery_that_dies_again_is_dead_again(store: Store) -> None:
    write(store, "dead", detail="first")
    assert reopen_delivery(store, delivery_id(order().delivery)) is not None
    assert write(store, "pending") is False  # the new run's own pending write: a no-op
    assert write(store, "dead", detail="second") is True
    row = delivery(store, delivery_id(order().delivery))
    assert row is not None and (row.state, row.detail) == ("dead", "second")


def test_the_list_is_newest_first_filtered_and_paged_to_the_end(store: Store) -> None:
    states: list[DeliveryState] = ["pending", "delivered", "dead"]
    orders = []
    for n in range(9):  # T-0, T-1, T-2 three each: pending, delivered, dead; two targets
        the_order = order(f"T-{n // 3}:breach:response:c{n}", f"webhook:hook-{n % 2}")
        orders.append(the_order)
        write(store, states[n % 3], the_order, at=AT + timedelta(minutes=n))
    # Two rows at the same instant: the id breaks the tie, and paging neither skips nor repeats.
    twins = [order(f"T-9:breach:response:c{n}") for n in (1, 2)]
    for twin in twins:
        write(store, "dead", twin, at=AT + timedelta(minutes=20))

    everything, cursor = list_deliveries(store, limit=100)
    assert cursor is None and len(everything) == 11
    created = [(row.created_at, row.id) for row in everything]
    assert created == sorted(created, reverse=True)

    paged, cursor = [], None
    while True:
        page, cursor = list_deliveries(store, limit=2, before=cursor)
        assert len(page) <= 2
        paged += page
        if cursor is None:
            break
        assert decode_cursor(encode_cursor(cursor)) == cursor
    assert paged == everything

    dead, _ = list_deliveries(store, state="dead")
    assert {row.state for row in dead} == {"dead"} and len(dead) == 5
    of_t1, _ = list_deliveries(store, ticket_id="T-1")
    assert {row.ticket_id for row in of_t1} == {"T-1"} and len(of_t1) == 3
    assert [r.state for r in of_t1] == ["dead", "delivered", "pending"]  # newest first
    both, _ = list_deliveries(store, state="delivered", ticket_id="T-1", target="webhook:hook-0")
    assert [r.id for r in both] == [delivery_id(orders[4].delivery)]
    assert list_deliveries(store, target="webhook:hook-9") == ([], None)


@pytest.mark.parametrize("token", ["", "bm9wZQ==", "not base64!", "MjAyNi0xMS0wMw=="])
def test_a_cursor_not_made_by_the_list_is_refused(token: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(token)
