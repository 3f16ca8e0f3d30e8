"""Chaos: throttling, timeouts, transaction conflicts and crashes after commit (before the
queue delete) at a set rate, every webhook delivered 1-4 times in random order. Across 20
seeded runs of 500 orders, after the queue and the DLQ replay drain, stock and orders equal
the fault-free run, nothing is double-booked, nothing is lost, and every accepted event ends
with a record (or back in the DLQ, counted)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.booking import BookingContext
from chalicelib.domain.delivery import MAX_ATTEMPTS, is_permanent
from chalicelib.domain.errors import ConcurrentUpdate, TransientFailure
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import Warehouse
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment, audit_stock, ledger_balances
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock

SKUS = ("A", "B", "C", "D")
WAREHOUSES = {"east": Warehouse("east", "east", 1), "south": Warehouse("south", "south", 2)}
ORDERS = 500
RUNS = 20


class Crash(Exception):
    """The Lambda died after the DynamoDB commit, before SQS deleted the message."""


class Faulty(FakeOrderRepository):
    def __init__(self, rng: random.Random, rate: float) -> None:
        super().__init__()
        self.rng, self.rate = rng, rate
        self.injected = 0

    def _maybe(self, *faults: Exception) -> None:
        if self.rate and self.rng.random() < self.rate:
            self.injected += 1
            raise self.rng.choice(faults)

    def get_order(self, key):
        self._maybe(TransientFailure("ProvisionedThroughputExceeded"), TimeoutError("read"))
        return super().get_order(key)

    def get_stock(self, skus):
        self._maybe(TransientFailure("HTTP 500 from DynamoDB"), TimeoutError("read"))
        return super().get_stock(skus)

    def commit(self, plan):
        self._maybe(ConcurrentUpdate("TransactionConflict"), TransientFailure("throttled"))
        super().commit(plan)
        self._maybe(Crash("Lambda timed out after commit"))


@dataclass
class Message:
    event: OrderEvent
    receives: int = 0


def lifecycle(rng: random.Random, n: int) -> list[OrderEvent]:
    lines = tuple((sku, rng.randint(1, 2)) for sku in rng.sample(SKUS, rng.randint(1, 2)))
    steps = [("unpaid", 0)]
    roll = rng.random()
    if roll < 0.6:
        steps.append(("paid", 2))
    elif roll < 0.8:
        steps.append(("cancelled", 3))
    if roll < 0.2:
        steps.append(("refunded", 9))
    return [
        event(
            order_id=f"o{n}",
            status=status,
            lines=lines,
            delivery=f"o{n}-{status}",
            updated_at=f"2026-11-25T16:{minute:02d}:00+08:00",
        )
        for status, minute in steps
    ]


def play(
    seed: int,
    repo: Any,
    set_rate: Callable[[float], None],
    fault_rate: float,
    stock: int = 5000,
    warehouses: tuple[str, ...] = ("east",),
) -> dict[str, int]:
    """Open stock, then deliver every order's events 1-4 times in random order through a
    queue that retries failures and parks them in a DLQ after 5 attempts; faults on while the
    queue drains, off for the DLQ replay. `set_rate` turns the repository's faults on/off."""
    rng = random.Random(seed)
    clock = FixedClock()
    for sku in SKUS:
        for wh in warehouses:
            adjust_stock(
                Adjustment(f"open-{sku}-{wh}", sku, wh, "receipt", stock, "open"), repo, clock
            )
    set_rate(fault_rate)

    def context() -> BookingContext:
        return BookingContext(clock(), WAREHOUSES)

    deliveries = [
        ev for n in range(ORDERS) for ev in lifecycle(rng, n) for _ in range(rng.randint(1, 4))
    ]
    rng.shuffle(deliveries)
    queue, dlq = deque(Message(ev) for ev in deliveries), []
    stats = {"accepted": len(deliveries), "retries": 0, "dlq": 0, "permanent": 0}

    def drain() -> None:
        while queue:
            message = queue.popleft()
            message.receives += 1
            try:
                process_order_event(message.event, repo, context)
            except Exception as exc:
                if is_permanent(exc):
                    stats["permanent"] += 1
                elif message.receives >= MAX_ATTEMPTS:
                    dlq.append(message)
                    stats["dlq"] += 1
                else:
                    stats["retries"] += 1
                    queue.append(message)  # back after its visibility timeout

    drain()
    set_rate(0.0)  # the cause is fixed; the operator replays the DLQ
    queue.extend(Message(m.event) for m in dlq)
    dlq.clear()
    drain()
    stats["dlq_left"] = len(dlq)  # parked again after the replay: never booked
    return stats


