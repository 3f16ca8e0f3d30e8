"""BigCommerce: Standard Webhooks signed with the raw client secret, bound to the store hash,
thin order events; the v2 Orders API's JSON read field by field; the processor fetching a
thin event's details before booking (over a fake detail source)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app import app
from chalicelib.channels import CHANNELS
from chalicelib.channels.base import Delivery
from chalicelib.channels.bigcommerce import (
    STATUS_IDS,
    BigCommerceChannel,
    bigcommerce_credentials,
    parse_bigcommerce_order,
    parse_bigcommerce_webhook,
    raw_secret_key,
)
from chalicelib.domain.details import (
    OrderDetailRouter,
    OrderDetails,
    OrderDetailsUnavailable,
    OrderNotOnPlatform,
    complete_thin_event,
    merge_details,
)
from chalicelib.domain.errors import (
    InvalidPayload,
    InvalidSignature,
    StaleTimestamp,
    TransientFailure,
)
from chalicelib.domain.model import Buyer, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store
from local.lambda_runtime import LocalLambdaContext
from tests.fakes import with_stock
from tests.privacy_fakes import opened_message
from tests.unit.test_channel_gateway_events import gateway_event

STORE_ID = "shop-1"  # the id test_channel_gateway_events' events are addressed to
SECRET_NAME = "secret/bigcommerce"
CLIENT_SECRET = "bc_unit_client_secret_raw"
STORE_HASH = "abc123"
CREDENTIALS = {
    "client_secret": CLIENT_SECRET,
    "store_hash": STORE_HASH,
    "access_token": "bc_unit_token",
}
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # FakeContainer's clock
STORE = Store("bigcommerce", STORE_ID, SECRET_NAME, "UTC")
CHANNEL = BigCommerceChannel()


def callback(scope: str = "store/order/created", order_id: int = 250, **data: Any) -> bytes:
    """A callback as BigCommerce's docs show it (compact JSON, as sent)."""
    payload = {
        "scope": scope,
        "store_id": "1025646",
        "data": {"type": "order", "id": order_id, **data},
        "hash": "dd70c0976e06b67aaf671e73f49dcb79230ebf9d",
        "created_at": int(NOW.timestamp()) - 2,
        "producer": f"stores/{STORE_HASH}",
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def signature(raw: bytes, msg_id: str, timestamp: int, secret: str = CLIENT_SECRET) -> str:
    """Written out from the scheme, independently of our code: HMAC-SHA256 keyed with the
    secret's raw bytes over `id.timestamp.body`, base64, `v1,` prefix."""
    signed = f"{msg_id}.{timestamp}.".encode() + raw
    mac = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers_for(raw: bytes, msg_id: str = "wh_1", at: datetime = NOW, **kw: Any) -> dict:
    ts = int(at.timestamp())
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature(raw, msg_id, ts, **kw),
    }


def verify(raw: bytes, headers: dict, secret: dict | None = None, now: datetime = NOW) -> str:
    creds = CHANNEL.credentials(secret or CREDENTIALS)
    return CHANNEL.verify(Delivery.of(headers, raw, now), creds, now)


# ---- signature ------------------------------------------------------------------------------


def test_registered_under_its_platform():
    assert isinstance(CHANNELS["bigcommerce"], BigCommerceChannel)


def test_signature_with_the_raw_client_secret_verifies():
    raw = callback()
    assert verify(raw, headers_for(raw)) == "wh_1"


def test_the_key_handed_to_standardwebhooks_is_the_raw_secret_base64():
    assert base64.b64decode(raw_secret_key(CLIENT_SECRET)) == CLIENT_SECRET.encode()
    # a secret that happens to look like base64 is still used as its raw bytes
    tricky = "QUJD"
    raw = callback()
    headers = headers_for(raw, secret=tricky)
    assert verify(raw, headers, dict(CREDENTIALS, client_secret=tricky)) == "wh_1"


