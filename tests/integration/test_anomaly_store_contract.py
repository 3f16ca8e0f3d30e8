"""One anomaly-store contract, two implementations: the in-memory fake and DynamoDB under moto
(tables and GSIs created from infra/resources.json). Conditional transitions, the `by_status`
and `awaiting_shipment` index queries, and a scan job that never issues a DynamoDB Scan."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import botocore.client
import pytest

from app import app
from chalicelib.deps import use_container
from chalicelib.domain.anomalies import NEVER
from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.errors import Conflict
from chalicelib.domain.model import Anomaly, Priority, StockLevel
from chalicelib.domain.ports import Store, StoreRules
from chalicelib.domain.processing import process_order_event, ship_order
from chalicelib.domain.stock_ops import OutboundConfirmation, ShippedLine
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from tests.anomaly_fakes import FakeAnomalies, FakeShipmentWatch
from tests.builders import event
from tests.fakes import FakeNotifier, FakeOrderRepository, FixedClock

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
OOS = Anomaly("out_of_stock", "mall#s1#o-1", Priority.P0, "short")


@dataclass
class World:
    repo: Any
    store: Any
    watch: Any


@pytest.fixture(params=["fake", "dynamodb"])
def world(request) -> World:
    if request.param == "fake":
        repo = FakeOrderRepository()
        world = World(repo, FakeAnomalies(repo.anomalies), FakeShipmentWatch(repo))
    else:
        c = request.getfixturevalue("container")
        world = World(c.orders, c.anomalies, c.shipment_watch)
    world.repo.put_stock(StockLevel.new("SKU-A", "w1", 5))
    return world


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_opens_once_counts_repeats_and_is_due_at_once(world):
    world.store.open_anomaly(OOS, at(0))
    world.store.open_anomaly(OOS, at(3))
    record = world.store.get(OOS.key)
    assert (record.status, record.opened_at, record.last_seen_at) == ("open", at(0), at(3))
    assert (record.occurrences, record.due_at, record.priority) == (2, at(0), "P0")
    assert world.repo.get_anomaly("out_of_stock", "mall#s1#o-1")["occurrences"] == 2
    assert [r.key for r in world.store.due(at(0))] == [OOS.key]
    assert world.store.due(at(-1)) == []


def test_the_booking_transactions_upsert_joins_the_lifecycle(world):
    plan = plan_event(
        event(lines=(("NOPE", 1),)), None, world.repo.get_stock(["NOPE"]), BookingContext(at(0))
    )
    world.repo.commit(plan)
    record = world.store.get("unknown_sku#mall#s1#o-1")
    assert record.status == "open" and record.due_at == at(0)
    assert [r.key for r in world.store.active()] == ["unknown_sku#mall#s1#o-1"]


def test_open_unless_active_opens_only_what_is_not_open(world):
    assert world.store.open_unless_active(OOS, at(0)) is True
    assert world.store.open_unless_active(OOS, at(5)) is False
    assert world.store.get(OOS.key).occurrences == 1
    world.store.resolve(world.store.get(OOS.key), "ops", "", at(6))
    assert world.store.open_unless_active(OOS, at(7)) is True
    assert world.store.get(OOS.key).opened_at == at(7)


def test_announce_and_escalate_move_only_the_record_they_read(world):
    world.store.open_anomaly(OOS, at(0))
    seen = world.store.get(OOS.key)
    assert world.store.mark_announced(seen, at(30), at(1)) is True
    assert world.store.mark_announced(seen, at(30), at(1)) is False  # stale: due moved
    announced = world.store.get(OOS.key)
    assert (announced.announced_at, announced.due_at) == (at(1), at(30))
    assert world.store.due(at(29)) == []
    [due] = world.store.due(at(31))
    assert world.store.escalate(due, 1, at(60), at(31)) is True
    assert world.store.escalate(due, 1, at(60), at(32)) is False
    escalated = world.store.get(OOS.key)
    assert (escalated.escalation_level, escalated.escalated_at) == (1, at(31))
    assert world.store.escalate(escalated, 2, NEVER, at(61)) is True
    assert world.store.due(datetime(9000, 1, 1, tzinfo=UTC)) == []  # NEVER is never due
    assert [r.key for r in world.store.active("open")] == [OOS.key]


def test_acknowledge_is_conditional_on_still_open(world):
    world.store.open_anomaly(OOS, at(0))
    seen = world.store.get(OOS.key)
    after = world.store.acknowledge(seen, "li@x", "on it", at(240), at(10))
    assert (after.status, after.acknowledged_by, after.acknowledge_note) == (
        "acknowledged",
        "li@x",
        "on it",
    )
    assert after.due_at == at(240) and after.acknowledged_at == at(10)
    with pytest.raises(Conflict):
        world.store.acknowledge(seen, "wu@x", "", at(240), at(11))
    assert [r.key for r in world.store.active("acknowledged")] == [OOS.key]
    assert world.store.active("open") == []


def test_resolve_keeps_the_episode_and_the_next_occurrence_reopens(world):
    world.store.open_anomaly(OOS, at(0))
    world.store.open_anomaly(OOS, at(1))
    seen = world.store.get(OOS.key)
    world.store.mark_announced(seen, at(30), at(1))
    seen = world.store.get(OOS.key)
    episode = world.store.resolve(seen, "li@x", "restocked", at(20))
    assert episode.key == f"{OOS.key}@2026-11-25T08:00:00.000000Z"
    assert (episode.status, episode.episode_of, episode.occurrences) == ("resolved", OOS.key, 2)
    assert (episode.resolved_at, episode.resolved_by, episode.resolution_note) == (
        at(20),
        "li@x",
        "restocked",
    )
    assert episode.opened_at == at(0) and episode.announced_at == at(1)
    live = world.store.get(OOS.key)
    assert (live.status, live.opened_at, live.occurrences, live.resolved_count) == (
        "resolved",
        None,
        0,
        1,
    )
    assert world.store.active() == [] and world.store.due(at(999)) == []
    with pytest.raises(Conflict):
        world.store.resolve(seen, "li@x", "", at(21))
    assert [e.key for e in world.store.resolved(at(0), at(30))] == [episode.key]
    assert world.store.resolved(at(21), at(30)) == []
    world.repo.open_anomaly(OOS, at(40))  # it happens again
    again = world.store.get(OOS.key)
    assert (again.status, again.opened_at, again.occurrences, again.due_at) == (
        "open",
        at(40),
        1,
        at(40),
    )
    assert again.announced_at is None and again.escalation_level == 0
    assert world.repo.get_anomaly("out_of_stock", "mall#s1#o-1")["status"] == "open"


def test_resolved_episodes_list_newest_first(world):
    for n in range(3):
        world.store.open_anomaly(OOS, at(10 * n))
        world.store.resolve(world.store.get(OOS.key), "ops", "", at(10 * n + 5))
    listed = world.store.resolved(at(0), at(100))
    assert [e.resolved_at for e in listed] == [at(25), at(15), at(5)]
    assert world.store.get(OOS.key).resolved_count == 3


def book(world: World, status: str, when: datetime, order_id: str = "o-1") -> None:
    ev = event(order_id, status, updated_at=when.isoformat())
    process_order_event(ev, world.repo, lambda: BookingContext(when))


def test_shipment_watch_reads_the_awaiting_shipment_index(world):
    book(world, "paid", at(0), "o-1")
    book(world, "paid", at(60), "o-2")
    book(world, "unpaid", at(0), "o-3")
    waiting = world.watch.waiting("paid", at(30))
    assert [(w.subject, w.since) for w in waiting] == [("mall#s1#o-1", at(0))]
    assert len(world.watch.waiting("paid", at(60))) == 2
    book(world, "shipped", at(90), "o-2")  # platform says shipped, units still locked
    assert [w.subject for w in world.watch.waiting("paid", at(999))] == ["mall#s1#o-1"]
    assert [(w.subject, w.since) for w in world.watch.waiting("shipped", at(999))] == [
        ("mall#s1#o-2", at(90))
    ]
    line = ShippedLine("SKU-A", 1, "w1")
    ship_order(OutboundConfirmation("c1", "mall", "s1", "o-1", (line,)), world.repo, lambda: at(95))
    assert world.watch.waiting("paid", at(999)) == []


@pytest.fixture
def api_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every AWS API operation issued (boto3 and pynamodb both go through botocore)."""
    calls: list[str] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.append(f"{self.meta.service_model.service_name}:{operation_name}")
        return original(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", spy)
    yield calls


def test_the_scan_job_reads_through_indexes_never_a_table_scan(container, api_calls):
    container.orders.put_stock(StockLevel.new("SKU-A", "w1", 5))
    process_order_event(
        event("o-1", "paid", updated_at=T0.isoformat()),
        container.orders,
        lambda: BookingContext(T0),
    )
    container.now = FixedClock(T0 + timedelta(hours=6, minutes=1))
    container.__dict__["notifier"] = notifier = FakeNotifier()
    use_container(container)
    try:
        api_calls.clear()
        name = "scan_anomalies"
        result = app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))
    finally:
        use_container(None)
    assert result["opened"] == ["paid_not_picked#mall#s1#o-1"]
    assert result["announced"] == ["paid_not_picked#mall#s1#o-1"]
    assert [n.kind for n in notifier.notices] == ["anomaly_opened"]
    assert "dynamodb:Query" in api_calls
    assert not [c for c in api_calls if c.endswith(":Scan")], api_calls


def test_a_stores_address_rules_round_trip_through_the_catalog(container):
    rules = StoreRules(forbid_po_box=True, address_blocklist=("reship hub", "转运"))
    container.catalog_store.put_store(Store("mall", "s9", "secret/s9", rules=rules))
    assert container.catalog_store.get_store("mall", "s9").rules == rules
