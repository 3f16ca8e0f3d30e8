"""The Amazon queue consumer over the fake stack, through the real Chalice app: a notification
is queued for booking with its trail receipt and booked with the order as Amazon's Orders API
gives it (amounts included); the same notification twice books once; refusals are recorded
with their reason and not retried; transient failures are retried alone."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.api.amazon import AMAZON_QUEUE_NAME
from chalicelib.api.amazon_poll import held_version
from chalicelib.api.pollers import IntakeSink
from chalicelib.channels.amazon_orders import poll_event
from chalicelib.domain.details import OrderDetailRouter, OrderDetailsUnavailable
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import Booking
from chalicelib.domain.ports import Store
from tests.amazon_fakes import FakeAmazonOrders
from tests.conftest import fixture_json
from tests.privacy_fakes import opened_message

EXAMPLE = fixture_json("amazon/OrderChangeNotification_example0.json")
SELLER = "A3TH9S8BH6GOGM"
NOTIFICATION_ID = EXAMPLE["NotificationMetadata"]["NotificationId"]
EVENT_KEY = f"amazon#{SELLER}#{NOTIFICATION_ID}"
ORDER_ID = "903-8868176-2219830"
NOW = datetime(2022, 11, 29, 20, 0, tzinfo=UTC)
ORDER_KEY = f"amazon#{SELLER}#{ORDER_ID}"


@pytest.fixture
def orders_api(deps) -> FakeAmazonOrders:
    """Amazon's Orders API: the order behind the example notification, 2 x SKU-A for 20.00."""
    api = FakeAmazonOrders()
    api.seed(ORDER_ID)
    deps.order_details = OrderDetailRouter({"amazon": api})
    return api


@pytest.fixture
def amazon(deps, orders_api):
    deps.catalog.put_store(Store("amazon", SELLER, "orderhub/stores/amazon/" + SELLER))
    return deps


def notification(
    status: str = "Unshipped", sku: str = "SKU-A", quantity: int = 2, **changes: Any
) -> str:
    document = copy.deepcopy(EXAMPLE)
    change = document["Payload"]["OrderChangeNotification"]
    change["Summary"]["OrderStatus"] = status
    change["Summary"]["OrderItems"][0].update(SellerSKU=sku, Quantity=quantity)
    change.update(changes)
    return json.dumps(document)


def deliver(client, *bodies: str, sent_ms: int = 1669751000000) -> dict:
    """One SQS batch from the Amazon queue, each record with its own id (Chalice repeats one)."""
    event = client.events.generate_sqs_event(
        message_bodies=list(bodies), queue_name=AMAZON_QUEUE_NAME
    )
    for i, record in enumerate(event["Records"]):
        record["messageId"] = f"m{i}"
        record["attributes"]["SentTimestamp"] = str(sent_ms)
    return client.lambda_.invoke("handle_amazon_notifications", event).payload


def process_order_queue(client, deps) -> None:
    """Hand every queued order message to the processor, then forget them."""
    messages = [json.dumps(message) for message, _ in deps.queue.messages]
    deps.queue.messages.clear()
    event = client.events.generate_sqs_event(message_bodies=messages)
    for i, record in enumerate(event["Records"]):
        record["messageId"] = f"o{i}"
    assert client.lambda_.invoke("handle_order_events", event).payload == {"batchItemFailures": []}


def test_a_notification_is_queued_for_booking_with_its_receipt(client, amazon):
    assert deliver(client, notification()) == {"batchItemFailures": []}
    ((message, correlation),) = amazon.queue.messages
    assert correlation == ORDER_KEY
    assert message["event"]["event_key"] == EVENT_KEY
    raw = opened_message(message, amazon.personal_data)["raw"]  # sealed in the queue
    assert json.loads(raw) == json.loads(notification())  # the notification as sent
    assert amazon.trail.get(EVENT_KEY) is None  # the receipt rides on the message

    process_order_queue(client, amazon)
    order = amazon.orders.get_order(ORDER_KEY)
    assert order is not None and order.booking is Booking.LOCKED
    receipt = amazon.trail.get(EVENT_KEY)  # recorded with the booking
    assert receipt["platform"] == "amazon" and receipt["store"] == SELLER
    # received = when the notification reached our queue (SQS SentTimestamp)
    assert receipt["received_at"] == datetime.fromtimestamp(1669751000, UTC).isoformat()
    assert amazon.orders.stock[("SKU-A", "w1")].locked == 2
    # the amounts come from getOrderItems: 20.00 for both units, USD
    assert order.currency == "USD"
    assert [(line.sku, line.quantity, str(line.unit_price)) for line in order.lines] == [
        ("SKU-A", 2, "10.00")
    ]
    assert order.updated_at_raw == "2022-11-29T19:42:04Z"  # getOrder's LastUpdateDate


