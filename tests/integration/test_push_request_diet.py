"""The request diet of the stock-push pipeline (issue 16 item 1): what a stock change costs
after the booking, counted on every botocore client while it goes the whole way (the
processor's batch commits and nudges -> the nudge queue -> `handle_stock_nudges` -> every
channel over HTTP -> the console's pushed records, the outbox flags cleared).

The cost must not grow with the number of channels: a run reads the listings of all its
channels in one `BatchGetItem` and records one SKU's pushes to all of them in one
`UpdateItem`. Before, each SKU cost a listing `GetItem` per marketplace channel and a record
`UpdateItem` per channel (22 requests per SKU with the local seed's eleven stores).

Counted, not timed. Under `mock_aws`, in-process, the channels served by the stub platform
on loopback."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import app
from chalicelib.deps import Container, use_container
from chalicelib.domain.ports import Store, StoreRules, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from local.stub_platform import StubPlatform
from local.worker import SqsPoller

REGION = "us-east-1"
SEED = json.loads((Path(__file__).resolve().parents[2] / "local" / "seed.json").read_text())
MARKETPLACES = ("tiktok", "douyin", "bigcommerce")  # the stub platform serves their stock APIs
OWN_SHOPS = ("demo-shop", "outlet-shop")  # the generic JSON endpoint
SKUS = ("TEA-LONGJING-250G", "CUP-CELADON-2PK", "KETTLE-CLAY-1L")
WAREHOUSES = ("wh-shanghai", "wh-guangzhou")


@pytest.fixture
def stub() -> Iterator[StubPlatform]:
    running = StubPlatform(port=0).start()
    yield running
    running.stop()


@pytest.fixture
def deps(stack_env: dict[str, str], stub: StubPlatform) -> Iterator[Container]:
    environ = {
        **stack_env,
        "ORDERHUB_CHANNEL_API_URL": stub.url,
        "ORDERHUB_TIKTOK_API_URL": stub.url,
        "ORDERHUB_DOUYIN_API_URL": stub.url,
        "ORDERHUB_BIGCOMMERCE_API_URL": stub.url,
    }
    built = Container(environ=environ)  # the platforms check request times against now
    use_container(built)
    secrets = built._client("secretsmanager")
    for store in SEED["stores"]:
        if store["platform"] in MARKETPLACES or store["store_id"] in OWN_SHOPS:
            name = f"orderhub/stores/{store['platform']}/{store['store_id']}"
            secrets.create_secret(Name=name, SecretString=json.dumps(store["credentials"]))
            rules = StoreRules(sku_mapping=store["rules"]["sku_mapping"])
            built.catalog_store.put_store(
                Store(store["platform"], store["store_id"], name, rules=rules)
            )
    for n, warehouse in enumerate(WAREHOUSES):
        built.catalog_store.put_warehouse(Warehouse(warehouse, "east", n + 1))
        for sku in SKUS:
            adjust_stock(
                Adjustment(f"r-{sku}-{warehouse}", sku, warehouse, "receipt", 50, "opening"),
                built.orders,
                built.now,
            )
    yield built
    use_container(None)


def nudge_poller(deps: Container) -> SqsPoller:
    """The stock pusher as the local stack runs it (the event source mapping's part)."""
    queue = deps.settings.stock_nudge_queue_url
    arn = deps.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    return SqsPoller(
        deps.sqs,
        queue,
        arn["Attributes"]["QueueArn"],
        "handle_stock_nudges",
        app.handler_map["handle_stock_nudges"],
        REGION,
        wait_seconds=0,
    )


def drain(poller: SqsPoller) -> None:
    while poller.poll_once():
        pass


def change_stock(deps: Container, skus: tuple[str, ...], tag: str) -> None:
    """One stock change per SKU in one warehouse, nudged together (as a processor batch)."""
    with deps.orders.nudges_deferred():
        for sku in skus:
            adjust_stock(
                Adjustment(f"{tag}-{sku}", sku, "wh-shanghai", "receipt", 1, "top-up"),
                deps.orders,
                deps.now,
            )


def test_a_stock_change_costs_the_same_few_requests_whatever_the_number_of_channels(
    deps, calls, stub
):
    poller = nudge_poller(deps)
    # the opening receipts' nudges, pushed by a warm function: the listings looked up on
    # the platforms and mapped, the stores and secrets in the function's caches
    drain(poller)
    assert deps.orders.pending_skus() == []
    channels = len(MARKETPLACES) + len(OWN_SHOPS)
    pushes_before = len(stub.pushes())
    calls.clear()

    change_stock(deps, SKUS, "t1")  # three SKUs change in one batch
    assert calls["sqs.SendMessageBatch"] == 1  # the batch's nudges, together
    calls.clear()
    assert poller.poll_once() == len(SKUS)  # one nudge run takes the three SKUs' nudges
    cost = +calls

    # every channel told every SKU's new quantity (50 + 50 + 1), the flags cleared
    told = stub.pushes()[pushes_before:]
    assert len(told) == channels * len(SKUS)
    assert {p["quantity"] for p in told} == {101}
    assert deps.orders.pending_skus() == []
    recorded = deps.push_records.last_pushed(list(SKUS))
    for sku in SKUS:
        assert len(recorded[sku]) == channels
        assert {c["quantity"] for c in recorded[sku]} == {101}

    # what it cost: per run one receive, one delete, one read of every SKU's push state and
    # its listings in all marketplaces (adapters/push_reads.py); per SKU one record for all
    # channels and one flag cleared
    per_sku = {"dynamodb.UpdateItem": 2}
    per_run = {"sqs.ReceiveMessage": 1, "sqs.DeleteMessageBatch": 1, "dynamodb.BatchGetItem": 1}
    expected = Counter(per_run) + Counter({op: n * len(SKUS) for op, n in per_sku.items()})
    assert cost == expected, sorted(cost.items())
    per_change = sum(cost.values()) / len(SKUS)
    assert per_change == 3.0  # was 4 (a Query per SKU, the listings apart); before, 2 + 9
    # listing GetItems + 11 records with the seed's stores


def test_nudges_of_one_sku_from_several_batches_are_pushed_once(deps, calls, stub):
    poller = nudge_poller(deps)
    drain(poller)
    pushes_before = len(stub.pushes())
    for batch in range(3):  # three processor batches change the same SKU
        change_stock(deps, SKUS[:1], f"b{batch}")
    calls.clear()
    assert poller.poll_once() == 3  # the three nudges arrive in one receive: one run
    cost = +calls
    told = stub.pushes()[pushes_before:]
    channels = len(MARKETPLACES) + len(OWN_SHOPS)
    assert len(told) == channels and {p["quantity"] for p in told} == {103}
    assert deps.orders.pending_skus() == []
    assert cost == Counter(
        {
            "sqs.ReceiveMessage": 1,
            "sqs.DeleteMessageBatch": 1,
            "dynamodb.BatchGetItem": 1,  # the SKU's state and its listings
            "dynamodb.UpdateItem": 2,
        }
    ), sorted(cost.items())