def test_one_changed_body_byte_fails():
    raw = callback()
    headers = headers_for(raw)
    tampered = raw.replace(b'"id":250', b'"id":251')
    assert tampered != raw
    with pytest.raises(InvalidSignature):
        verify(tampered, headers)


def test_one_changed_secret_byte_fails():
    raw = callback()
    with pytest.raises(InvalidSignature):
        verify(raw, headers_for(raw, secret=CLIENT_SECRET[:-1] + "X"))


def test_one_changed_timestamp_fails():
    raw = callback()
    headers = headers_for(raw)
    headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
    with pytest.raises(InvalidSignature):
        verify(raw, headers)


@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_header_names_in_any_case(case):
    raw = callback()
    headers = {case(k): v for k, v in headers_for(raw).items()}
    assert verify(raw, headers) == "wh_1"


@pytest.mark.parametrize("skew", [timedelta(minutes=5, seconds=1), -timedelta(minutes=6)])
def test_stale_timestamp_is_refused(skew):
    raw = callback()
    with pytest.raises(StaleTimestamp):
        verify(raw, headers_for(raw, at=NOW + skew))


def test_within_five_minutes_verifies():
    raw = callback()
    assert verify(raw, headers_for(raw, at=NOW - timedelta(minutes=4, seconds=59)))


def test_rotation_overlap_either_client_secret_verifies():
    raw = callback()
    rotating = dict(CREDENTIALS, client_secrets=["new_secret", CLIENT_SECRET])
    del rotating["client_secret"]
    assert verify(raw, headers_for(raw), rotating) == "wh_1"
    assert verify(raw, headers_for(raw, secret="new_secret"), rotating) == "wh_1"


def test_delivery_for_another_store_hash_is_refused():
    payload = json.loads(callback())
    payload["producer"] = "stores/otherstore"
    raw = json.dumps(payload).encode()
    with pytest.raises(InvalidSignature, match=r"stores/otherstore.*stores/abc123"):
        verify(raw, headers_for(raw))


@pytest.mark.parametrize("field", ["client_secret", "store_hash", "access_token"])
def test_credentials_need_every_field(field):
    incomplete = {k: v for k, v in CREDENTIALS.items() if k != field}
    with pytest.raises(TransientFailure, match=field):
        bigcommerce_credentials(incomplete)


# ---- webhook payload ----------------------------------------------------------------------


def parse(raw: bytes, delivery_id: str = "wh_1") -> list:
    return parse_bigcommerce_webhook(raw, STORE, delivery_id, NOW)


def test_created_hook_is_a_thin_event_keyed_by_webhook_id():
    (event,) = parse(callback())
    assert event.event_key == "bigcommerce#shop-1#wh_1"
    assert (event.platform, event.store, event.order_id) == ("bigcommerce", "shop-1", "250")
    assert event.complete is False
    assert event.lines == () and event.currency == "" and event.buyer is None
    assert event.status is PlatformStatus.UNPAID  # the placeholder; the fetch replaces it
    assert event.event_type == "created"
    assert event.updated_at == NOW - timedelta(seconds=2)
    assert event.updated_at_raw == str(int(NOW.timestamp()) - 2)
    assert event.received_at == NOW


@pytest.mark.parametrize(
    ("new_status_id", "status", "event_type"),
    [
        (11, PlatformStatus.PAID, "paid"),
        (2, PlatformStatus.SHIPPED, "shipped"),
        (5, PlatformStatus.CANCELLED, "cancelled"),
        (4, PlatformStatus.REFUNDED, "refunded"),
        (1, PlatformStatus.UNPAID, "updated"),
        (99, PlatformStatus.UNPAID, "updated"),  # unknown id: the placeholder, not a 400
    ],
)
def test_status_updated_hook_takes_its_placeholder_from_the_new_status(
    new_status_id, status, event_type
):
    raw = callback(
        "store/order/statusUpdated",
        status={"previous_status_id": 0, "new_status_id": new_status_id},
    )
    (event,) = parse(raw)
    assert (event.status, event.event_type, event.complete) == (status, event_type, False)


