"""The incremental ledger audit on the DynamoDB adapter (moto): records reach the sparse,
day-keyed `ledger_day` index; checkpoints round-trip through the ops-stats table in chunks;
the sums equal the full ledger's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters import ledger_checkpoints
from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.ledger_audit import SETTLE, Checkpoint, ledger_day, run_ledger
from chalicelib.domain.model import StockLevel
from chalicelib.domain.stock_ops import ledger_balances
from tests.builders import event

DAY1 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 Beijing


def _book(repo, order_id: str, at: datetime, sku: str = "A") -> None:
    ev = event(order_id=order_id, lines=((sku, 1),))
    repo.commit(plan_event(ev, None, repo.get_stock([sku]), BookingContext(at)))


def _nonzero(balances):
    return {k: dict(v) for k, v in balances.items() if any(v.values())}


def test_records_are_found_by_day_and_the_sums_equal_the_full_ledger(container):
    repo = container.orders
    repo.put_stock(StockLevel.new("A", "w1", 100))
    repo.put_stock(StockLevel.new("B", "w1", 100))
    for i in range(6):
        _book(repo, f"d1-{i}", DAY1 + timedelta(hours=i))
    source = container.ledger_source
    first = run_ledger(source, DAY1 + timedelta(days=1))
    assert first.full_history

    for i in range(5):
        _book(repo, f"d2-{i}", DAY1 + timedelta(days=1, hours=i), sku="B")
    events = container.models.events
    days = {i.ledger_day.split("#")[0] for i in events.scan() if i.ledger_day}
    assert days == {ledger_day(DAY1), ledger_day(DAY1 + timedelta(days=1))}
    second = run_ledger(source, DAY1 + timedelta(days=2))
    assert not second.full_history
    assert second.records_read == 5  # the second day's bookings only
    assert _nonzero(second.expected) == _nonzero(ledger_balances(list(repo.ledger())))
    assert second.checkpoint.through == DAY1 + timedelta(days=2) - SETTLE


def test_checkpoints_round_trip_in_chunks(container, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ledger_checkpoints, "CHUNK", 3)
    source = container.ledger_source
    assert source.latest_checkpoint() is None
    balances = {
        (f"S{i}", "w1"): {"on_hand": i, "locked": 1, "reserved": 2, "available": i - 3}
        for i in range(10)
    }
    saved = Checkpoint(DAY1, balances, ("mall#s1#x",), 42)
    source.save_checkpoint(saved)
    assert source.latest_checkpoint() == saved


def test_a_second_save_at_the_same_moment_replaces_the_first_whole(container, monkeypatch):
    monkeypatch.setattr(ledger_checkpoints, "CHUNK", 2)
    source = container.ledger_source
    first = {
        (f"S{i}", "w1"): {"on_hand": 1, "locked": 0, "reserved": 0, "available": 1}
        for i in range(5)
    }
    source.save_checkpoint(Checkpoint(DAY1, first, ("a#part1",), 5))
    second = {("S0", "w1"): {"on_hand": 7, "locked": 0, "reserved": 0, "available": 7}}
    source.save_checkpoint(Checkpoint(DAY1, second, (), 6))
    assert source.latest_checkpoint() == Checkpoint(DAY1, second, (), 6)