def run(
    seed: int, fault_rate: float, stock: int = 5000, warehouses: tuple[str, ...] = ("east",)
) -> tuple[FakeOrderRepository, dict[str, int]]:
    repo = Faulty(random.Random(seed * 7919), 0.0)

    def set_rate(rate: float) -> None:
        repo.rate = rate

    stats = play(seed, repo, set_rate, fault_rate, stock, warehouses)
    stats["injected"] = repo.injected
    return repo, stats


def states(repo: FakeOrderRepository) -> dict[str, tuple]:
    """What an order's state is: the platform's word and what it holds. (Its version counts
    the events that changed it, which depends on the order they came in.)"""
    return {
        key: (o.status, o.booking, o.holds, o.updated_at, o.lines) for key, o in repo.orders.items()
    }


def balanced(repo: FakeOrderRepository) -> bool:
    return (
        audit_stock(
            repo.all_stock(), ledger_balances(list(repo.ledger())), list(repo.open_orders())
        )
        == []
    )


@pytest.mark.parametrize("seed", range(RUNS))
def test_faults_change_nothing_but_the_number_of_tries(seed):
    """Ample stock, so which order wins a unit cannot depend on timing: the stormy run must
    end exactly where the calm one does."""
    calm, quiet = run(seed, 0.0)
    stormy, stats = run(seed, 0.08)
    # nothing a calm run books may park in the DLQ, or be refused (a processor failing every
    # paid event would otherwise fail both runs alike and pass)
    assert (quiet["dlq"], quiet["dlq_left"], quiet["permanent"], quiet["retries"]) == (0, 0, 0, 0)
    assert stats["dlq_left"] == 0
    assert stats["injected"] > 0 and stats["retries"] > 0
    assert stormy.stock == calm.stock  # 0 double-booked, 0 lost stock moves
    assert states(stormy) == states(calm)
    assert set(stormy.events) == set(calm.events)  # every accepted event ended with a record
    assert all(key in stormy.events for key in {k for k in calm.events})
    assert balanced(stormy)
    assert stats["permanent"] == 0


def test_the_dlq_check_catches_a_processor_that_fails_every_paid_event(monkeypatch):
    """The check above, proven able to fail: break booking on purpose (every paid event
    raises) and the calm run parks deliveries in the DLQ."""
    from chalicelib.domain import processing

    real = processing.plan_event

    def broken(event, *args, **kwargs):
        if event.status.value == "paid":
            raise TransientFailure("broken on purpose")
        return real(event, *args, **kwargs)

    monkeypatch.setattr(processing, "plan_event", broken)
    _, quiet = run(0, 0.0)
    assert quiet["dlq"] > 0 and quiet["dlq_left"] > 0


@pytest.mark.parametrize("seed", range(5))
def test_under_contention_faults_never_oversell_or_lose_an_event(seed):
    """Scarce stock in two warehouses: who wins now depends on timing (first come, first
    served), but no bucket goes negative, the ledger explains every unit, and every accepted
    event still ends with exactly one record."""
    calm, quiet = run(seed, 0.0, stock=40, warehouses=("east", "south"))
    stormy, stats = run(seed, 0.08, stock=40, warehouses=("east", "south"))
    assert (quiet["dlq"], quiet["dlq_left"], quiet["permanent"]) == (0, 0, 0)
    assert stats["dlq_left"] == 0
    assert stats["injected"] > 0
    assert set(stormy.events) == set(calm.events)
    assert all(level.is_consistent() for level in stormy.all_stock())
    assert balanced(stormy)
    outcomes = {record.outcome.value for record, _ in stormy.events.values()}
    assert "rejected_out_of_stock" in outcomes  # contention really happened
