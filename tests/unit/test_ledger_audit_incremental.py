"""The incremental ledger audit (domain/ledger_audit.py): night after night, the checkpoint
plus the movements since equals the sum of the whole ledger; it reads one day, not all
history; staged commits rolled back after a checkpoint leave it exact; a drift stays found."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.ledger_audit import (
    SETTLE,
    Checkpoint,
    days_between,
    ledger_day,
    ledger_day_value,
    root_key,
    run_ledger,
)
from chalicelib.domain.model import StockLevel
from chalicelib.domain.stock_ops import audit_stock, ledger_balances

START = datetime(2026, 11, 1, 16, 30, tzinfo=UTC)  # 00:30 Beijing, Nov 2


class MemoryLedger:
    """`LedgerSource` over a list of records; counts what each run reads."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.saved: list[Checkpoint] = []
        self.scans = 0
        self.read = 0

    def add(self, key: str, at: datetime, moves: list[tuple[str, str, int]], outcome="booked"):
        self.records[key] = {
            "event_key": key,
            "outcome": outcome,
            "processed_at": at.isoformat(),
            "movements": [
                {"sku": s, "warehouse": w, "on_hand": q, "locked": 0, "reserved": 0, "available": q}
                for s, w, q in moves
            ],
        }

    def latest_checkpoint(self) -> Checkpoint | None:
        return self.saved[-1] if self.saved else None

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.saved.append(checkpoint)

    def records_between(self, start: datetime, end: datetime) -> Iterable[Mapping[str, Any]]:
        for r in self.records.values():
            if start <= datetime.fromisoformat(r["processed_at"]) < end and r["movements"]:
                self.read += 1
                yield r

    def all_records(self) -> Iterable[Mapping[str, Any]]:
        self.scans += 1
        self.read += len(self.records)
        return list(self.records.values())

    def get_record(self, event_key: str) -> Mapping[str, Any] | None:
        return self.records.get(event_key)


def full(ledger: MemoryLedger) -> dict:
    return ledger_balances(list(ledger.records.values()))


def nonzero(balances: Mapping) -> dict:
    return {k: dict(v) for k, v in balances.items() if any(v.values())}


movement = st.tuples(
    st.integers(0, 29 * 24 * 60),  # minute of the month
    st.sampled_from(["A", "B", "C"]),
    st.sampled_from(["east", "south"]),
    st.integers(-3, 5),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(movement, max_size=120), st.integers(0, 23 * 60))
def test_incremental_sums_equal_the_full_history_every_night(moves, run_minute):
    ledger = MemoryLedger()
    first = START.replace(hour=0, minute=0) - timedelta(days=1)
    for i, (minute, sku, wh, q) in enumerate(moves):
        ledger.add(f"e{i}", first + timedelta(minutes=minute), [(sku, wh, q)])
    for night in range(31):
        now = START + timedelta(days=night, minutes=run_minute if night == 5 else 0)
        visible = MemoryLedger()  # only what has been processed by `now`
        visible.saved, visible.scans = ledger.saved, ledger.scans
        visible.records = {
            k: r
            for k, r in ledger.records.items()
            if datetime.fromisoformat(r["processed_at"]) < now
        }
        run = run_ledger(visible, now)
        ledger.saved, ledger.scans = visible.saved, visible.scans
        assert nonzero(run.expected) == nonzero(full(visible))
        assert run.full_history == (night == 0)
    assert ledger.scans == 1  # the first run only


def test_first_run_builds_from_the_full_history_once_then_reads_a_day():
    ledger = MemoryLedger()
    day0 = START - timedelta(days=30)
    for d in range(31):
        for i in range(100):
            ledger.add(f"d{d}-{i}", day0 + timedelta(days=d, minutes=i), [("A", "east", 1)])
    first = run_ledger(ledger, START + timedelta(days=1))
    assert first.full_history and first.records_read == 3100
    assert first.checkpoint.through == START + timedelta(days=1) - SETTLE
    for i in range(100):  # the next day's movements
        ledger.add(f"n{i}", START + timedelta(days=1, minutes=i), [("A", "east", 1)])
    second = run_ledger(ledger, START + timedelta(days=2))
    assert not second.full_history
    assert second.records_read == 100  # that day only: 3,200 in history
    assert second.expected[("A", "east")]["on_hand"] == 3200