def test_the_items_come_from_the_orders_api_not_the_notification(client, amazon, orders_api):
    """An OrderItemLevel notification names one item; the order has two: both are booked."""
    orders_api.seed(ORDER_ID, lines=(("SKU-A", 2, "20.00"), ("SKU-B", 1, "5.50")))
    level = notification(sku="SKU-A", quantity=1, NotificationLevel="OrderItemLevel")
    deliver(client, level)
    process_order_queue(client, amazon)
    order = amazon.orders.get_order(ORDER_KEY)
    assert order is not None
    assert {(line.sku, line.quantity) for line in order.lines} == {("SKU-A", 2), ("SKU-B", 1)}
    assert orders_api.fetched == [ORDER_ID]


def test_an_order_amazon_does_not_know_is_rejected_with_the_reason(client, amazon, orders_api):
    orders_api.orders.clear()
    deliver(client, notification())
    process_order_queue(client, amazon)
    assert amazon.orders.get_order(ORDER_KEY) is None
    record = amazon.orders.get_event_outcome(EVENT_KEY)
    assert record["outcome"] == "rejected_invalid" and ORDER_ID in record["reason"]


def test_an_orders_api_that_cannot_answer_leaves_the_event_for_a_retry(client, amazon, orders_api):
    def down(store: Store, order_id: str) -> Any:
        raise OrderDetailsUnavailable("Amazon SP-API getOrder: rate-limited (429)")

    orders_api.fetch = down  # type: ignore[method-assign]
    deliver(client, notification())
    messages = [json.dumps(message) for message, _ in amazon.queue.messages]
    event = client.events.generate_sqs_event(message_bodies=messages)
    event["Records"][0]["messageId"] = "o0"
    result = client.lambda_.invoke("handle_order_events", event).payload
    # nothing booked without its data; the message is retried (with backoff), then the DLQ
    assert result == {"batchItemFailures": [{"itemIdentifier": "o0"}]}
    assert amazon.orders.get_order(ORDER_KEY) is None
    assert amazon.orders.get_event_outcome(EVENT_KEY) is None


def test_the_same_notification_twice_books_once(client, amazon):
    """SQS delivers at least once and Amazon may resend: same NotificationId, same key."""
    assert deliver(client, notification(), notification()) == {"batchItemFailures": []}
    assert len(amazon.queue.messages) == 2
    process_order_queue(client, amazon)
    assert deliver(client, notification()) == {"batchItemFailures": []}  # and once more later
    process_order_queue(client, amazon)
    order = amazon.orders.get_order(ORDER_KEY)
    assert order is not None and order.version == 1
    assert amazon.orders.stock[("SKU-A", "w1")].locked == 2
    assert amazon.orders.get_event_outcome(EVENT_KEY)["outcome"] == "booked"


def test_a_later_status_moves_the_same_order(client, amazon, orders_api):
    later = copy.deepcopy(EXAMPLE)
    change = later["Payload"]["OrderChangeNotification"]
    change["Summary"]["OrderStatus"] = "Canceled"
    change["Summary"]["OrderItems"][0].update(SellerSKU="SKU-A", Quantity=2)
    change["OrderChangeTrigger"]["TimeOfOrderChange"] = "2022-11-29T20:00:00Z"
    later["NotificationMetadata"]["NotificationId"] = "n-cancel"
    deliver(client, notification())
    process_order_queue(client, amazon)
    orders_api.seed(ORDER_ID, status="Canceled", updated="2022-11-29T20:00:00Z")
    deliver(client, json.dumps(later))
    process_order_queue(client, amazon)
    order = amazon.orders.get_order(ORDER_KEY)
    assert order is not None and order.booking is Booking.RELEASED
    assert amazon.orders.stock[("SKU-A", "w1")].locked == 0