@pytest.mark.parametrize("scope", ["store/order/updated", "store/order/archived"])
def test_other_order_hooks_are_queued_thin(scope):
    (event,) = parse(callback(scope))
    assert event.order_id == "250" and event.complete is False


@pytest.mark.parametrize(
    "scope",
    ["store/product/updated", "store/cart/created", "store/order/message/created", "store/app/x"],
)
def test_other_scopes_queue_nothing(scope):
    assert parse(callback(scope)) == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda p: p.pop("scope"), "$.scope"),
        (lambda p: p.pop("data"), "$.data"),
        (lambda p: p["data"].pop("id"), "$.data.id"),
        (lambda p: p["data"].update(id=None), "$.data.id"),
        (lambda p: p["data"].update(id=[1]), "$.data.id"),
        (lambda p: p["data"].update(type="cart"), "$.data.type"),
        (lambda p: p.pop("created_at"), "$.created_at"),
        (lambda p: p.update(created_at="yesterday"), "$.created_at"),
        (lambda p: p.pop("producer"), "$.producer"),
        (lambda p: p.update(producer="abc123"), "$.producer"),
        (lambda p: p["data"].update(status="11"), "$.data.status"),
        (lambda p: p["data"].update(status={"new_status_id": "11"}), "$.data.status.new_status_id"),
    ],
)
def test_payload_errors_name_the_field(change, field):
    payload = json.loads(callback("store/order/statusUpdated"))
    change(payload)
    with pytest.raises(InvalidPayload) as caught:
        parse(json.dumps(payload).encode())
    assert field in caught.value.message


def test_body_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidPayload, match="JSON object"):
        parse(b"[1]")
    with pytest.raises(InvalidPayload, match="not valid JSON"):
        parse(b"{nope")


# ---- Orders API JSON -> details --------------------------------------------------------------


def api_order(**overrides: Any) -> dict[str, Any]:
    """Shaped as BigCommerce's v2 `GET /orders/{id}` documents it (trimmed)."""
    order = {
        "id": 250,
        "customer_id": 10,
        "date_created": "Wed, 25 Nov 2026 15:58:00 +0800",
        "date_modified": "Wed, 25 Nov 2026 15:59:30 +0800",
        "status_id": 11,
        "status": "Awaiting Fulfillment",
        "total_inc_tax": "79.0000",
        "currency_code": "EUR",
        "default_currency_code": "USD",
        "is_deleted": False,
        "billing_address": {
            "first_name": "Trisha",
            "last_name": "McLaughlin",
            "company": "",
            "street_1": "12345 W Anderson Ln",
            "street_2": "",
            "city": "Austin",
            "state": "Texas",
            "zip": "78757",
            "country": "United States",
            "country_iso2": "US",
            "phone": "+1 512 555 0100",
            "email": "elsie@example.com",
        },
        "products": {"url": "https://example/api/v2/orders/250/products.json", "resource": ""},
    }
    order.update(overrides)
    return order


def api_products() -> list[dict[str, Any]]:
    return [
        {
            "id": 1,
            "order_id": 250,
            "product_id": 77,
            "name": "Longjing tea",
            "sku": "SKU-A",
            "quantity": 2,
            "base_price": "10.0000",
            "price_ex_tax": "10.0000",
            "price_inc_tax": "12.1000",
        },
        {
            "id": 2,
            "order_id": 250,
            "product_id": 78,
            "name": "Custom engraving",
            "sku": "",
            "quantity": 1,
            "base_price": "5.5000",
            "price_inc_tax": None,
        },
    ]