def test_a_rerun_the_same_night_does_not_move_the_checkpoint_back():
    ledger = MemoryLedger()
    ledger.add("e1", START - timedelta(hours=3), [("A", "east", 4)])
    run_ledger(ledger, START)
    again = run_ledger(ledger, START - timedelta(minutes=5))
    assert again.checkpoint.through == START - SETTLE
    assert again.expected[("A", "east")]["on_hand"] == 4


def test_a_staged_commit_rolled_back_after_the_checkpoint_leaves_it_exact():
    ledger = MemoryLedger()
    t = START - timedelta(hours=2)
    ledger.add("big", t, [("A", "east", -2)], outcome="staging")
    ledger.add("big#part1", t, [("B", "east", -3)], outcome="staging")
    ledger.add("done", t, [("C", "east", 1)], outcome="booked")
    ledger.add("done#part1", t, [("C", "south", 1)], outcome="staging")  # root final: counts
    run = run_ledger(ledger, START)
    assert run.checkpoint.unsettled == ("big", "big#part1")
    assert ("A", "east") not in run.checkpoint.balances
    assert run.expected[("A", "east")]["on_hand"] == -2  # stock holds it: so must the sums
    del ledger.records["big#part1"], ledger.records["big"]  # rolled back (stock reversed)
    after = run_ledger(ledger, START + timedelta(days=1))
    assert nonzero(after.expected) == nonzero(full(ledger))
    assert after.checkpoint.unsettled == ()


def test_a_staged_commit_made_final_after_the_checkpoint_is_counted_once():
    ledger = MemoryLedger()
    t = START - timedelta(hours=2)
    ledger.add("big", t, [("A", "east", -2)], outcome="staging")
    ledger.add("big#part1", t, [("B", "east", -3)], outcome="staging")
    run_ledger(ledger, START)
    ledger.records["big"]["outcome"] = "booked"
    after = run_ledger(ledger, START + timedelta(days=1))
    assert nonzero(after.checkpoint.balances) == nonzero(full(ledger))
    third = run_ledger(ledger, START + timedelta(days=2))
    assert nonzero(third.expected) == nonzero(full(ledger))


def test_a_drift_is_found_and_still_found_the_next_night():
    ledger = MemoryLedger()
    ledger.add("e1", START - timedelta(days=2), [("A", "east", 5)])
    ledger.add("e2", START - timedelta(hours=5), [("A", "east", -1)])
    stored = [StockLevel("A", "east", 4, 0, 0, 4)]
    assert audit_stock(stored, run_ledger(ledger, START).expected, []) == []
    tampered = [StockLevel("A", "east", 9, 0, 0, 9)]  # a write that bypassed the ledger
    for night in (1, 2):
        drifts = audit_stock(
            tampered, run_ledger(ledger, START + timedelta(days=night)).expected, []
        )
        assert {(d.bucket, d.stored, d.expected) for d in drifts} == {
            ("on_hand", 9, 4),
            ("available", 9, 4),
        }


def test_day_keys_are_beijing_days_sharded_by_event_key():
    at = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # 00:00 Beijing, Dec 8
    assert ledger_day(at) == "2026-12-08"
    assert ledger_day(at - timedelta(seconds=1)) == "2026-12-07"
    value = ledger_day_value("shopify#s1#w-1", at, 16)
    assert value.startswith("2026-12-08#") and 0 <= int(value.split("#")[1]) < 16
    assert days_between(at - timedelta(hours=1), at + timedelta(hours=1)) == [
        "2026-12-07",
        "2026-12-08",
    ]
    assert root_key("mall#s1#x#part3") == "mall#s1#x"
    assert root_key("mall#s1#partner") == "mall#s1#partner"
