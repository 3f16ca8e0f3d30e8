"""WooCommerce: the derived vector verifies in any header case; the unsigned creation ping is
recognised (and nothing else unsigned is); the REST v3 order example normalizes with its
naive GMT times read as UTC and a composite dedupe key."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.channels.base import Delivery
from chalicelib.channels.body_hmac import sign_body_hmac
from chalicelib.channels.woocommerce import WooCommerceChannel, wp_specialchars_decode
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.model import Buyer, PlatformStatus
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json

VECTOR = fixture_json("woocommerce/signature_vector_derived.json")
EXAMPLE = fixture_json("woocommerce/order_wc_v3_retrieve_example.json")
SIGNED_BODY = VECTOR["raw_body"].encode()
SECRET = VECTOR["secret"]
STORE = Store("woocommerce", "example-com", "orderhub/stores/woocommerce/example-com")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CHANNEL = WooCommerceChannel()


def headers(raw: bytes, topic="order.updated", secret=SECRET, **extra) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://example.com/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[1],
        "X-WC-Webhook-ID": "1",
        "X-WC-Webhook-Delivery-ID": "d41d8cd98f00b204e9800998ecf8427e",
        "X-WC-Webhook-Signature": sign_body_hmac(secret, raw),
        **extra,
    }


def receive(raw: bytes, hdrs: dict, secret=SECRET, store=STORE):
    delivery = Delivery.of(hdrs, raw, NOW)
    delivery_id = CHANNEL.verify(delivery, CHANNEL.credentials({"webhook_secret": secret}), NOW)
    return delivery_id, CHANNEL.parse(delivery, store, delivery_id)


@pytest.mark.parametrize("case", [str, str.lower, str.upper], ids=["as-sent", "lower", "upper"])
def test_derived_vector_verifies_in_any_header_case(case):
    hdrs = {case(k): v for k, v in headers(SIGNED_BODY).items()}
    assert hdrs[case("X-WC-Webhook-Signature")] == VECTOR["expected_signature"]
    delivery_id, events = receive(SIGNED_BODY, hdrs)
    assert delivery_id == "d41d8cd98f00b204e9800998ecf8427e" and len(events) == 1


@pytest.mark.parametrize("tamper", ["body", "timestamp", "secret", "missing"])
def test_tampered_or_unsigned_delivery_is_refused(tamper):
    raw, hdrs, secret = SIGNED_BODY, headers(SIGNED_BODY), SECRET
    if tamper == "body":
        raw = raw.replace(b'"quantity":2', b'"quantity":3')
    elif tamper == "timestamp":  # the order's modification time is in the signed body
        raw = raw.replace(
            b'"date_modified_gmt":"2017-03-22T19:28:08"',
            b'"date_modified_gmt":"2017-03-22T19:28:09"',
        )
    elif tamper == "secret":
        secret = "wc_test_secreT"
    else:
        del hdrs["X-WC-Webhook-Signature"]
    with pytest.raises(InvalidSignature):
        receive(raw, hdrs, secret)


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "application/json", None]
)
def test_creation_ping_is_accepted_unsigned_and_queues_nothing(content_type):
    ping = VECTOR["ping_on_create"]
    hdrs = {"User-Agent": "WooCommerce/9.0 Hookshot (WordPress/6.5)"}
    if content_type:
        hdrs["Content-Type"] = content_type
    delivery_id, events = receive(ping["body"].encode(), hdrs)
    assert delivery_id == "ping:1" and events == []
    assert CHANNEL.ack(delivery_id, events)[0] == 200


@pytest.mark.parametrize(
    "raw", [b"webhook_id=1&order=5", b"webhook_id=", b"webhook_id=abc", b'{"webhook_id": 1}']
)
def test_only_the_exact_ping_shape_passes_unsigned(raw):
    with pytest.raises(InvalidSignature):
        receive(raw, {"Content-Type": "application/x-www-form-urlencoded"})


def test_order_example_normalizes_field_by_field():
    delivery_id, (ev,) = receive(SIGNED_BODY, headers(SIGNED_BODY))
    assert ev.event_key == "woocommerce#example-com#727@2017-03-22T19:28:08#processing"
    assert (ev.platform, ev.store, ev.order_id) == ("woocommerce", "example-com", "727")
    assert ev.event_type == "updated" and ev.status is PlatformStatus.PAID
    # date_modified_gmt has no offset and is UTC; date_modified (16:28:08) is shop-local
    assert ev.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert ev.updated_at.tzinfo is UTC
    assert ev.updated_at_raw == "2017-03-22T19:28:08"
    assert ev.currency == "USD"
    assert [(line.sku, line.quantity, line.unit_price) for line in ev.lines] == [
        ("93", 2, Decimal("3.00")),  # no SKU, no variation: the product id
        ("Bar3", 1, Decimal("12.00")),
    ]
    total = sum((line.unit_price * line.quantity for line in ev.lines), Decimal(0))
    assert total == Decimal("18.00")  # line subtotals; shipping and tax are not stock
    assert ev.buyer == Buyer(
        name="John Doe",
        phone="(555) 555-5555",
        address="969 Market, San Francisco, CA, 94103, US",
        email="john.doe@example.com",
    )
    assert ev.platform_event_id == delivery_id
    assert ev.complete is True and ev.region == ""
    assert type(ev).from_dict(ev.to_dict()) == ev


def test_pretty_printed_example_gives_the_same_event_as_the_signed_compact_body():
    pretty = json.dumps(EXAMPLE, indent=2).encode()
    _, (from_pretty,) = receive(pretty, headers(pretty))
    _, (from_signed,) = receive(SIGNED_BODY, headers(SIGNED_BODY))
    assert from_pretty == from_signed


def order(**changes) -> bytes:
    return json.dumps({**EXAMPLE, **changes}).encode()


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", PlatformStatus.UNPAID),
        ("failed", PlatformStatus.UNPAID),
        ("on-hold", PlatformStatus.PAID),
        ("processing", PlatformStatus.PAID),
        ("completed", PlatformStatus.SHIPPED),
        ("cancelled", PlatformStatus.CANCELLED),
        ("refunded", PlatformStatus.REFUNDED),
    ],
)
def test_statuses_map_to_platform_status(status, expected):
    raw = order(status=status)
    _, (ev,) = receive(raw, headers(raw))
    assert ev.status is expected


def test_custom_status_is_refused_naming_the_field():
    raw = order(status="awaiting-pickup")
    with pytest.raises(InvalidPayload, match=r"\$\.status 'awaiting-pickup'"):
        receive(raw, headers(raw))


def test_pending_and_paid_in_the_same_second_are_two_events():
    """Checkout creates the order and marks it paid within one second: date_modified_gmt
    alone would make the paid state a duplicate of the pending one."""
    pending, paid = order(status="pending"), order(status="processing")
    _, (first,) = receive(pending, headers(pending, topic="order.created"))
    _, (second,) = receive(paid, headers(paid))
    assert first.updated_at == second.updated_at
    assert first.event_key != second.event_key


def test_created_and_updated_for_one_save_share_one_key():
    _, (created,) = receive(SIGNED_BODY, headers(SIGNED_BODY, topic="order.created"))
    _, (updated,) = receive(SIGNED_BODY, headers(SIGNED_BODY, topic="order.updated"))
    assert created.event_key == updated.event_key
    assert (created.event_type, updated.event_type) == ("created", "updated")


def test_without_gmt_time_the_local_time_is_read_in_the_store_zone():
    raw = order(date_modified_gmt=None)
    store = Store("woocommerce", "example-com", "x", timezone="America/Sao_Paulo")  # UTC-3
    _, (ev,) = receive(raw, headers(raw), store=store)
    assert ev.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert ev.updated_at_raw == "2017-03-22T16:28:08"


@pytest.mark.parametrize(
    "topic", ["product.updated", "customer.created", "coupon.updated", "order.deleted"]
)
def test_other_topics_are_acknowledged_and_queue_nothing(topic):
    raw = b'{"id": 727}'
    assert receive(raw, headers(raw, topic=topic))[1] == []


def test_restored_order_is_an_update():
    _, (ev,) = receive(SIGNED_BODY, headers(SIGNED_BODY, topic="order.restored"))
    assert ev.event_type == "updated"


def line(**changes) -> dict:
    return {"sku": "A", "quantity": 1, "subtotal": "1.00", **changes}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": None}, r"\$\.id is required"),
        ({"date_modified_gmt": None, "date_modified": None}, r"\$\.date_modified_gmt"),
        ({"date_modified_gmt": "last week"}, r"\$\.date_modified_gmt: .*not an ISO-8601"),
        ({"currency": ""}, r"\$\.currency"),
        ({"line_items": [line(quantity=-1)]}, r"line_items\[0\]\.quantity"),
        ({"line_items": [line(subtotal="x")]}, r"line_items\[0\]\.subtotal"),
    ],
)
def test_broken_order_is_refused_with_the_field_path(changes, message):
    raw = order(**changes)
    with pytest.raises(InvalidPayload, match=message):
        receive(raw, headers(raw))


def test_unit_price_is_exact_or_four_places():
    lines = [
        {"sku": "A", "quantity": 3, "subtotal": "10.00", "price": 3.3333333333333335},
        {"sku": "B", "quantity": 1, "price": 2.5},
    ]
    raw = order(line_items=lines)
    _, (ev,) = receive(raw, headers(raw))
    assert [line.unit_price for line in ev.lines] == [Decimal("3.3333"), Decimal("2.5")]


def test_secret_is_decoded_as_wordpress_does():
    assert wp_specialchars_decode("a&amp;b&lt;c&#039;") == "a&b<c'"
    raw = SIGNED_BODY
    delivery_id, _ = receive(raw, headers(raw, secret="s&cret"), secret="s&amp;cret")
    assert delivery_id
