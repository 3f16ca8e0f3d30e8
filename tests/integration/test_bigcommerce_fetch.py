"""BigCommerce's Orders API adapter against the stub platform over loopback (status codes
mapped to domain errors, paging, 204), and the processor's path on moto: a thin BigCommerce
event queued, fetched from the stub, booked once; an order BigCommerce does not have is
rejected with its reason; an API that is down leaves the message to be retried."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests
from chalice.test import Client

from app import app
from chalicelib.adapters.platform_api import PAGE_SIZE, BigCommerceOrderApi
from chalicelib.api.processor import handle_order_message
from chalicelib.channels.bigcommerce import raw_secret_key
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.channels.webhook import accept_webhook
from chalicelib.deps import Container, use_container
from chalicelib.domain.details import OrderDetailsUnavailable, OrderNotOnPlatform
from chalicelib.domain.model import Booking, Buyer, OrderLine, Outcome, PlatformStatus
from chalicelib.domain.ports import Store, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from local.stub_platform import StubPlatform
from tests.fakes import FakeSecrets, FixedClock

STORE_HASH = "bcit01"
TOKEN = "bc_integration_token"
CLIENT_SECRET = "bc_integration_client_secret"
SECRET_NAME = "orderhub/stores/bigcommerce/bc-it"
STORE = Store("bigcommerce", "bc-it", SECRET_NAME, "UTC")
CREDENTIALS = {"client_secret": CLIENT_SECRET, "store_hash": STORE_HASH, "access_token": TOKEN}
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # FixedClock's moment


def order_json(order_id: int = 250, status_id: int = 11, **extra: Any) -> dict[str, Any]:
    return {
        "id": order_id,
        "date_created": "Wed, 25 Nov 2026 07:58:00 +0000",
        "date_modified": "Wed, 25 Nov 2026 07:59:30 +0000",
        "status_id": status_id,
        "status": "Awaiting Fulfillment",
        "currency_code": "USD",
        "is_deleted": False,
        "billing_address": {
            "first_name": "Trisha",
            "last_name": "McLaughlin",
            "street_1": "12345 W Anderson Ln",
            "city": "Austin",
            "zip": "78757",
            "country": "United States",
            "phone": "",
        },
        **extra,
    }


PRODUCTS = [
    {"id": 1, "product_id": 77, "sku": "SKU-A", "quantity": 2, "price_inc_tax": "12.1000"},
    {"id": 2, "product_id": 78, "sku": "SKU-B", "quantity": 1, "base_price": "5.5000"},
]


@pytest.fixture
def stub() -> Iterator[StubPlatform]:
    running = StubPlatform(port=0).start()
    yield running
    running.stop()


def seed(stub: StubPlatform, order: dict[str, Any], products: list[Any]) -> None:
    """Through the stub's own HTTP seeding endpoint, as tests and developers use it."""
    response = requests.post(
        f"{stub.url}/_stub/bigcommerce/orders",
        json={
            "store_hash": STORE_HASH,
            "access_token": TOKEN,
            "order": order,
            "products": products,
        },
        timeout=5,
    )
    assert response.status_code == 201, response.text


def api(url: str, credentials: dict[str, str] | None = None, timeout: float = 5.0):
    secrets = FakeSecrets({SECRET_NAME: credentials or dict(CREDENTIALS)})
    return BigCommerceOrderApi(secrets, url, timeout=timeout)


# ---- the adapter over loopback --------------------------------------------------------------


def test_fetch_reads_the_order_and_its_products(stub):
    seed(stub, order_json(), PRODUCTS)
    details = api(stub.url).fetch(STORE, "250")
    assert details.status is PlatformStatus.PAID
    assert details.updated_at == datetime(2026, 11, 25, 7, 59, 30, tzinfo=UTC)
    assert details.updated_at_raw == "Wed, 25 Nov 2026 07:59:30 +0000"
    assert details.currency == "USD"
    assert details.lines == (
        OrderLine("SKU-A", 2, Decimal("12.1000")),
        OrderLine("SKU-B", 1, Decimal("5.5000")),
    )
    assert details.buyer == Buyer(
        "Trisha McLaughlin", "", "12345 W Anderson Ln, Austin, 78757, United States"
    )
    assert stub.bigcommerce.requests == [
        f"/stores/{STORE_HASH}/v2/orders/250",
        f"/stores/{STORE_HASH}/v2/orders/250/products?limit={PAGE_SIZE}&page=1",
    ]


