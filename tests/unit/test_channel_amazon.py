"""Amazon SP-API ORDER_CHANGE: the verbatim example notification normalizes field by field;
every OrderStatus maps; times are UTC whatever form they take; every field OrderHub reads is
refused by path when missing, and only where Amazon's own schema refuses it too."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.channels import CHANNELS
from chalicelib.channels.amazon import STATUSES, parse_amazon_notification
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import OrderEvent, PlatformStatus
from tests.conftest import FIXTURES, fixture_json

EXAMPLE_BYTES = (FIXTURES / "amazon/OrderChangeNotification_example0.json").read_bytes()
EXAMPLE = json.loads(EXAMPLE_BYTES)
SCHEMA = fixture_json("amazon/OrderChangeNotification.schema.json")
RECEIVED = datetime(2022, 11, 29, 19, 42, 30, tzinfo=UTC)
NOTE = "$.Payload.OrderChangeNotification"


def parse(document: Any, received: datetime = RECEIVED):
    raw = document if isinstance(document, bytes | str) else json.dumps(document)
    return parse_amazon_notification(raw, received)


def changed(**summary: Any) -> dict[str, Any]:
    document = copy.deepcopy(EXAMPLE)
    document["Payload"]["OrderChangeNotification"]["Summary"].update(summary)
    return document


def schema_errors(document: Any) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(document)]


def test_the_example_is_valid_under_amazons_schema():
    assert schema_errors(EXAMPLE) == []


def test_the_example_normalizes_field_by_field():
    notification = parse(EXAMPLE_BYTES)
    event = notification.event
    assert notification.notification_type == "ORDER_CHANGE"
    assert notification.notification_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert notification.seller_id == "A3TH9S8BH6GOGM"
    assert event is not None
    assert event.event_key == "amazon#A3TH9S8BH6GOGM#d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert event.platform_event_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert event.platform == "amazon"
    assert event.store == "A3TH9S8BH6GOGM"  # the store id IS the SellerId
    assert event.order_id == "903-8868176-2219830"
    assert event.order_key == "amazon#A3TH9S8BH6GOGM#903-8868176-2219830"
    assert event.status is PlatformStatus.PAID  # Unshipped
    assert event.event_type == "paid"
    # TimeOfOrderChange, read as UTC, with the text it came in
    assert event.updated_at == datetime(2022, 11, 29, 19, 42, 4, 284000, tzinfo=UTC)
    assert event.updated_at.utcoffset().total_seconds() == 0
    assert event.updated_at_raw == "2022-11-29T19:42:04.284Z"
    # thin: no prices in the notification, so lines, amounts and currency come from the
    # Orders API before booking (channels/amazon_orders.py)
    assert event.lines == () and event.currency == ""
    assert event.buyer is None  # no personal data in the notification
    assert event.received_at == RECEIVED
    assert event.complete is False and event.region == ""


def test_the_event_survives_the_queue_unchanged():
    event = parse(EXAMPLE).event
    assert event is not None
    assert OrderEvent.from_dict(json.loads(json.dumps(event.to_dict()))) == event


def test_text_and_bytes_bodies_read_the_same():
    assert parse(EXAMPLE_BYTES) == parse(EXAMPLE_BYTES.decode())


@pytest.mark.parametrize(
    ("amazon", "status", "event_type"),
    [
        ("Pending", PlatformStatus.UNPAID, "created"),
        ("PendingAvailability", PlatformStatus.UNPAID, "created"),
        ("Unshipped", PlatformStatus.PAID, "paid"),
        ("PartiallyShipped", PlatformStatus.PAID, "paid"),
        ("Shipped", PlatformStatus.SHIPPED, "shipped"),
        ("InvoiceUnconfirmed", PlatformStatus.SHIPPED, "shipped"),
        ("Canceled", PlatformStatus.CANCELLED, "cancelled"),
        ("Unfulfillable", PlatformStatus.CANCELLED, "cancelled"),
    ],
)
def test_every_order_status_maps(amazon, status, event_type):
    event = parse(changed(OrderStatus=amazon)).event
    assert event is not None and event.status is status and event.event_type == event_type


def test_the_mapping_covers_exactly_the_schemas_statuses():
    summary = SCHEMA["properties"]["Payload"]["properties"]["OrderChangeNotification"][
        "properties"
    ]["Summary"]["properties"]
    assert set(STATUSES) == set(summary["OrderStatus"]["enum"])


def test_an_unknown_status_names_the_field_and_the_choices():
    with pytest.raises(InvalidPayload, match=rf"\{NOTE}\.Summary\.OrderStatus 'Lost'.*Pending"):
        parse(changed(OrderStatus="Lost"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T04:00:00Z", datetime(2026, 11, 25, 4, tzinfo=UTC)),
        ("2026-11-25T04:00:00.123Z", datetime(2026, 11, 25, 4, 0, 0, 123000, tzinfo=UTC)),
        ("2026-11-25T04:00:00+00:00", datetime(2026, 11, 25, 4, tzinfo=UTC)),
        ("2026-11-25T12:00:00+08:00", datetime(2026, 11, 25, 4, tzinfo=UTC)),
        ("2026-11-24T20:00:00-08:00", datetime(2026, 11, 25, 4, tzinfo=UTC)),
        # documented UTC: a time without offset is UTC, never the server's or a store's zone
        ("2026-11-25T04:00:00", datetime(2026, 11, 25, 4, tzinfo=UTC)),
    ],
)
def test_change_times_become_utc_and_keep_their_text(text, expected):
    document = copy.deepcopy(EXAMPLE)
    document["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = text
    event = parse(document).event
    assert event is not None
    assert event.updated_at == expected and event.updated_at.tzinfo is UTC
    assert event.updated_at_raw == text


def test_a_null_change_time_falls_back_to_the_event_time():
    """The schema allows TimeOfOrderChange null ("no related timestamp")."""
    document = copy.deepcopy(EXAMPLE)
    document["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"]["TimeOfOrderChange"] = None
    assert schema_errors(document) == []
    event = parse(document).event
    assert event is not None
    assert event.updated_at == datetime(2020, 1, 11, 0, 9, 53, 109000, tzinfo=UTC)
    assert event.updated_at_raw == "2020-01-11T00:09:53.109Z"


def test_the_summarys_items_are_still_checked_though_the_orders_api_gives_the_lines():
    item = EXAMPLE["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]
    items = [
        {**item, "SellerSKU": "TEA-LONGJING-250G", "Quantity": 2},
        {**item, "OrderItemId": "OIID3", "SellerSKU": "KETTLE-CLAY-1L", "Quantity": 0},
    ]
    event = parse(changed(OrderItems=items)).event
    assert event is not None and event.lines == () and event.complete is False
    with pytest.raises(InvalidPayload, match=r"OrderItems\[1\]\.Quantity must not be negative"):
        parse(changed(OrderItems=[items[0], {**item, "Quantity": -1}]))


def test_an_item_level_notification_is_a_thin_event():
    """It carries the changed item only: booked on the lines OrderHub holds, never as the
    whole order (which would release the other items)."""
    document = copy.deepcopy(EXAMPLE)
    document["Payload"]["OrderChangeNotification"]["NotificationLevel"] = "OrderItemLevel"
    event = parse(document).event
    assert event is not None
    assert event.complete is False and event.lines == ()
    assert event.status is PlatformStatus.PAID


@pytest.mark.parametrize("kind", ["ANY_OFFER_CHANGED", "REPORT_PROCESSING_FINISHED", "ORDER"])
def test_other_notification_types_are_ignored(kind):
    document = {
        "NotificationVersion": "1.0",
        "NotificationType": kind,
        "PayloadVersion": "1.0",
        "EventTime": "2026-11-25T04:00:00.000Z",
        "Payload": {"anything": "else"},
        "NotificationMetadata": {**EXAMPLE["NotificationMetadata"], "NotificationId": "n-9"},
    }
    notification = parse(document)
    assert notification.event is None and notification.notification_type == kind
    assert notification.notification_id == "n-9" and kind in notification.ignored


def test_a_fulfilled_by_amazon_order_is_ignored():
    notification = parse(changed(FulfillmentType="AFN"))
    assert notification.event is None
    assert "fulfilled by Amazon" in notification.ignored
    assert notification.seller_id == "A3TH9S8BH6GOGM"


def _without(document: dict[str, Any], path: str) -> dict[str, Any]:
    """A copy of `document` with the field at `$.a.b[0].c` removed."""
    result = copy.deepcopy(document)
    parts = path[2:].replace("[0]", ".0").split(".")
    node: Any = result
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[parts[-1]]
    return result


REQUIRED = [
    "$.NotificationType",
    "$.NotificationMetadata",
    "$.NotificationMetadata.NotificationId",
    "$.Payload",
    "$.Payload.OrderChangeNotification",
    f"{NOTE}.SellerId",
    f"{NOTE}.AmazonOrderId",
    f"{NOTE}.OrderChangeTrigger",
    f"{NOTE}.Summary",
    f"{NOTE}.Summary.OrderStatus",
    f"{NOTE}.Summary.OrderItems",
    f"{NOTE}.Summary.OrderItems[0].SellerSKU",
    f"{NOTE}.Summary.OrderItems[0].Quantity",
]


@pytest.mark.parametrize("path", REQUIRED)
def test_each_field_orderhub_reads_is_required_by_its_path(path):
    document = _without(EXAMPLE, path)
    with pytest.raises(InvalidPayload) as refused:
        parse(document)
    assert refused.value.message == f"{path} is required"


@pytest.mark.parametrize("path", REQUIRED)
def test_orderhub_refuses_only_what_amazons_schema_refuses(path):
    """Every field we require, Amazon's schema requires too: a notification Amazon considers
    valid is never refused here for a missing field."""
    errors = schema_errors(_without(EXAMPLE, path))
    assert any("is a required property" in e for e in errors), errors


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["Payload"]["OrderChangeNotification"].update(AmazonOrderId=""), "must not"),
        (lambda d: d["Payload"]["OrderChangeNotification"].update(SellerId=7), "must be a string"),
        (
            lambda d: d["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0].update(
                Quantity="10"
            ),
            "OrderItems[0].Quantity must be an integer",
        ),
        (
            lambda d: d["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0].update(
                Quantity=-1
            ),
            "OrderItems[0].Quantity must not be negative",
        ),
        (
            lambda d: d["Payload"]["OrderChangeNotification"]["Summary"].update(OrderItems={}),
            "Summary.OrderItems must be an array",
        ),
        (
            lambda d: d["Payload"]["OrderChangeNotification"]["Summary"].update(OrderItems=["x"]),
            "OrderItems[0] must be an object",
        ),
        (
            lambda d: d["Payload"]["OrderChangeNotification"]["OrderChangeTrigger"].update(
                TimeOfOrderChange="yesterday"
            ),
            "TimeOfOrderChange: 'yesterday' is not an ISO-8601 time",
        ),
        (lambda d: d["NotificationMetadata"].update(NotificationId=" "), "must not be empty"),
    ],
)
def test_bad_fields_are_named(mutate, message):
    document = copy.deepcopy(EXAMPLE)
    mutate(document)
    with pytest.raises(InvalidPayload) as refused:
        parse(document)
    assert message in refused.value.message


@pytest.mark.parametrize(
    ("raw", "message"), [(b"not json", "not valid JSON"), (b"[1, 2]", "JSON object")]
)
def test_bodies_that_are_not_notifications_are_refused(raw, message):
    with pytest.raises(InvalidPayload, match=message):
        parse(raw)


def test_amazon_is_not_a_webhook_platform():
    """Amazon writes into our queue; nothing may post Amazon orders to the webhook path."""
    assert "amazon" not in CHANNELS
