"""Amazon notifications end to end over the serialized emulator, with the workers the local
stack runs: a notification on `orderhub-amazon-notifications` -> the Amazon consumer -> an
event on the order queue -> the processor -> booked. The same NotificationId twice books once;
a notification for an unknown seller is deleted (not retried) and recorded with its reason."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from app import app
from chalicelib.api.amazon import AMAZON_QUEUE_NAME
from chalicelib.deps import Container, use_container
from chalicelib.domain.details import OrderDetailRouter
from chalicelib.domain.model import Booking
from chalicelib.domain.ports import Store, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.timeutil import utc_now
from local.worker import SqsPoller
from tests.amazon_fakes import FakeAmazonOrders
from tests.conftest import fixture_json

REGION = "us-east-1"
EXAMPLE = fixture_json("amazon/OrderChangeNotification_example0.json")
SELLER = "A1ORDERHUBTEST"
SKU = "AMZ-TEA-1"


def notification(notification_id: str, order_id: str, seller: str = SELLER) -> str:
    document = copy.deepcopy(EXAMPLE)
    change = document["Payload"]["OrderChangeNotification"]
    change.update(SellerId=seller, AmazonOrderId=order_id)
    change["Summary"]["OrderItems"][0].update(SellerSKU=SKU, Quantity=3)
    change["OrderChangeTrigger"]["TimeOfOrderChange"] = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
    document["NotificationMetadata"]["NotificationId"] = notification_id
    return json.dumps(document)


class Pipeline:
    """The two consumers as the local stack polls them, driven one batch at a time."""

    def __init__(self, stack: Any) -> None:
        self.sqs = stack.session.client("sqs")
        self.resources = stack.resources
        self.deps = Container(environ=stack.environ)
        use_container(self.deps)
        # Amazon's Orders API (its HTTP client is tested in test_amazon_orders_client.py)
        now = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        self.orders_api = FakeAmazonOrders(("Unshipped", now, ((SKU, 3, "30.00"),)))
        self.deps.order_details = OrderDetailRouter({"amazon": self.orders_api})
        self.deps.catalog_store.put_store(Store("amazon", SELLER, "", "UTC"))
        self.deps.catalog_store.put_warehouse(Warehouse("wh-1"))
        adjust_stock(
            Adjustment("opening", SKU, "wh-1", "receipt", 10, "test"), self.deps.orders, utc_now
        )
        self.amazon = self._poller("AmazonNotificationsQueue", "handle_amazon_notifications")
        self.orders = self._poller("OrderEventsQueue", "handle_order_events")

    def _poller(self, queue: str, function: str) -> SqsPoller:
        resolved = self.resources[queue]
        return SqsPoller(
            self.sqs,
            resolved.ref,
            resolved.attrs["Arn"],
            function,
            app.handler_map[function],
            REGION,
            wait_seconds=0,
        )

    def send(self, body: str) -> None:
        url = self.sqs.get_queue_url(QueueName=AMAZON_QUEUE_NAME)["QueueUrl"]
        self.sqs.send_message(QueueUrl=url, MessageBody=body)

    def depth(self, queue: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.resources[queue].ref,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

    def drain(self, done: Callable[[], bool] = lambda: True, timeout: float = 20) -> None:
        """Poll both queues until both are empty (and `done()`), as the stack's workers do."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.amazon.poll_once()
            self.orders.poll_once()
            empty = self.depth("AmazonNotificationsQueue") + self.depth("OrderEventsQueue") == 0
            if empty and done():
                return
            time.sleep(0.05)
        raise AssertionError("queues did not drain")

    def locked(self) -> int:
        return sum(level.locked for level in self.deps.orders.get_sku_levels(SKU))


@pytest.fixture
def pipeline(emulated_stack) -> Pipeline:
    return Pipeline(emulated_stack)


def test_the_queue_carries_amazons_send_policy(pipeline):
    url = pipeline.resources["AmazonNotificationsQueue"].ref
    attrs = pipeline.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    (statement,) = json.loads(attrs["Attributes"]["Policy"])["Statement"]
    assert statement["Principal"] == {"AWS": "arn:aws:iam::437568002678:root"}
    assert statement["Resource"].endswith(f":{AMAZON_QUEUE_NAME}")


def test_a_notification_is_booked_through_the_order_queue(pipeline):
    pipeline.send(notification("n-1", "111-0000001-0000001"))
    key = f"amazon#{SELLER}#111-0000001-0000001"
    pipeline.drain(lambda: pipeline.deps.orders.get_order(key) is not None)
    order = pipeline.deps.orders.get_order(key)
    assert order is not None and order.booking is Booking.LOCKED and order.version == 1
    assert pipeline.locked() == 3
    assert order.currency == "USD" and [str(li.unit_price) for li in order.lines] == ["10.00"]
    outcome = pipeline.deps.orders.get_event_outcome(f"amazon#{SELLER}#n-1")
    assert outcome is not None and outcome["outcome"] == "booked"
    trail = pipeline.deps.trail.get(f"amazon#{SELLER}#n-1")
    assert trail["final_outcome"] == "booked" and trail["received_at"]


def test_the_same_notification_id_twice_books_once(pipeline):
    body = notification("n-dup", "111-0000002-0000002")
    pipeline.send(body)
    pipeline.send(body)  # SQS at-least-once, or Amazon resending
    key = f"amazon#{SELLER}#111-0000002-0000002"
    pipeline.drain(lambda: pipeline.deps.orders.get_order(key) is not None)
    pipeline.send(body)  # and once more, after it was booked
    pipeline.drain()
    order = pipeline.deps.orders.get_order(key)
    assert order is not None and order.version == 1
    assert pipeline.locked() == 3
    assert [e["event_key"] for e in pipeline.deps.orders.ledger() if "n-dup" in e["event_key"]] == [
        f"amazon#{SELLER}#n-dup"
    ]


def test_an_unknown_seller_is_recorded_with_its_reason_and_not_retried(pipeline):
    pipeline.send(notification("n-stranger", "111-0000003-0000003", seller="A9UNKNOWNSELLER"))
    record_key = "invalid#amazon#n-stranger"
    pipeline.drain(lambda: pipeline.deps.orders.get_event_outcome(record_key) is not None)
    record = pipeline.deps.orders.get_event_outcome(record_key)
    assert record is not None and record["outcome"] == "rejected_invalid"
    assert "A9UNKNOWNSELLER" in record["reason"] and "SellerId" in record["reason"]
    assert record["order_key"] == "amazon#A9UNKNOWNSELLER#111-0000003-0000003"
    # deleted at once: nothing left to retry, nothing queued for booking, nothing parked
    assert pipeline.depth("AmazonNotificationsQueue") == 0
    assert pipeline.depth("AmazonNotificationsDeadLetterQueue") == 0
    assert pipeline.depth("OrderEventsQueue") == 0
    assert pipeline.locked() == 0