def test_an_unknown_seller_is_rejected_with_its_reason_not_retried(client, deps):
    assert deliver(client, notification()) == {"batchItemFailures": []}
    assert deps.queue.messages == []
    record = deps.orders.get_event_outcome(f"invalid#amazon#{NOTIFICATION_ID}")
    assert record["outcome"] == "rejected_invalid"
    assert record["order_key"] == ORDER_KEY
    assert SELLER in record["reason"] and "SellerId" in record["reason"]
    # the event's own key stays free: once the store exists, a resend books
    assert deps.orders.get_event_outcome(EVENT_KEY) is None


def test_an_invalid_notification_is_rejected_naming_the_field(client, amazon):
    broken = json.loads(notification())
    del broken["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
    assert deliver(client, json.dumps(broken), "not json") == {"batchItemFailures": []}
    assert amazon.queue.messages == []
    first = amazon.orders.get_event_outcome(f"invalid#amazon#{NOTIFICATION_ID}")
    assert first["reason"] == "$.Payload.OrderChangeNotification.AmazonOrderId is required"
    second = amazon.orders.get_event_outcome("invalid#amazon#sqs-m1")
    assert second["outcome"] == "rejected_invalid" and "not valid JSON" in second["reason"]


def test_other_types_and_fba_orders_are_deleted_without_booking(client, amazon):
    offer = json.dumps({**EXAMPLE, "NotificationType": "ANY_OFFER_CHANGED"})
    fba = json.loads(notification())
    fba["Payload"]["OrderChangeNotification"]["Summary"]["FulfillmentType"] = "AFN"
    assert deliver(client, offer, json.dumps(fba)) == {"batchItemFailures": []}
    assert amazon.queue.messages == []
    assert amazon.orders.events == {}


def test_a_transient_failure_retries_only_that_record(client, amazon):
    sent = amazon.queue.send
    calls = {"n": 0}

    def flaky(body, correlation_id):
        calls["n"] += 1
        if calls["n"] == 2:
            raise TransientFailure("SQS throttled (injected)")
        return sent(body, correlation_id)

    amazon.queue.send = flaky
    other = json.loads(notification())
    other["NotificationMetadata"]["NotificationId"] = "n-2"
    third = json.loads(notification())
    third["NotificationMetadata"]["NotificationId"] = "n-3"
    payload = deliver(client, notification(), json.dumps(other), json.dumps(third))
    assert payload == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert [m["event"]["platform_event_id"] for m, _ in amazon.queue.messages] == [
        NOTIFICATION_ID,
        "n-3",
    ]
    assert amazon.orders.events == {}  # nothing recorded as rejected: it will be retried


def test_a_notification_and_a_poll_of_the_same_order_version_book_once(client, amazon):
    """The backup poll lists the order the notification booked: the poller skips the version
    OrderHub holds, and were it queued anyway (a poll racing the notification) booking finds
    it stale: nothing moves twice."""
    deliver(client, notification())
    process_order_queue(client, amazon)
    store = amazon.catalog.get_store("amazon", SELLER)
    listed = {
        "AmazonOrderId": ORDER_ID,
        "OrderStatus": "Unshipped",
        "LastUpdateDate": "2022-11-29T19:42:04Z",  # the version getOrder gave the notification
        "FulfillmentChannel": "MFN",
    }
    polled = poll_event(listed, 0, SELLER, NOW)
    assert polled is not None
    assert held_version(amazon, store)(ORDER_ID, polled.updated_at) is True
    newer = poll_event({**listed, "LastUpdateDate": "2022-11-29T19:50:00Z"}, 0, SELLER, NOW)
    assert newer is not None and held_version(amazon, store)(ORDER_ID, newer.updated_at) is False

    IntakeSink(amazon, store).queue([polled], json.dumps(listed))
    process_order_queue(client, amazon)
    order = amazon.orders.get_order(ORDER_KEY)
    assert order is not None and order.version == 1
    assert amazon.orders.stock[("SKU-A", "w1")].locked == 2
    assert amazon.orders.get_event_outcome(polled.event_key)["outcome"] == "stale"