def test_api_order_becomes_details_field_by_field():
    details = parse_bigcommerce_order("250", api_order(), api_products())
    assert details.status is PlatformStatus.PAID
    assert details.updated_at == datetime(2026, 11, 25, 7, 59, 30, tzinfo=UTC)
    assert details.updated_at.tzinfo is UTC
    assert details.updated_at_raw == "Wed, 25 Nov 2026 15:59:30 +0800"
    assert details.currency == "EUR"
    assert details.lines == (
        OrderLine("SKU-A", 2, Decimal("12.1000")),
        OrderLine("product:78", 1, Decimal("5.5000")),  # no SKU: the product id, mappable
    )
    assert isinstance(details.lines[0].unit_price, Decimal)
    assert str(details.lines[0].unit_price) == "12.1000"
    assert details.buyer == Buyer(
        "Trisha McLaughlin",
        "+1 512 555 0100",
        "12345 W Anderson Ln, Austin, Texas, 78757, United States",
    )


@pytest.mark.parametrize(
    ("status_id", "status"),
    [
        (0, "unpaid"),
        (1, "unpaid"),
        (7, "unpaid"),
        (6, "unpaid"),
        (11, "paid"),
        (9, "paid"),
        (8, "paid"),
        (12, "paid"),
        (13, "paid"),
        (14, "paid"),
        (2, "shipped"),
        (3, "shipped"),
        (10, "shipped"),
        (5, "cancelled"),
        (4, "refunded"),
    ],
)
def test_every_documented_status_id_maps(status_id, status):
    details = parse_bigcommerce_order("250", api_order(status_id=status_id), api_products())
    assert details.status.value == status


def test_status_table_covers_exactly_the_documented_ids():
    assert sorted(STATUS_IDS) == list(range(15))


def test_archived_order_is_cancelled():
    details = parse_bigcommerce_order("250", api_order(is_deleted=True), api_products())
    assert details.status is PlatformStatus.CANCELLED


def test_minus_zero_offset_and_iso_times_are_utc():
    minus_zero = api_order(date_modified="Wed, 25 Nov 2026 07:59:30 -0000")
    iso = api_order(date_modified="2026-11-25T07:59:30+00:00")
    for order in (minus_zero, iso):
        details = parse_bigcommerce_order("250", order, api_products())
        assert details.updated_at == datetime(2026, 11, 25, 7, 59, 30, tzinfo=UTC)
        assert details.updated_at_raw == order["date_modified"]


def test_order_without_billing_contact_has_no_buyer():
    details = parse_bigcommerce_order("250", api_order(billing_address=None), api_products())
    assert details.buyer is None


@pytest.mark.parametrize(
    ("order", "products", "field"),
    [
        (api_order(status_id=42), api_products(), "$.status_id"),
        (api_order(status_id="11"), api_products(), "$.status_id"),
        (api_order(date_modified="last tuesday"), api_products(), "$.date_modified"),
        (api_order(date_modified=None), api_products(), "$.date_modified"),
        (api_order(currency_code="euro"), api_products(), "$.currency_code"),
        (api_order(id=251), api_products(), "$.id"),
        (api_order(), [{"sku": "A", "quantity": 0, "base_price": "1"}], "$products[0].quantity"),
        (api_order(), [{"sku": "A", "quantity": 1, "base_price": "-1"}], "$products[0].base_price"),
        (api_order(), [{"sku": "A", "quantity": 1}], "$products[0].base_price"),
        (api_order(), [{"sku": "", "quantity": 1, "base_price": "1"}], "$products[0].product_id"),
        (api_order(), ["x"], "$products[0]"),
    ],
)
def test_unreadable_api_answers_name_the_field(order, products, field):
    with pytest.raises(InvalidPayload) as caught:
        parse_bigcommerce_order("250", order, products)
    assert field in caught.value.message


# ---- thin event + fetched details ------------------------------------------------------------


