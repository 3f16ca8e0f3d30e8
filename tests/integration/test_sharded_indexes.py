"""The write-sharded sparse indexes on the DynamoDB adapter (moto): items spread over the
configured shards, readers merge them back in the index's order, and items written with the
old constant (before sharding, not yet backfilled) are still found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.adapters.dynamo import DynamoOrderRepository
from chalicelib.adapters.dynamo_models import index_value, index_values
from chalicelib.adapters.dynamo_records import DynamoTrail
from chalicelib.adapters.order_search import DynamoStockList, build_search_models
from chalicelib.domain.booking import BookingContext, plan_event
from chalicelib.domain.model import StockLevel
from tests.builders import event

NOW = datetime(2026, 11, 25, 8, 1, tzinfo=UTC)
SKUS = [f"SKU-{i:02d}" for i in range(12)]


def _repo(container, shards: int) -> DynamoOrderRepository:
    from dataclasses import replace

    return DynamoOrderRepository(replace(container.models, shards=shards))


def _legacy(model, hash_key, range_key=None, **values):
    """Rewrite an item's index value to the constant written before sharding."""
    item = model.get(hash_key, range_key) if range_key else model.get(hash_key)
    item.update(actions=[getattr(model, k).set(v) for k, v in values.items()])


def test_pending_skus_merge_every_shard_and_the_old_constant_in_sku_order(container):
    repo = _repo(container, 4)
    for sku in SKUS:
        for wh in ("w1", "w2"):
            repo.put_stock(StockLevel.new(sku, wh, 3))
    inv = container.models.inventory
    _legacy(inv, "SKU-03", "w1", push_pending="1")
    _legacy(inv, "SKU-07", "w2", push_pending="1")
    values = {i.push_pending for i in inv.scan()}
    assert values == {
        "1",
        *(index_value("push_pending", f"{s}#{w}", 4) for s in SKUS for w in ("w1", "w2")),
    }
    assert len(values) == 5  # four shards, and the old constant

    assert repo.pending_skus() == SKUS
    assert repo.pending_skus(limit=5) == SKUS[:5]


def test_stock_list_pages_by_sku_across_shards_and_the_old_constant(container):
    repo = _repo(container, 4)
    for sku in SKUS:
        repo.put_stock(StockLevel.new(sku, "w1", 3))
    _legacy(container.models.inventory, "SKU-05", "w1", listed="1")
    s = container.settings
    stock_list = DynamoStockList(
        build_search_models(s.orders_table, s.inventory_table, s.region)[1], 4
    )

    seen, after = [], ""
    while True:
        page = stock_list.page(after, 5, False, "")
        if not page:
            break
        seen += [lvl.sku for lvl in page]
        after = page[-1].sku
    assert seen == SKUS


def test_open_orders_and_expiries_merge_across_shards(container):
    repo = _repo(container, 4)
    for sku in ("SKU-A",):
        repo.put_stock(StockLevel.new(sku, "w1", 100))
    keys = []
    for i in range(10):
        ev = event(order_id=f"o-{i}", lines=(("SKU-A", 1),))
        plan = plan_event(ev, None, repo.get_stock(["SKU-A"]), BookingContext(NOW))
        repo.commit(plan)
        keys.append(plan.order.key)
    orders = container.models.orders
    _legacy(orders, keys[3], holding="1", reservation_partition="R")
    written = {o.holding for o in orders.scan()}
    assert written <= set(index_values("open_orders", 4)) and len(written) > 2

    assert [o.key for o in repo.open_orders()] == sorted(keys)
    later = NOW + timedelta(days=30)
    due = repo.orders_due_for_expiry(later, limit=4)
    all_due = repo.orders_due_for_expiry(later, limit=100)
    assert len(all_due) == 10
    assert due == all_due[:4]
    expiries = [o.reserved_until for o in all_due]
    assert expiries == sorted(expiries)


def test_pending_trail_entries_merge_oldest_first(container):
    from dataclasses import replace

    trail = DynamoTrail(replace(container.models, shards=4))
    base = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    for i in range(9):
        trail.record_receipt(f"mall#s1#e{i}", "mall", "s1", base + timedelta(seconds=i), 5, "m")
    _legacy(container.models.trail, "mall#s1#e4", pending="1")
    due = trail.pending_before(base + timedelta(minutes=1), limit=6)
    assert [d["event_key"] for d in due] == [f"mall#s1#e{i}" for i in range(6)]


def test_awaiting_shipment_merges_shards_and_the_old_stage_value(container):
    repo = _repo(container, 4)
    repo.put_stock(StockLevel.new("SKU-A", "w1", 100))
    keys = []
    for i in range(6):
        paid = NOW + timedelta(minutes=i)
        ev = event(order_id=f"p-{i}", status="paid", updated_at=paid.isoformat())
        repo.commit(plan_event(ev, None, repo.get_stock(["SKU-A"]), BookingContext(paid)))
        keys.append(f"mall#s1#p-{i}")
    _legacy(container.models.orders, keys[2], awaiting="paid")
    values = {o.awaiting for o in container.models.orders.scan()}
    assert "paid" in values and len(values) > 2
    from dataclasses import replace

    from chalicelib.adapters.anomalies import DynamoShipmentWatch

    watch = DynamoShipmentWatch(replace(container.models, shards=4))
    waiting = watch.waiting("paid", NOW + timedelta(hours=1), limit=5)
    assert [w.subject for w in waiting] == keys[:5]


def test_after_sales_and_tracks_merge_shards_and_the_old_constant(container):
    from chalicelib.adapters.after_sales import DynamoAfterSales
    from chalicelib.adapters.tracks import DynamoTracks
    from chalicelib.domain.after_sales import REQUESTED, AfterSalesEvent
    from chalicelib.domain.tracking import Subscription

    log = DynamoAfterSales(container.after_sales._m, 4)
    for i in range(6):
        at = NOW + timedelta(minutes=i)
        log.record(AfterSalesEvent("tiktok", "tt", f"o-{i}", f"r-{i}", REQUESTED, at, "1", f"k{i}"))
    _legacy(log._m, "tiktok#tt#r-3", waiting="1")
    since = [w.since for w in log.unanswered(NOW + timedelta(hours=1), limit=5)]
    assert since == [NOW + timedelta(minutes=i) for i in range(5)]

    tracks = DynamoTracks(container.tracks._m, 4)
    for i in range(6):
        tracks.subscribe(
            Subscription(f"o-{i}", "yto", f"N{i}", "kuaidi100", NOW + timedelta(minutes=i)), NOW
        )
    _legacy(tracks._m, "yto#N1", moving="1")
    silent = tracks.silent(NOW + timedelta(hours=1), limit=4)
    assert [t.number for t in silent] == ["N0", "N1", "N2", "N3"]
    assert len(tracks.unsubscribed(limit=100)) == 6
