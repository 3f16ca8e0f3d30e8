"""A push run reads its SKUs' push states at once (`read_push_states`, one BatchGetItem),
and gets what one `read_push_state` (a Query) per SKU gets; a SKU the batch cannot vouch for
is read whole; a failed batch read leaves each SKU to its own read. A nudge's run reads the
states and the listings in one request (adapters/push_reads.py). Under `mock_aws`."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from chalicelib.adapters.push_reads import push_run_reads
from chalicelib.domain.listings import Listing
from chalicelib.domain.model import StockLevel
from chalicelib.domain.ports import Store
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.stock_push import push_stock_changes
from tests.fakes import FakeEventPublisher, FakeStockPush

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
WAREHOUSES = ("w1", "w2")


@pytest.fixture
def repo(container):
    orders = container.orders
    for sku in ("A", "B", "C"):
        for warehouse in WAREHOUSES:
            orders.put_stock(StockLevel.new(sku, warehouse, 5))
        state = orders.read_push_state(sku)  # pushed: no flag left
        assert not orders.clear_push_pending(sku, {w: state.versions[w] for w in state.pending})
    for n, (sku, warehouse) in enumerate((("A", "w1"), ("A", "w2"), ("B", "w2"))):
        adjust_stock(
            Adjustment(f"r-{n}", sku, warehouse, "receipt", 3, "top-up"), orders, lambda: NOW
        )
    return orders


def test_the_states_read_at_once_are_the_states_read_one_by_one(repo, calls):
    calls.clear()
    states = repo.read_push_states(["A", "B", "A"], WAREHOUSES)
    assert +calls == Counter({"dynamodb.BatchGetItem": 1})
    assert set(states) == {"A", "B"}
    for sku in ("A", "B"):
        assert states[sku] == repo.read_push_state(sku)
    assert states["A"].pending == {"w1", "w2"} and states["B"].pending == {"w2"}
    assert {lv.warehouse: lv.available for lv in states["A"].levels} == {"w1": 8, "w2": 8}


def test_a_sku_without_a_flag_in_the_listed_warehouses_is_read_whole(repo, calls):
    calls.clear()
    # B's flag is on w2, which this (stale) list does not have yet; C has no flag at all
    states = repo.read_push_states(["A", "B", "C"], ("w1",))
    assert calls["dynamodb.BatchGetItem"] == 1 and calls["dynamodb.Query"] == 2
    assert states["B"] == repo.read_push_state("B") and states["B"].pending == {"w2"}
    assert not states["C"].pending
    assert states["A"].pending == {"w1"}  # A read here: its w2 flag stays for a later run


def test_a_failed_batch_read_leaves_each_sku_to_its_own_read(repo, monkeypatch):
    def broken(skus, warehouses):
        raise RuntimeError("table unreachable")

    monkeypatch.setattr(repo, "read_push_states", broken)
    stores = [Store("mall", "shop", "orderhub/stores/mall/shop")]
    client = FakeStockPush()
    summary = push_stock_changes(
        repo,
        stores,
        client,
        FakeEventPublisher(),
        lambda: NOW,
        skus=["A", "B"],
        warehouses=WAREHOUSES,
    )
    assert summary.errors == [] and summary.skus == 2
    assert sorted((sku, qty) for _, _, sku, qty in client.pushes) == [("A", 16), ("B", 13)]
    assert "A" not in repo.pending_skus() and "B" not in repo.pending_skus()


LISTED = [("shopify", "s1", "A"), ("shopify", "s1", "B")]


def test_a_nudge_runs_states_and_listings_are_one_read(container, repo, calls):
    container.listings.put(Listing("shopify", "s1", "A", {"variant": "7"}, NOW, ""))
    calls.clear()
    with push_run_reads(
        container.dynamodb, repo, container.listings, ["A", "B"], WAREHOUSES, LISTED
    ) as states:
        assert +calls == Counter({"dynamodb.BatchGetItem": 1})  # both tables, one request
        assert states == {sku: repo.read_push_state(sku) for sku in ("A", "B")}
        calls.clear()
        assert container.listings.get("shopify", "s1", "A").ids == {"variant": "7"}
        assert container.listings.get("shopify", "s1", "B") is None  # read: not listed
        with container.listings.preloaded([*LISTED, ("shopify", "s1", "C")]):
            assert container.listings.get("shopify", "s1", "C") is None
        assert +calls == Counter({"dynamodb.BatchGetItem": 1})  # only C was left to read


def test_a_failed_read_of_the_run_preloads_nothing(container, repo, calls, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("throttled")

    monkeypatch.setattr(container.dynamodb, "batch_get_item", broken)
    with push_run_reads(
        container.dynamodb, repo, container.listings, ["A"], WAREHOUSES, LISTED
    ) as states:
        assert states == {}
        calls.clear()
        assert container.listings.get("shopify", "s1", "A") is None
        assert calls["dynamodb.GetItem"] == 1  # read on its own, as without the preload