DETAILS = OrderDetails(
    PlatformStatus.PAID,
    datetime(2026, 11, 25, 7, 59, 30, tzinfo=UTC),
    "Wed, 25 Nov 2026 07:59:30 +0000",
    "USD",
    (OrderLine("SKU-A", 2, Decimal("12.10")),),
    Buyer("Trisha McLaughlin", "", "Austin"),
)


class FakeSource:
    def __init__(self, result: OrderDetails | Exception = DETAILS) -> None:
        self.result = result
        self.calls: list[tuple[str, str]] = []

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        self.calls.append((store.store_id, order_id))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_merge_takes_the_apis_word_and_keeps_the_events_identity():
    (thin,) = parse(callback())
    full = merge_details(thin, DETAILS)
    assert full.complete is True
    assert (full.status, full.currency, full.lines, full.buyer) == (
        DETAILS.status,
        "USD",
        DETAILS.lines,
        DETAILS.buyer,
    )
    assert (full.updated_at, full.updated_at_raw) == (DETAILS.updated_at, DETAILS.updated_at_raw)
    assert (full.event_key, full.order_id, full.received_at, full.event_type) == (
        thin.event_key,
        thin.order_id,
        thin.received_at,
        thin.event_type,
    )


def test_only_thin_events_of_a_platform_with_a_source_are_fetched():
    source = FakeSource()
    router = OrderDetailRouter({"bigcommerce": source})
    (thin,) = parse(callback())
    assert complete_thin_event(thin, STORE, router).complete is True
    assert source.calls == [("shop-1", "250")]
    full = merge_details(thin, DETAILS)
    assert complete_thin_event(full, STORE, router) is full  # complete: no fetch
    assert complete_thin_event(thin, STORE, OrderDetailRouter({})) is thin  # no source
    assert source.calls == [("shop-1", "250")]


def test_not_on_platform_is_permanent_and_unavailable_is_not():
    from chalicelib.domain.delivery import is_permanent

    assert is_permanent(OrderNotOnPlatform("gone"))
    assert not is_permanent(OrderDetailsUnavailable("down"))


# ---- through the app (API Gateway events, the SQS processor) ---------------------------------


@pytest.fixture
def bc(deps):
    deps.catalog.put_store(STORE)
    deps.secrets.secrets[SECRET_NAME] = dict(CREDENTIALS)
    return deps


def gateway(raw: bytes, headers: dict, base64_body: bool) -> dict:
    return app(gateway_event("bigcommerce", raw, headers, base64_body), LocalLambdaContext("api"))


@pytest.mark.parametrize("case", [str, str.lower, str.upper])
@pytest.mark.parametrize("base64_body", [False, True], ids=["plain", "base64"])
def test_signed_hook_passes_as_a_gateway_event(bc, base64_body, case):
    raw = callback()
    headers = {case(k): v for k, v in headers_for(raw).items()}
    response = gateway(raw, headers, base64_body)
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["events"] == ["bigcommerce#shop-1#wh_1"]
    ((message, _),) = bc.queue.messages
    assert message["event"]["order_id"] == "250" and message["event"]["complete"] is False
    assert opened_message(message, bc.personal_data)["raw"] == raw.decode()


def test_tampered_base64_body_is_refused(bc):
    raw = callback()
    headers = headers_for(raw)
    response = gateway(raw.replace(b'"id":250', b'"id":350'), headers, True)
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "invalid_signature"
    assert bc.queue.messages == []


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ("stale", 401, "stale_timestamp"),
        ("other_store", 401, "invalid_signature"),
        ("no_data_id", 400, "invalid_payload"),
        ("no_access_token", 503, "transient_failure"),
    ],
)
def test_refusals_over_http(bc, client, change, status, code):
    payload = json.loads(callback())
    at = NOW
    if change == "stale":
        at = NOW - timedelta(minutes=10)
    elif change == "other_store":
        payload["producer"] = "stores/zzz999"
    elif change == "no_data_id":
        del payload["data"]["id"]
    else:
        del bc.secrets.secrets[SECRET_NAME]["access_token"]
    raw = json.dumps(payload).encode()
    response = client.http.post(
        f"/webhooks/bigcommerce/{STORE_ID}", headers=headers_for(raw, at=at), body=raw
    )
    assert response.status_code == status, response.body
    assert response.json_body["error"] == code
    if change == "no_data_id":
        assert "$.data.id" in response.json_body["message"]
    assert bc.queue.messages == []


