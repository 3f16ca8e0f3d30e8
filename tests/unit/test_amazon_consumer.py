"""The Amazon queue consumer over the fake stack, through the real Chalice app: a notification
is queued for booking with its trail receipt; the same notification twice books once; refusals
are recorded with their reason and not retried; transient failures are retried alone."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.api.amazon import AMAZON_QUEUE_NAME
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import Booking
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json
from tests.privacy_fakes import opened_message

EXAMPLE = fixture_json("amazon/OrderChangeNotification_example0.json")
SELLER = "A3TH9S8BH6GOGM"
NOTIFICATION_ID = EXAMPLE["NotificationMetadata"]["NotificationId"]
EVENT_KEY = f"amazon#{SELLER}#{NOTIFICATION_ID}"
ORDER_KEY = f"amazon#{SELLER}#903-8868176-2219830"


@pytest.fixture
def amazon(deps):
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


def test_a_later_status_moves_the_same_order(client, amazon):
    later = copy.deepcopy(EXAMPLE)
    change = later["Payload"]["OrderChangeNotification"]
    change["Summary"]["OrderStatus"] = "Canceled"
    change["Summary"]["OrderItems"][0].update(SellerSKU="SKU-A", Quantity=2)
    change["OrderChangeTrigger"]["TimeOfOrderChange"] = "2022-11-29T20:00:00Z"
    later["NotificationMetadata"]["NotificationId"] = "n-cancel"
    deliver(client, notification())
    process_order_queue(client, amazon)
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
