"""The backfill of the orders table's index attributes (adapters/backfill.py) on moto, tables from
infra/resources.json: orders stored by an older release (no console search keys) are missing
from the `created_day` index; after the job, interrupted and resumed, the index finds every
one, and running it again writes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest

from chalicelib.adapters.backfill import INDEXED, OrderIndexBackfill
from chalicelib.adapters.dynamo import _item_from_order
from chalicelib.domain.model import Booking, Order, OrderLine, PlatformStatus
from chalicelib.domain.order_search import created_day
from local.provision import load_template

PLACED = datetime(2026, 11, 11, 2, 0, tzinfo=UTC)  # 10:00 Beijing on Double 11
SEARCH_KEYS = ("store_ref", "created_sort", "created_day", "id_bucket", "platform_day")


def order(n: int) -> Order:
    placed = PLACED + timedelta(minutes=n)
    return Order(
        platform="shopify",
        store="demo",
        order_id=f"B{n:04d}",
        status=PlatformStatus("paid"),
        booking=Booking.LOCKED,
        updated_at=placed,
        updated_at_raw=placed.isoformat(),
        currency="CNY",
        lines=(OrderLine("SKU-A", 1, Decimal("10")),),
        buyer=None,
        holds=(),
        version=1,
        created_at=placed,
        placed_at=placed,
    )


class Clock:
    """A run's time: each reading one second later (a budget of N s is N pages' checks)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def old_orders(container):
    """Seven orders as a release before the console's indexes stored them."""
    table = container.settings.orders_table
    raw = boto3.client("dynamodb", region_name="us-east-1")  # moto (the `aws` fixture)
    for n in range(7):
        _item_from_order(container.models, order(n)).save()
        raw.update_item(
            TableName=table,
            Key={"order_key": {"S": order(n).key}},
            UpdateExpression="REMOVE " + ", ".join(SEARCH_KEYS),
        )
    return raw, table


def in_day_index(raw, table) -> list[str]:
    found = raw.query(
        TableName=table,
        IndexName="created_day",
        KeyConditionExpression="created_day = :d",
        ExpressionAttributeValues={":d": {"S": created_day(PLACED)}},
    )["Items"]
    return sorted(i["order_id"]["S"] for i in found)


def backfill(container) -> OrderIndexBackfill:
    from chalicelib.adapters.cursors import build_cursor_model

    model = build_cursor_model(container.settings.poll_cursors_table, "us-east-1")
    return OrderIndexBackfill(container.models, model, clock=Clock())


def test_indexed_attributes_are_the_tables_gsi_keys():
    table = load_template()["Resources"]["OrdersTable"]["Properties"]
    keys = {k["AttributeName"] for g in table["GlobalSecondaryIndexes"] for k in g["KeySchema"]} - {
        "order_id",
        "order_key",
    }  # every item has these
    assert keys == set(INDEXED)


def test_old_orders_reach_the_index_after_an_interrupted_and_resumed_backfill(
    container, old_orders
):
    raw, table = old_orders
    assert in_day_index(raw, table) == []  # an older release's items: the index misses them
    job = backfill(container)
    first = job.run(page_size=3, budget_seconds=1)  # stops after one page: interrupted
    assert (first.scanned, first.updated, first.done, first.resumed) == (3, 3, False, False)
    assert len(in_day_index(raw, table)) == 3
    rest = backfill(container).run(page_size=3, budget_seconds=100)  # a new run resumes
    assert (rest.scanned, rest.updated, rest.done, rest.resumed) == (4, 4, True, True)
    assert in_day_index(raw, table) == [f"B{n:04d}" for n in range(7)]
    stored = raw.get_item(TableName=table, Key={"order_key": {"S": order(2).key}})["Item"]
    wanted = _item_from_order(container.models, order(2))
    assert stored["platform_day"]["S"] == wanted.platform_day == "shopify#2026-11-11"
    assert stored["version"]["N"] == "1"  # the order itself is untouched


def test_running_it_again_changes_nothing(container, old_orders):
    raw, table = old_orders
    assert backfill(container).run(page_size=50).done
    before = raw.scan(TableName=table)["Items"]
    again = backfill(container).run(page_size=50)
    assert (again.scanned, again.updated, again.unchanged, again.done) == (7, 0, 7, True)
    assert raw.scan(TableName=table)["Items"] == before


def test_an_order_written_meanwhile_is_not_overwritten(container, old_orders):
    raw, table = old_orders
    stale = container.models.orders.get(order(4).key)  # read by the job...
    raw.update_item(  # ...then the processor writes the order (a new version)
        TableName=table,
        Key={"order_key": {"S": order(4).key}},
        UpdateExpression="SET version = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    job = backfill(container)
    assert job._fill(stale) == "changed_meanwhile"
    stored = raw.get_item(TableName=table, Key={"order_key": {"S": order(4).key}})["Item"]
    assert "created_day" not in stored  # left to the writer (or the next run)


def test_bin_orderhub_backfill_orders_runs_it(
    container, old_orders, stack_env, monkeypatch, capsys
):
    from tools.orderhub import main

    for name, value in stack_env.items():  # as the functions' environment in AWS
        monkeypatch.setenv(name, value)
    assert main(["backfill", "orders", "--page-size", "4"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["scanned"], done["updated"], done["done"]) == (7, 7, True)
    raw, table = old_orders
    assert len(in_day_index(raw, table)) == 7