def test_products_are_read_page_by_page(stub):
    many = [
        {"id": i, "product_id": i, "sku": f"SKU-{i}", "quantity": 1, "base_price": "1.00"}
        for i in range(PAGE_SIZE + 3)
    ]
    seed(stub, order_json(), many)
    details = api(stub.url).fetch(STORE, "250")
    assert [line.sku for line in details.lines] == [f"SKU-{i}" for i in range(PAGE_SIZE + 3)]
    assert stub.bigcommerce.requests[-1].endswith("page=2")


def test_order_without_products_reads_the_204(stub):
    seed(stub, order_json(), [])
    assert api(stub.url).fetch(STORE, "250").lines == ()


def test_unknown_order_is_not_on_the_platform(stub):
    seed(stub, order_json(), PRODUCTS)
    with pytest.raises(OrderNotOnPlatform, match="order 999 does not exist"):
        api(stub.url).fetch(STORE, "999")


def test_refused_token_tells_ops_to_fix_the_secret(stub):
    seed(stub, order_json(), PRODUCTS)
    wrong = dict(CREDENTIALS, access_token="stale-token")
    with pytest.raises(OrderDetailsUnavailable) as caught:
        api(stub.url, wrong).fetch(STORE, "250")
    assert "401" in caught.value.message
    assert "access_token" in caught.value.message and SECRET_NAME in caught.value.message
    assert "stale-token" not in caught.value.message  # the token itself is never shown


@pytest.mark.parametrize("status", [503, 500, 429])
def test_server_errors_and_rate_limits_are_transient(stub, status):
    seed(stub, order_json(), PRODUCTS)
    stub.bigcommerce.fail(status, 1)
    with pytest.raises(OrderDetailsUnavailable, match=str(status)):
        api(stub.url).fetch(STORE, "250")
    assert api(stub.url).fetch(STORE, "250").status is PlatformStatus.PAID  # next try works


def test_fail_mode_over_http(stub):
    seed(stub, order_json(), PRODUCTS)
    requests.post(f"{stub.url}/_stub/bigcommerce/fail", json={"status": 503}, timeout=5)
    with pytest.raises(OrderDetailsUnavailable, match="503"):
        api(stub.url).fetch(STORE, "250")
    requests.post(f"{stub.url}/_stub/bigcommerce/fail", json={"count": 0}, timeout=5)
    assert api(stub.url).fetch(STORE, "250").lines


def test_timeout_and_refused_connection_are_transient():
    with socket.socket() as silent:  # accepts connections (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(OrderDetailsUnavailable, match="unreachable"):
            api(f"http://127.0.0.1:{port}", timeout=0.3).fetch(STORE, "250")
    with pytest.raises(OrderDetailsUnavailable, match="unreachable"):
        api(f"http://127.0.0.1:{port}", timeout=0.3).fetch(STORE, "250")


def test_unreadable_answer_is_transient_and_names_the_field(stub):
    seed(stub, order_json(status_id=42), PRODUCTS)
    with pytest.raises(OrderDetailsUnavailable, match=r"\$\.status_id"):
        api(stub.url).fetch(STORE, "250")


def test_stock_pushes_still_work_beside_it(stub):
    response = requests.post(
        f"{stub.url}/stock/bigcommerce/bc-it", json={"sku": "SKU-A", "quantity": 3}, timeout=5
    )
    assert response.status_code == 200
    assert [(p["platform"], p["quantity"]) for p in stub.pushes()] == [("bigcommerce", 3)]


# ---- the processor's path on moto ------------------------------------------------------------


@pytest.fixture
def deps(stack_env: dict[str, str], stub: StubPlatform) -> Iterator[Container]:
    environ = {**stack_env, "ORDERHUB_BIGCOMMERCE_API_URL": stub.url}
    built = Container(environ=environ, now=FixedClock(NOW))
    built._client("secretsmanager").create_secret(
        Name=SECRET_NAME, SecretString=json.dumps(CREDENTIALS)
    )
    built.catalog_store.put_store(STORE)
    built.catalog_store.put_warehouse(Warehouse("w1", "east", 1))
    for sku in ("SKU-A", "SKU-B"):
        adjust_stock(
            Adjustment(f"r-{sku}", sku, "w1", "receipt", 5, "opening"), built.orders, built.now
        )
    yield built
    use_container(None)


