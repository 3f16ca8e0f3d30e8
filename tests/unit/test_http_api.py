"""The Chalice app over fakes: status codes, error bodies, auth, and the SQS handler's
partial-batch response. Runs the real handlers and middleware, in memory."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chalicelib.adapters.messaging import MessageLoader
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.domain.api_keys import issue_key
from chalicelib.domain.auth import ApiKeyAuthenticator
from chalicelib.domain.details import OrderDetailRouter
from chalicelib.domain.ingest import MAX_BODY_BYTES
from chalicelib.domain.ports import Store
from tests.access_fakes import FakeApiKeys, FakeAuditLog, FakeRevealStore, FakeSecretDates
from tests.activity_fakes import FakeOrderActivity, FakeTrackingProvider, FakeTracks
from tests.alarm_fakes import FakeAlarmStates
from tests.anomaly_fakes import FakeAfterSales, FakeAnomalies, FakeShipmentWatch
from tests.builders import body, mall_payload
from tests.console_fakes import FakeOrderSearch, FakePushRecords, FakeStockList, LiveOrderDays
from tests.fakes import (
    FakeCatalog,
    FakeEventPublisher,
    FakeNotifier,
    FakeOrderRepository,
    FakeQueue,
    FakeRawArchive,
    FakeSecrets,
    FakeStockPush,
    FakeTrail,
    FixedClock,
)
from tests.ops_fakes import FakeKpiSources, FakeOpsStats
from tests.privacy_fakes import FakeKms, fake_vault, opened_message
from tests.timeline_fakes import FakeOrderHistory
from tests.unit.test_channel_deliveries import (
    STORE_ID,
    WEBHOOK_PLATFORMS,
    add_platform_stores,
    badly_signed_delivery,
    sign,
    signed_delivery,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY = "test-admin-key"


class FakeVisibility:
    def __init__(self) -> None:
        self.delays: list[tuple[str, int]] = []

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append((receipt_handle, seconds))


class FakeDeadLetters:
    def __init__(self) -> None:
        self.messages: list[dict] = []

    def browse(self) -> list[dict]:
        return list(self.messages)

    def depth(self) -> int:
        return len(self.messages)

    def sample_oldest_sent(self) -> int | None:
        return None


class FakeContainer:
    def __init__(self) -> None:
        self.now = FixedClock()
        self.orders = FakeOrderRepository()
        self.catalog = self.catalog_store = FakeCatalog()
        self.catalog.put_store(Store("mall", "demo-shop", "secret/demo"))
        self.api_keys = FakeApiKeys(self.catalog)
        self.api_keys.save_key(issue_key("t", "admin", self.now(), secret=KEY, key_id="k").key)
        self.audit_log = FakeAuditLog()
        self.reveals = FakeRevealStore()  # two-person decrypt
        self.secret_store = FakeSecretDates()  # store secrets' ages (the daily review)
        self.order_days = LiveOrderDays(self.orders)  # the placed_day index (exports)
        self.secrets = FakeSecrets({"secret/demo": {"webhook_secret": SECRET}})
        self.queue = FakeQueue()
        self.kms = FakeKms()
        self.personal_data = fake_vault(self.kms)  # real AES-GCM sealing over a fake KMS
        self.raw_archive = FakeRawArchive()
        self.loader = MessageLoader(s3=None)
        self.authenticator = ApiKeyAuthenticator(self.catalog, usage=self.api_keys)
        self.queue_monitor = self
        self.channel_push = FakeStockPush()
        self.inventory_events = FakeEventPublisher()
        self.visibility = FakeVisibility()
        self.trail = FakeTrail()
        self.orders.trail = self.trail  # a booking writes the trail in its own transaction
        self.dead_letters = FakeDeadLetters()
        self.order_history = FakeOrderHistory(
            self.orders, self.trail, self.dead_letters, self.raw_archive
        )
        self.order_details = OrderDetailRouter({})  # no platform API: thin events stay thin
        self.notifier = FakeNotifier()
        self.ops_stats = FakeOpsStats()  # channel health, daily KPIs
        self.health_probes: dict = {}  # no platform probed unless a test adds one
        self.platform_stock: dict = {}  # no marketplace stock adapter unless a test adds one
        self.kpi_sources = FakeKpiSources()
        self.anomalies = FakeAnomalies(self.orders.anomalies)  # shares the repo's records
        self.shipment_watch = FakeShipmentWatch(self.orders)
        self.after_sales = FakeAfterSales()
        self.alarm_states = FakeAlarmStates()  # the alarm relay's announced states (banners)
        self.tracks = FakeTracks()  # carrier tracks, notes and pick lists (issue 18)
        self.order_activity = FakeOrderActivity()
        self.tracking_providers = {
            "kuaidi100": FakeTrackingProvider(),
            "aftership": FakeTrackingProvider(),
        }
        self.order_search = FakeOrderSearch(self.orders)  # the console's reads
        self.stock_list = FakeStockList(self.orders)
        self.push_records = FakePushRecords()
        self.order_days = LiveOrderDays(self.orders)
        self.settings = SimpleNamespace(
            buyer_lifecycle="",
            retry_base_seconds=10,
            pending_alert_seconds=300,
            audit_retention_days=400,
            link_base_url="",
            track_stall_hours=48.0,
            stage="",
        )

    def depths(self):
        return {
            "orders": {"visible": len(self.queue.messages), "in_flight": 0},
            "orders_dlq": {"visible": len(self.dead_letters.messages), "in_flight": 0},
        }

    def warehouses(self):
        return {w.warehouse_id: w for w in self.catalog.list_warehouses()}


def signed_headers(raw: bytes, deps: FakeContainer, msg_id: str = "msg_1") -> dict[str, str]:
    at = deps.now()
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": sign_standard_webhook(SECRET, msg_id, at, raw),
    }


def post_webhook(client, raw, headers, path="/webhooks/mall/demo-shop"):
    return client.http.post(path, headers=headers, body=raw)


def test_signed_webhook_is_accepted_with_202_and_queued(client, deps):
    raw = body(mall_payload())
    response = post_webhook(client, raw, signed_headers(raw, deps))
    assert response.status_code == 202, response.body
    assert response.json_body["delivery_id"] == "msg_1"
    assert len(deps.queue.messages) == 1


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("tampered", 401, "invalid_signature"),
        ("unsigned", 401, "invalid_signature"),
        ("stale", 401, "stale_timestamp"),
        ("malformed", 400, "invalid_payload"),
        ("missing_field", 400, "invalid_payload"),
        ("unknown_platform", 404, "unknown_platform"),
        ("unknown_store", 404, "unknown_store"),
        ("too_large", 413, "payload_too_large"),
        ("xml", 400, "invalid_payload"),
    ],
)
def test_bad_webhooks_get_a_clear_error_and_queue_nothing(client, deps, case, status, code):
    raw = body(mall_payload())
    path = "/webhooks/mall/demo-shop"
    headers = signed_headers(raw, deps)
    if case == "tampered":
        raw = raw.replace(b"SKU-A", b"SKU-B")
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    elif case == "stale":
        deps.now.advance(minutes=6)
    elif case == "malformed":
        raw = b"{oops"
        headers = signed_headers(raw, deps)
    elif case == "missing_field":
        payload = mall_payload()
        del payload["data"]["lines"]
        raw = body(payload)
        headers = signed_headers(raw, deps)
    elif case == "unknown_platform":
        path = "/webhooks/ebay/demo-shop"
    elif case == "unknown_store":
        path = "/webhooks/mall/other-shop"
    elif case == "xml":
        raw = b"<order/>"
        headers = {**signed_headers(raw, deps), "Content-Type": "application/xml"}
    elif case == "too_large":
        raw = b"{" + b" " * MAX_BODY_BYTES + b"}"
    response = post_webhook(client, raw, headers, path)
    assert response.status_code == status
    assert response.json_body["error"] == code
    assert response.json_body["message"]
    assert deps.queue.messages == []


def test_processor_books_queued_event_and_reports_no_failures(client, deps):
    raw = body(mall_payload())
    post_webhook(client, raw, signed_headers(raw, deps))
    ((message, _),) = deps.queue.messages
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps(message)], queue_name="orderhub-order-events"
    )
    result = client.lambda_.invoke("handle_order_events", event)
    assert result.payload == {"batchItemFailures": []}
    assert deps.orders.stock[("SKU-A", "w1")].reserved == 2


def test_unreadable_message_is_rejected_at_once_not_retried(client, deps):
    raw = body(mall_payload())
    post_webhook(client, raw, signed_headers(raw, deps))
    ((message, _),) = deps.queue.messages
    event = client.events.generate_sqs_event(
        message_bodies=[json.dumps(message), "not json"], queue_name="orderhub-order-events"
    )
    for i, record in enumerate(event["Records"]):  # Chalice gives every record the same id
        record["messageId"] = f"m{i}"
    result = client.lambda_.invoke("handle_order_events", event)
    assert result.payload == {"batchItemFailures": []}
    assert deps.orders.stock[("SKU-A", "w1")].reserved == 2
    rejected = deps.orders.get_event_outcome("invalid#m1")
    assert rejected["outcome"] == "rejected_invalid" and "unreadable" in rejected["reason"]
    assert deps.visibility.delays == []


class Throttled(Exception):
    pass


@pytest.mark.parametrize(("receive_count", "delay"), [(1, 10), (2, 20), (4, 80), (5, 0)])
def test_transient_failure_is_reported_and_backed_off(client, deps, receive_count, delay):
    raw = body(mall_payload())
    post_webhook(client, raw, signed_headers(raw, deps))
    ((message, _),) = deps.queue.messages

    def throttled(key):
        raise Throttled("ProvisionedThroughputExceededException")

    deps.orders.get_order = throttled
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
    event["Records"][0]["messageId"] = "m0"
    event["Records"][0]["receiptHandle"] = "rh-0"
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    result = client.lambda_.invoke("handle_order_events", event)
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert deps.visibility.delays == [("rh-0", delay)]
    assert deps.orders.get_event_outcome("mall#demo-shop#msg_1") is None


def test_get_order_and_inventory_need_a_key(client, deps):
    for path in ("/orders/mall/demo-shop/o-1", "/inventory/SKU-A"):
        missing = client.http.get(path)
        wrong = client.http.get(path, headers={"Authorization": "Bearer nope"})
        assert missing.status_code == 401 and missing.json_body["error"] == "unauthenticated"
        assert wrong.status_code == 401


def test_get_order_shows_booking_with_masked_phone(client, deps):
    raw = body(mall_payload())
    post_webhook(client, raw, signed_headers(raw, deps))
    ((message, _),) = deps.queue.messages
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
    client.lambda_.invoke("handle_order_events", event)
    auth = {"Authorization": f"Bearer {KEY}"}
    order = client.http.get("/orders/mall/demo-shop/o-1", headers=auth).json_body
    assert order["booking"] == "reserved" and order["total"] == "25.00"
    assert order["buyer"]["phone"] == "138****5678"
    stock = client.http.get("/inventory/SKU-A", headers=auth).json_body
    assert stock["total"] == {"on_hand": 5, "locked": 0, "reserved": 2, "available": 3}


def test_unknown_order_and_sku_are_404_with_reason(client, deps):
    auth = {"Authorization": f"Bearer {KEY}"}
    order = client.http.get("/orders/mall/demo-shop/nope", headers=auth)
    stock = client.http.get("/inventory/NOPE", headers=auth)
    assert (order.status_code, stock.status_code) == (404, 404)
    assert "nope" in order.json_body["message"] and "NOPE" in stock.json_body["message"]


def test_health_is_public(client, deps):
    response = client.http.get("/health")
    assert response.status_code == 200 and response.json_body["status"] == "ok"


def book_paid_order(client, deps, quantity=2):
    payload = mall_payload(
        status="paid", lines=[{"sku": "SKU-A", "quantity": quantity, "unit_price": "1.00"}]
    )
    raw = body(payload)
    post_webhook(client, raw, signed_headers(raw, deps))
    ((message, _),) = deps.queue.messages
    event = client.events.generate_sqs_event(message_bodies=[json.dumps(message)])
    client.lambda_.invoke("handle_order_events", event)


def test_wms_confirmation_ships_once_and_answers_duplicates(client, deps):
    book_paid_order(client, deps)
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    confirmation = {
        "confirmation_id": "wms-1",
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "o-1",
        "lines": [{"sku": "SKU-A", "quantity": 2}],
    }
    first = client.http.post(
        "/wms/outbound-confirmations", headers=auth, body=json.dumps(confirmation)
    )
    again = client.http.post(
        "/wms/outbound-confirmations", headers=auth, body=json.dumps(confirmation)
    )
    assert first.status_code == 200 and first.json_body["status"] == "shipped"
    assert again.status_code == 200 and again.json_body["status"] == "duplicate"
    assert first.json_body["order"]["booking"] == "shipped"
    level = deps.orders.stock[("SKU-A", "w1")]
    assert (level.on_hand, level.locked, level.available) == (3, 0, 3)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"order_id": "nope"}, 404, "not_found"),
        ({"lines": [{"sku": "SKU-A", "quantity": 9}]}, 409, "stock_conflict"),
        ({"lines": []}, 400, "invalid_payload"),
    ],
)
def test_wms_confirmation_errors(client, deps, change, status, code):
    book_paid_order(client, deps)
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    confirmation = {
        "confirmation_id": "wms-2",
        "platform": "mall",
        "store": "demo-shop",
        "order_id": "o-1",
        "lines": [{"sku": "SKU-A", "quantity": 1}],
        **change,
    }
    response = client.http.post(
        "/wms/outbound-confirmations", headers=auth, body=json.dumps(confirmation)
    )
    assert response.status_code == status and response.json_body["error"] == code
    assert deps.orders.stock[("SKU-A", "w1")].locked == 2


def test_stock_adjustments_receipt_and_count(client, deps):
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    receipt = {
        "adjustment_id": "a1",
        "warehouse": "w1",
        "kind": "receipt",
        "quantity": 5,
        "reason": "PO 4711 arrived",
    }
    response = client.http.post(
        "/inventory/SKU-A/adjustments", headers=auth, body=json.dumps(receipt)
    )
    assert response.status_code == 200
    assert response.json_body["stock"]["total"]["on_hand"] == 10
    book_paid_order(client, deps, quantity=4)
    count = {
        "adjustment_id": "a2",
        "warehouse": "w1",
        "kind": "count",
        "quantity": 3,
        "reason": "cycle count",
    }
    refused = client.http.post("/inventory/SKU-A/adjustments", headers=auth, body=json.dumps(count))
    assert refused.status_code == 409 and "below the 4 units" in refused.json_body["message"]
    unauthenticated = client.http.post("/inventory/SKU-A/adjustments", body=json.dumps(receipt))
    assert unauthenticated.status_code == 401


def test_push_stock_job_pushes_pending_stock_to_every_store(client, deps):
    deps.catalog.put_store(Store("mall", "outlet", "secret/outlet"))
    deps.orders.configure_stock("SKU-A", "w1", 5, 0, [])
    result = client.lambda_.invoke("push_stock", client.events.generate_cw_event("", "", {}, []))
    assert result.payload["pushed"] == 2
    assert result.payload["events"] == [{"sku": "SKU-A", "type": "LimitedSale"}]
    assert sorted(deps.channel_push.pushes) == [
        ("mall", "demo-shop", "SKU-A", 3),
        ("mall", "outlet", "SKU-A", 2),
    ]
    assert deps.orders.pending_skus() == []


# ---- the platform channels over HTTP (shopify, woocommerce, tiktok, douyin) ----------------


def platform_path(platform: str) -> str:
    return f"/webhooks/{platform}/{STORE_ID}"


def test_woocommerce_creation_ping_gets_200_and_queues_nothing(client, deps):
    add_platform_stores(deps)
    response = client.http.post(
        platform_path("woocommerce"),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"webhook_id=1",
    )
    assert response.status_code == 200, response.body
    assert response.json_body["events"] == []
    assert deps.queue.messages == []


def test_douyin_verification_ping_gets_the_success_reply_and_queues_nothing(client, deps):
    add_platform_stores(deps)
    raw = b'[{"tag":"0","msg_id":"","data":"{}"}]'
    response = client.http.post(platform_path("douyin"), headers=sign("douyin", raw), body=raw)
    assert response.status_code == 200
    assert response.json_body == {"code": 0, "msg": "success"}
    assert deps.queue.messages == []


def test_douyin_order_push_is_queued_and_answered_with_the_success_reply(client, deps):
    add_platform_stores(deps)
    raw, headers = signed_delivery("douyin")
    response = client.http.post(platform_path("douyin"), headers=headers, body=raw)
    assert response.status_code == 200
    assert response.json_body == {"code": 0, "msg": "success"}
    ((message, _),) = deps.queue.messages  # the paid message; the address change is not queued
    assert message["event"]["event_key"] == "douyin#shop-1#7093726437652694568"


def test_signed_shopify_order_is_accepted_and_queued(client, deps):
    add_platform_stores(deps)
    raw, headers = signed_delivery("shopify")
    response = client.http.post(platform_path("shopify"), headers=headers, body=raw)
    assert response.status_code == 200, response.body
    key = "shopify#shop-1#b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    assert response.json_body == {
        "status": "accepted",
        "delivery_id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "events": [key],
    }
    ((message, correlation),) = deps.queue.messages
    assert message["event"]["event_key"] == key
    assert opened_message(message, deps.personal_data)["raw"] == raw.decode()
    assert message["event"]["currency"] == "USD" and len(message["event"]["lines"]) == 3
    assert correlation == "shopify#shop-1#820982911946154508"


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS)
def test_bad_signature_is_401_for_each_platform_and_queues_nothing(client, deps, platform):
    add_platform_stores(deps)
    raw, headers = badly_signed_delivery(platform)
    response = client.http.post(platform_path(platform), headers=headers, body=raw)
    assert response.status_code == 401
    assert response.json_body["error"] == "invalid_signature"
    assert response.json_body["message"]
    assert deps.queue.messages == []


def test_store_whose_secret_lacks_its_platform_fields_gets_503(client, deps):
    add_platform_stores(deps)
    deps.secrets.secrets["secret/tiktok"] = {"webhook_secret": "whsec_wrong_shape"}
    raw, headers = signed_delivery("tiktok")
    response = client.http.post(platform_path("tiktok"), headers=headers, body=raw)
    assert response.status_code == 503 and "app_key" in response.json_body["message"]
    assert deps.queue.messages == []
