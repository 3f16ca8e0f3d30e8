"""The stock-push adapters for real: the HTTP client against the local stub platform (on
loopback), the EventBridge publisher against moto (events seen through the local tap rule),
and one whole push run over DynamoDB, EventBridge and HTTP together."""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator

import pytest

from chalicelib.adapters.channel_push import HttpStockPushClient, build_stock_push_client
from chalicelib.adapters.events import EventBridgePublisher
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable, TransientFailure
from chalicelib.domain.ports import Store
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.stock_push import EVENT_SOURCE, push_stock_changes
from local.provision import load_template, tap_event_buses
from local.stub_platform import StubPlatform
from tests.builders import event

REGION = "us-east-1"


@pytest.fixture
def stub() -> Iterator[StubPlatform]:
    running = StubPlatform(port=0).start()
    yield running
    running.stop()


@pytest.fixture
def tap(container, aws) -> str:
    return tap_event_buses(load_template(), aws.client, REGION)["orderhub-inventory"]


def tapped(container, tap):
    out = container.sqs.receive_message(QueueUrl=tap, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in out.get("Messages", [])]


def post(url: str, body: dict) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=5).read()


def test_push_reaches_the_stub_as_generic_json(stub):
    HttpStockPushClient(stub.url).push("mall", "demo shop", "GIFT-BOX-NY", 3)
    (push,) = stub.pushes()
    assert (push["platform"], push["store"]) == ("mall", "demo shop")
    assert push["body"] == {
        "sku": "GIFT-BOX-NY",
        "quantity": 3,
        "store": "demo shop",
        "platform": "mall",
    }


def test_platform_failures_become_domain_errors(stub):
    client = HttpStockPushClient(stub.url)
    post(f"{stub.url}/_stub/fail", {"status": 503, "count": 1})
    with pytest.raises(ChannelUnavailable, match="503"):
        client.push("mall", "s", "A", 1)
    post(f"{stub.url}/_stub/fail", {"status": 429, "count": 1})
    with pytest.raises(ChannelUnavailable, match="429"):
        client.push("mall", "s", "A", 1)
    post(f"{stub.url}/_stub/fail", {"status": 404, "count": 1})
    with pytest.raises(ChannelRejected, match="404"):
        client.push("mall", "s", "A", 1)
    client.push("mall", "s", "A", 1)  # the failures were counted down
    assert [p["quantity"] for p in stub.pushes()] == [1]
    post(f"{stub.url}/_stub/reset", {})
    assert stub.pushes() == []


def test_unreachable_or_silent_platforms_are_unavailable():
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(ChannelUnavailable, match="unreachable"):
            HttpStockPushClient(f"http://127.0.0.1:{port}", timeout=0.2).push("mall", "s", "A", 1)
    with pytest.raises(ChannelUnavailable, match="unreachable"):
        HttpStockPushClient(f"http://127.0.0.1:{port}").push("mall", "s", "A", 1)
    with pytest.raises(ChannelUnavailable, match="no stock push adapter"):
        build_stock_push_client("").push("mall", "s", "A", 1)


def test_published_event_lands_on_the_inventory_bus(container, tap):
    container.inventory_events.publish("LimitedSale", {"sku": "GIFT", "available": 2})
    (message,) = tapped(container, tap)
    assert message["detail-type"] == "LimitedSale"
    assert message["source"] == EVENT_SOURCE
    assert message["detail"] == {"sku": "GIFT", "available": 2}


def test_publishing_to_a_missing_bus_is_a_transient_failure(container):
    publisher = EventBridgePublisher(container.events, "no-such-bus", EVENT_SOURCE)
    with pytest.raises(TransientFailure):
        publisher.publish("LimitedSale", {"sku": "GIFT"})


def test_one_run_over_dynamodb_eventbridge_and_http(container, tap, stub):
    repo, now = container.orders, container.now
    catalog = container.catalog_store
    for store_id in ("shop", "outlet"):
        catalog.put_store(Store("mall", store_id, f"orderhub/stores/mall/{store_id}"))
    adjust_stock(Adjustment("r1", "GIFT", "w1", "receipt", 5, "PO"), repo, now)
    repo.configure_stock("GIFT", "w1", 2, 0, [])
    for i in range(3):
        ev = event(f"o-{i}", lines=(("GIFT", 1),), store="shop")
        process_order_event(ev, repo, lambda: BookingContext(now()))

    def run():
        return push_stock_changes(
            repo,
            catalog.list_stores(),
            HttpStockPushClient(stub.url),
            container.inventory_events,
            now,
        )

    summary = run()
    assert summary.pushed == 2 and summary.still_pending == []
    assert sorted((p["store"], p["quantity"]) for p in stub.pushes()) == [
        ("outlet", 1),
        ("shop", 1),
    ]
    (limited,) = tapped(container, tap)
    assert limited["detail-type"] == "LimitedSale"
    assert limited["detail"]["available"] == 2 and limited["detail"]["safety_stock"] == 2
    assert repo.pending_skus() == []
    assert run().pushed == 0
    adjust_stock(Adjustment("r2", "GIFT", "w1", "receipt", 10, "PO"), repo, now)
    run()
    assert [p["quantity"] for p in stub.pushes()][-2:] == [12, 12]
    (lifted,) = tapped(container, tap)
    assert lifted["detail-type"] == "LimitedSaleLifted"


def test_a_limited_sale_transition_is_claimed_once_on_dynamodb(container):
    repo, now = container.orders, container.now
    for warehouse in ("w1", "w2"):
        adjust_stock(Adjustment(f"r-{warehouse}", "GIFT", warehouse, "receipt", 1, "PO"), repo, now)
    assert repo.claim_limited_sale("GIFT", True) is True
    assert repo.claim_limited_sale("GIFT", True) is False  # an overlapping run: not twice
    assert repo.read_push_state("GIFT").limited_sale is True
    assert repo.claim_limited_sale("GIFT", False) is True
    assert repo.claim_limited_sale("GIFT", False) is False
    assert repo.claim_limited_sale("NO-SUCH-SKU", True) is False