def post_hook(deps: Container, order_id: int, msg_id: str) -> str:
    """Accept a signed `store/order/created` hook; returns the queued message's body."""
    raw = json.dumps(
        {
            "scope": "store/order/created",
            "store_id": "1025646",
            "data": {"type": "order", "id": order_id},
            "hash": "x",
            "created_at": int(NOW.timestamp()),
            "producer": f"stores/{STORE_HASH}",
        }
    ).encode()
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(NOW.timestamp())),
        "webhook-signature": sign_standard_webhook(raw_secret_key(CLIENT_SECRET), msg_id, NOW, raw),
    }
    accepted = accept_webhook(
        "bigcommerce",
        "bc-it",
        headers,
        raw,
        deps.catalog,
        deps.secrets,
        deps.queue,
        NOW,
        vault=deps.personal_data,
    )
    assert accepted.event_keys == (f"bigcommerce#bc-it#{msg_id}",)
    (message,) = deps.sqs.receive_message(
        QueueUrl=deps.settings.order_queue_url, MaxNumberOfMessages=1
    )["Messages"]
    deps.sqs.delete_message(
        QueueUrl=deps.settings.order_queue_url, ReceiptHandle=message["ReceiptHandle"]
    )
    assert json.loads(message["Body"])["event"]["complete"] is False
    return str(message["Body"])


def test_thin_event_is_fetched_then_booked_once(deps, stub):
    seed(stub, order_json(), PRODUCTS)
    body = post_hook(deps, 250, "wh-it-1")
    result = handle_order_message(body, deps)
    assert result.outcome is Outcome.BOOKED
    order = deps.orders.get_order("bigcommerce#bc-it#250")
    assert order is not None
    assert order.booking is Booking.LOCKED and order.status is PlatformStatus.PAID
    assert order.lines == (
        OrderLine("SKU-A", 2, Decimal("12.1000")),
        OrderLine("SKU-B", 1, Decimal("5.5000")),
    )
    assert order.updated_at_raw == "Wed, 25 Nov 2026 07:59:30 +0000"
    stock = deps.orders.get_stock(["SKU-A", "SKU-B"])
    assert (stock[("SKU-A", "w1")].locked, stock[("SKU-B", "w1")].locked) == (2, 1)
    # redelivered: fetched again, books nothing
    assert handle_order_message(body, deps).outcome is Outcome.DUPLICATE
    assert deps.orders.get_order("bigcommerce#bc-it#250").version == order.version  # type: ignore[union-attr]
    assert deps.orders.get_stock(["SKU-A"])[("SKU-A", "w1")].locked == 2


def invoke(deps: Container, body: str, message_id: str) -> dict[str, Any]:
    use_container(deps)
    with Client(app) as client:
        event = client.events.generate_sqs_event(message_bodies=[body])
        event["Records"][0]["messageId"] = message_id
        return dict(client.lambda_.invoke("handle_order_events", event).payload)


def test_order_bigcommerce_does_not_have_is_rejected_with_its_reason(deps, stub):
    seed(stub, order_json(), PRODUCTS)  # the store is known to the stub; order 404 is not
    body = post_hook(deps, 404404, "wh-it-404")
    assert invoke(deps, body, "m-404") == {"batchItemFailures": []}
    record = deps.orders.get_event_outcome("bigcommerce#bc-it#wh-it-404")
    assert record is not None and record["outcome"] == "rejected_invalid"
    assert "order 404404 does not exist" in record["reason"]
    assert deps.orders.get_order("bigcommerce#bc-it#404404") is None


def test_api_down_leaves_the_message_for_a_retry(deps, stub):
    seed(stub, order_json(), PRODUCTS)
    stub.bigcommerce.fail(503, None)
    body = post_hook(deps, 250, "wh-it-503")
    assert invoke(deps, body, "m-503") == {"batchItemFailures": [{"itemIdentifier": "m-503"}]}
    assert deps.orders.get_event_outcome("bigcommerce#bc-it#wh-it-503") is None
    assert deps.orders.get_order("bigcommerce#bc-it#250") is None
    stub.bigcommerce.fail(503, 0)
    assert handle_order_message(body, deps).outcome is Outcome.BOOKED  # SQS's next delivery