def test_other_scope_is_answered_200_and_queues_nothing(bc, client):
    raw = callback("store/product/updated")
    response = client.http.post(
        f"/webhooks/bigcommerce/{STORE_ID}", headers=headers_for(raw), body=raw
    )
    assert response.status_code == 200
    assert response.json_body["status"] == "ignored" and bc.queue.messages == []


def deliver(client, deps, raw: bytes, msg_id: str = "wh_1") -> dict:
    """Post the hook, then hand the queued message to the processor like SQS would."""
    response = client.http.post(
        f"/webhooks/bigcommerce/{STORE_ID}", headers=headers_for(raw, msg_id), body=raw
    )
    assert response.status_code == 200, response.body
    message, _ = deps.queue.messages[-1]
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
    event["Records"][0]["messageId"] = f"m-{msg_id}"
    event["Records"][0]["receiptHandle"] = f"rh-{msg_id}"
    return dict(client.lambda_.invoke("handle_order_events", event).payload)


def test_processor_fetches_a_thin_event_then_books_it_once(bc, client):
    source = FakeSource()
    bc.order_details = OrderDetailRouter({"bigcommerce": source})
    raw = callback()
    assert deliver(client, bc, raw) == {"batchItemFailures": []}
    order = bc.orders.orders["bigcommerce#shop-1#250"]
    assert order.lines == DETAILS.lines and order.status is PlatformStatus.PAID
    assert order.updated_at_raw == DETAILS.updated_at_raw and order.currency == "USD"
    assert bc.orders.stock[("SKU-A", "w1")].locked == 2
    assert source.calls == [("shop-1", "250")]
    # the same delivery again (BigCommerce's retry): fetched, but books nothing more
    assert deliver(client, bc, raw) == {"batchItemFailures": []}
    assert bc.orders.orders["bigcommerce#shop-1#250"].version == order.version
    assert bc.orders.stock[("SKU-A", "w1")].locked == 2


def test_order_missing_on_bigcommerce_is_rejected_with_its_reason(bc, client):
    bc.order_details = OrderDetailRouter(
        {"bigcommerce": FakeSource(OrderNotOnPlatform("order 250 does not exist (404)"))}
    )
    assert deliver(client, bc, callback()) == {"batchItemFailures": []}
    record = bc.orders.get_event_outcome("bigcommerce#shop-1#wh_1")
    assert record["outcome"] == "rejected_invalid" and "does not exist" in record["reason"]
    assert bc.orders.orders == {} and bc.visibility.delays == []


def test_unavailable_api_is_retried_with_backoff_and_books_nothing(bc, client):
    bc.order_details = OrderDetailRouter(
        {"bigcommerce": FakeSource(OrderDetailsUnavailable("BigCommerce answered 503"))}
    )
    result = deliver(client, bc, callback())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-wh_1"}]}
    assert bc.visibility.delays == [("rh-wh_1", 10)]
    assert bc.orders.get_event_outcome("bigcommerce#shop-1#wh_1") is None
    assert bc.orders.orders == {}


def test_without_a_source_a_thin_order_waits_for_attention(bc, client):
    """The FakeContainer's router is empty: booking keeps the TikTok-style behaviour."""
    with_stock(bc.orders, "SKU-B", "w1", 1)
    assert deliver(client, bc, callback()) == {"batchItemFailures": []}
    order = bc.orders.orders["bigcommerce#shop-1#250"]
    assert order.booking.value == "needs_attention" and order.holds == ()
