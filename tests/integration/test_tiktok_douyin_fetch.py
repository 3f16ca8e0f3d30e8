"""TikTok Shop's and Douyin's order-API adapters against the stub platform over loopback (signed
calls the stub verifies; answers, refusals and failures mapped to domain errors), and the
processor's path on moto: a thin TikTok webhook event and a thin Douyin push message are
fetched from the stub and booked with their lines, once."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import requests
from chalice.test import Client

from app import app
from chalicelib.adapters.platform_api import DouyinOrderApi, TikTokOrderApi
from chalicelib.api.processor import handle_order_message
from chalicelib.channels.douyin_signature import sign_douyin
from chalicelib.channels.tiktok_signature import sign_tiktok
from chalicelib.channels.webhook import accept_webhook
from chalicelib.deps import Container, use_container
from chalicelib.domain.details import OrderDetailsUnavailable, OrderNotOnPlatform
from chalicelib.domain.model import Booking, Buyer, OrderLine, Outcome, PlatformStatus
from chalicelib.domain.ports import Store, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.timeutil import utc_now
from local.stub_platform import StubPlatform
from tests.fakes import FakeSecrets

TT_SECRET_NAME = "orderhub/stores/tiktok/tt-it"
TT_STORE = Store("tiktok", "tt-it", TT_SECRET_NAME, "UTC")
TT_CREDENTIALS = {
    "app_key": "tt_it_app_key",
    "app_secret": "tt_it_app_secret",
    "access_token": "ROW_tt_it_access_token",
    "shop_cipher": "ROW_tt_it_cipher",
    "shop_id": "7494726673780148744",
}
TT_ORDER = "576684019603311365"

DY_SECRET_NAME = "orderhub/stores/douyin/dy-it"
DY_STORE = Store("douyin", "dy-it", DY_SECRET_NAME, "Asia/Shanghai")
DY_CREDENTIALS = {
    "app_key": "7000000000000000099",
    "app_secret": "dy_it_app_secret",
    "access_token": "dy_it_access_token",
    "shop_id": "4463798",
}
DY_ORDER = "4781320682406083640"


def tiktok_order(order_id: str = TT_ORDER, status: str = "AWAITING_SHIPMENT") -> dict[str, Any]:
    return {
        "id": order_id,
        "status": status,
        "update_time": 1795593660,
        "payment": {"currency": "USD", "total_amount": "30.70"},
        "line_items": [
            {"id": "a", "sku_id": "1729", "seller_sku": "SKU-A", "sale_price": "12.10"},
            {"id": "b", "sku_id": "1729", "seller_sku": "SKU-A", "sale_price": "12.10"},
            {"id": "c", "sku_id": "1730", "seller_sku": "SKU-B", "sale_price": "6.50"},
        ],
        "recipient_address": {"name": "Jane Doe", "phone_number": "", "full_address": "1 Main St"},
    }


def douyin_order(order_id: str = DY_ORDER, status: int = 105) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "order_status": status,
        "update_time": 1795593660,
        "pay_amount": 8800,
        "sku_order_list": [
            {"sku_id": 11, "code": "SKU-A", "item_num": 2, "origin_amount": 2900},
            {"sku_id": 12, "code": "SKU-B", "item_num": 1, "origin_amount": 3000},
        ],
        "post_receiver": "张三",
        "post_tel": "",
        "post_addr": {"province": {"name": "上海市"}, "detail": "漕溪北路1号"},
    }


@pytest.fixture
def stub() -> Iterator[StubPlatform]:
    running = StubPlatform(port=0).start()
    yield running
    running.stop()


def seed_tiktok(stub: StubPlatform, order: dict[str, Any], **credentials: str) -> None:
    """Through the stub's own HTTP seeding endpoint, as tests and developers use it."""
    body: dict[str, Any] = {**TT_CREDENTIALS, **credentials, "order": order}
    response = requests.post(f"{stub.url}/_stub/tiktok/orders", json=body, timeout=5)
    assert response.status_code == 201, response.text


def seed_douyin(stub: StubPlatform, order: dict[str, Any], **credentials: str) -> None:
    body: dict[str, Any] = {**DY_CREDENTIALS, **credentials, "order": order}
    response = requests.post(f"{stub.url}/_stub/douyin/orders", json=body, timeout=5)
    assert response.status_code == 201, response.text


def tiktok_api(url: str, timeout: float = 5.0, now: Any = utc_now, **secret: Any) -> TikTokOrderApi:
    secrets = FakeSecrets({TT_SECRET_NAME: {**TT_CREDENTIALS, **secret}})
    return TikTokOrderApi(secrets, url, timeout=timeout, now=now)


def douyin_api(url: str, timeout: float = 5.0, now: Any = utc_now, **secret: Any) -> DouyinOrderApi:
    secrets = FakeSecrets({DY_SECRET_NAME: {**DY_CREDENTIALS, **secret}})
    return DouyinOrderApi(secrets, url, timeout=timeout, now=now)


def silent_port() -> tuple[socket.socket, int]:
    """A socket that accepts connections (backlog) and never answers."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    return silent, int(silent.getsockname()[1])


# ---- TikTok over loopback --------------------------------------------------------------------


def test_tiktok_fetch_reads_the_order(stub):
    seed_tiktok(stub, tiktok_order())
    details = tiktok_api(stub.url).fetch(TT_STORE, TT_ORDER)
    assert details.status is PlatformStatus.PAID
    assert details.updated_at == datetime.fromtimestamp(1795593660, UTC)
    assert details.updated_at_raw == "1795593660"
    assert details.currency == "USD"
    assert details.lines == (
        OrderLine("SKU-A", 2, Decimal("12.10")),
        OrderLine("SKU-B", 1, Decimal("6.50")),
    )
    assert details.buyer == Buyer("Jane Doe", "", "1 Main St")
    assert stub.tiktok.requests == [f"/order/202309/orders?ids={TT_ORDER}"]


def test_tiktok_order_not_listed_is_not_on_the_platform(stub):
    seed_tiktok(stub, tiktok_order())
    with pytest.raises(OrderNotOnPlatform, match="order 999 does not exist"):
        tiktok_api(stub.url).fetch(TT_STORE, "999")


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ({"access_token": "ROW_stale_token"}, "access token is invalid"),
        ({"app_secret": "not-the-app-secret"}, "Invalid sign"),
        ({"app_key": "another_app"}, "app_key is not a known app"),
    ],
)
def test_tiktok_refused_credentials_name_the_fields_never_the_token(stub, wrong, said):
    seed_tiktok(stub, tiktok_order())
    with pytest.raises(OrderDetailsUnavailable) as caught:
        tiktok_api(stub.url, **wrong).fetch(TT_STORE, TT_ORDER)
    message = caught.value.message
    assert said in message and TT_SECRET_NAME in message and "access_token" in message
    for value in (*wrong.values(), TT_CREDENTIALS["access_token"], TT_CREDENTIALS["app_secret"]):
        if value != wrong.get("app_key"):
            assert value not in message


def test_tiktok_signs_with_the_newest_secret_during_a_rotation(stub):
    seed_tiktok(stub, tiktok_order(), app_secret="rotated-new-secret")
    rotation = {
        "previous": {"app_secret": TT_CREDENTIALS["app_secret"]},
        "until": (utc_now() + timedelta(hours=1)).isoformat(),
    }
    api = tiktok_api(stub.url, app_secret="rotated-new-secret", rotation=rotation)
    assert api.fetch(TT_STORE, TT_ORDER).lines


def test_tiktok_call_stamped_far_from_now_is_refused(stub):
    seed_tiktok(stub, tiktok_order())
    late = tiktok_api(stub.url, now=lambda: utc_now() - timedelta(hours=1))
    with pytest.raises(OrderDetailsUnavailable, match="10 minutes"):
        late.fetch(TT_STORE, TT_ORDER)


@pytest.mark.parametrize(("status", "said"), [(503, "503"), (500, "500"), (429, "rate-limited")])
def test_tiktok_server_errors_and_rate_limits_are_transient(stub, status, said):
    seed_tiktok(stub, tiktok_order())
    stub.tiktok.fail(status, 1)
    with pytest.raises(OrderDetailsUnavailable, match=said):
        tiktok_api(stub.url).fetch(TT_STORE, TT_ORDER)
    assert tiktok_api(stub.url).fetch(TT_STORE, TT_ORDER).lines  # the next try works


def test_tiktok_http_401_and_fail_mode_over_http(stub):
    seed_tiktok(stub, tiktok_order())
    requests.post(f"{stub.url}/_stub/tiktok/fail", json={"status": 401}, timeout=5)
    with pytest.raises(OrderDetailsUnavailable, match=r"refused OrderHub's credentials \(401"):
        tiktok_api(stub.url).fetch(TT_STORE, TT_ORDER)
    requests.post(f"{stub.url}/_stub/tiktok/fail", json={"count": 0}, timeout=5)
    assert tiktok_api(stub.url).fetch(TT_STORE, TT_ORDER).lines


def test_tiktok_wrong_base_url_is_transient_and_says_so(stub):
    with pytest.raises(OrderDetailsUnavailable, match="ORDERHUB_TIKTOK_API_URL"):
        tiktok_api(f"{stub.url}/nothing-here").fetch(TT_STORE, TT_ORDER)


def test_tiktok_unreadable_answer_names_the_field(stub):
    seed_tiktok(stub, tiktok_order(status="LOST"))
    with pytest.raises(OrderDetailsUnavailable, match=r"\$\.data\.orders\[0\]\.status"):
        tiktok_api(stub.url).fetch(TT_STORE, TT_ORDER)


def test_tiktok_missing_secret_fields_are_named(stub):
    secrets = FakeSecrets({TT_SECRET_NAME: {"app_key": "k", "app_secret": "s"}})
    with pytest.raises(OrderDetailsUnavailable, match="access_token, shop_cipher"):
        TikTokOrderApi(secrets, stub.url).fetch(TT_STORE, TT_ORDER)


# ---- Douyin over loopback --------------------------------------------------------------------


def test_douyin_fetch_reads_the_order(stub):
    seed_douyin(stub, douyin_order())
    details = douyin_api(stub.url).fetch(DY_STORE, DY_ORDER)
    assert details.status is PlatformStatus.PAID
    assert details.updated_at == datetime.fromtimestamp(1795593660, UTC)
    assert details.currency == "CNY"
    assert details.lines == (
        OrderLine("SKU-A", 2, Decimal("29.00")),
        OrderLine("SKU-B", 1, Decimal("30.00")),
    )
    assert details.buyer == Buyer("张三", "", "上海市 漕溪北路1号")
    assert stub.douyin.requests == ["/order/orderDetail"]


def test_douyin_no_such_order_is_not_on_the_platform(stub):
    seed_douyin(stub, douyin_order())
    with pytest.raises(OrderNotOnPlatform, match="order 123 does not exist on Douyin"):
        douyin_api(stub.url).fetch(DY_STORE, "123")


@pytest.mark.parametrize(
    ("wrong", "said"),
    [
        ({"access_token": "stale-douyin-token"}, "isv.access-token-invalid"),
        ({"app_secret": "not-the-app-secret"}, "isv.sign-invalid"),
    ],
)
def test_douyin_refused_credentials_name_the_fields_never_the_token(stub, wrong, said):
    seed_douyin(stub, douyin_order())
    with pytest.raises(OrderDetailsUnavailable) as caught:
        douyin_api(stub.url, **wrong).fetch(DY_STORE, DY_ORDER)
    message = caught.value.message
    assert said in message and DY_SECRET_NAME in message and "access_token" in message
    for value in (*wrong.values(), DY_CREDENTIALS["access_token"], DY_CREDENTIALS["app_secret"]):
        assert value not in message


def test_douyin_call_stamped_far_from_now_is_refused(stub):
    seed_douyin(stub, douyin_order())
    early = douyin_api(stub.url, now=lambda: utc_now() + timedelta(minutes=30))
    with pytest.raises(OrderDetailsUnavailable, match="10"):
        early.fetch(DY_STORE, DY_ORDER)


@pytest.mark.parametrize(("status", "said"), [(503, "503"), (502, "502"), (429, "rate-limited")])
def test_douyin_server_errors_and_rate_limits_are_transient(stub, status, said):
    seed_douyin(stub, douyin_order())
    stub.douyin.fail(status, 1)
    with pytest.raises(OrderDetailsUnavailable, match=said):
        douyin_api(stub.url).fetch(DY_STORE, DY_ORDER)
    assert douyin_api(stub.url).fetch(DY_STORE, DY_ORDER).lines


def test_douyin_unreadable_answer_names_the_field(stub):
    seed_douyin(stub, douyin_order(status=21))
    with pytest.raises(OrderDetailsUnavailable, match=r"shop_order_detail\.order_status 21"):
        douyin_api(stub.url).fetch(DY_STORE, DY_ORDER)


def test_timeouts_and_refused_connections_are_transient():
    silent, port = silent_port()
    with silent:
        for api in (
            tiktok_api(f"http://127.0.0.1:{port}", timeout=0.3),
            douyin_api(f"http://127.0.0.1:{port}", timeout=0.3),
        ):
            store = TT_STORE if isinstance(api, TikTokOrderApi) else DY_STORE
            order = TT_ORDER if store is TT_STORE else DY_ORDER
            with pytest.raises(OrderDetailsUnavailable, match="unreachable"):
                api.fetch(store, order)
    with pytest.raises(OrderDetailsUnavailable, match="unreachable"):
        douyin_api(f"http://127.0.0.1:{port}", timeout=0.3).fetch(DY_STORE, DY_ORDER)


# ---- the processor's path on moto ------------------------------------------------------------


@pytest.fixture
def deps(stack_env: dict[str, str], stub: StubPlatform) -> Iterator[Container]:
    environ = {
        **stack_env,
        "ORDERHUB_TIKTOK_API_URL": stub.url,
        "ORDERHUB_DOUYIN_API_URL": stub.url,
    }
    built = Container(environ=environ)  # the real clock: the stub checks call timestamps
    for name, secret, store in (
        (TT_SECRET_NAME, TT_CREDENTIALS, TT_STORE),
        (DY_SECRET_NAME, DY_CREDENTIALS, DY_STORE),
    ):
        built._client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(secret))
        built.catalog_store.put_store(store)
    built.catalog_store.put_warehouse(Warehouse("w1", "east", 1))
    for sku in ("SKU-A", "SKU-B"):
        adjust_stock(
            Adjustment(f"r-{sku}", sku, "w1", "receipt", 5, "opening"), built.orders, built.now
        )
    yield built
    use_container(None)


def take_message(deps: Container) -> str:
    (message,) = deps.sqs.receive_message(
        QueueUrl=deps.settings.order_queue_url, MaxNumberOfMessages=1
    )["Messages"]
    deps.sqs.delete_message(
        QueueUrl=deps.settings.order_queue_url, ReceiptHandle=message["ReceiptHandle"]
    )
    assert json.loads(message["Body"])["event"]["complete"] is False
    return str(message["Body"])


def post_tiktok_hook(deps: Container, order_id: str, status: str = "AWAITING_SHIPMENT") -> str:
    """Accept a signed TikTok order status change; returns the queued message's body."""
    now = utc_now()
    raw = json.dumps(
        {
            "type": 1,
            "shop_id": TT_CREDENTIALS["shop_id"],
            "timestamp": int(now.timestamp()),
            "data": {
                "order_id": order_id,
                "order_status": status,
                "update_time": int(now.timestamp()),
            },
        }
    ).encode()
    headers = {
        "Authorization": sign_tiktok(TT_CREDENTIALS["app_key"], TT_CREDENTIALS["app_secret"], raw)
    }
    accepted = accept_webhook(
        "tiktok",
        "tt-it",
        headers,
        raw,
        deps.catalog,
        deps.secrets,
        deps.queue,
        now,
        vault=deps.personal_data,
    )
    assert len(accepted.event_keys) == 1
    return take_message(deps)


def post_douyin_push(deps: Container, order_id: str, msg_id: str) -> str:
    now = utc_now()
    data = {
        "p_id": int(order_id),
        "shop_id": int(DY_CREDENTIALS["shop_id"]),
        "order_status": 2,
        "pay_time": int(now.timestamp()),
        "pay_amount": 8800,
    }
    raw = json.dumps([{"tag": "101", "msg_id": msg_id, "data": json.dumps(data)}]).encode()
    headers = {
        "app-id": DY_CREDENTIALS["app_key"],
        "event-sign": sign_douyin(DY_CREDENTIALS["app_key"], DY_CREDENTIALS["app_secret"], raw),
    }
    accepted = accept_webhook(
        "douyin",
        "dy-it",
        headers,
        raw,
        deps.catalog,
        deps.secrets,
        deps.queue,
        now,
        vault=deps.personal_data,
    )
    assert accepted.event_keys == (f"douyin#dy-it#{msg_id}",)
    return take_message(deps)


def locked(deps: Container) -> tuple[int, int]:
    stock = deps.orders.get_stock(["SKU-A", "SKU-B"])
    return stock[("SKU-A", "w1")].locked, stock[("SKU-B", "w1")].locked


def test_thin_tiktok_event_is_fetched_then_booked_with_its_lines_once(deps, stub):
    seed_tiktok(stub, tiktok_order())
    body = post_tiktok_hook(deps, TT_ORDER)
    assert handle_order_message(body, deps).outcome is Outcome.BOOKED
    order = deps.orders.get_order(f"tiktok#tt-it#{TT_ORDER}")
    assert order is not None
    assert order.booking is Booking.LOCKED and order.status is PlatformStatus.PAID
    assert order.lines == (
        OrderLine("SKU-A", 2, Decimal("12.10")),
        OrderLine("SKU-B", 1, Decimal("6.50")),
    )
    assert order.updated_at_raw == "1795593660"
    assert locked(deps) == (2, 1)
    # redelivered: fetched again, books nothing
    assert handle_order_message(body, deps).outcome is Outcome.DUPLICATE
    again = deps.orders.get_order(f"tiktok#tt-it#{TT_ORDER}")
    assert again is not None and again.version == order.version
    assert locked(deps) == (2, 1)


def test_thin_douyin_event_is_fetched_then_booked_with_its_lines_once(deps, stub):
    seed_douyin(stub, douyin_order())
    body = post_douyin_push(deps, DY_ORDER, "7093726437652694568")
    assert handle_order_message(body, deps).outcome is Outcome.BOOKED
    order = deps.orders.get_order(f"douyin#dy-it#{DY_ORDER}")
    assert order is not None
    assert order.booking is Booking.LOCKED and order.status is PlatformStatus.PAID
    assert order.currency == "CNY"
    assert order.lines == (
        OrderLine("SKU-A", 2, Decimal("29.00")),
        OrderLine("SKU-B", 1, Decimal("30.00")),
    )
    assert locked(deps) == (2, 1)
    assert handle_order_message(body, deps).outcome is Outcome.DUPLICATE
    assert locked(deps) == (2, 1)


def invoke(deps: Container, body: str, message_id: str) -> dict[str, Any]:
    use_container(deps)
    with Client(app) as client:
        event = client.events.generate_sqs_event(message_bodies=[body])
        event["Records"][0]["messageId"] = message_id
        return dict(client.lambda_.invoke("handle_order_events", event).payload)


def test_tiktok_order_the_platform_does_not_have_is_rejected_with_its_reason(deps, stub):
    seed_tiktok(stub, tiktok_order())  # the shop is known to the stub; this order is not
    body = post_tiktok_hook(deps, "404404")
    assert invoke(deps, body, "m-404") == {"batchItemFailures": []}
    key = json.loads(body)["event"]["event_key"]
    record = deps.orders.get_event_outcome(key)
    assert record is not None and record["outcome"] == "rejected_invalid"
    assert "order 404404 does not exist" in record["reason"]
    assert deps.orders.get_order("tiktok#tt-it#404404") is None


def test_douyin_api_down_leaves_the_message_for_a_retry(deps, stub):
    seed_douyin(stub, douyin_order())
    stub.douyin.fail(503, None)
    body = post_douyin_push(deps, DY_ORDER, "7093726437652694999")
    assert invoke(deps, body, "m-503") == {"batchItemFailures": [{"itemIdentifier": "m-503"}]}
    assert deps.orders.get_event_outcome("douyin#dy-it#7093726437652694999") is None
    assert deps.orders.get_order(f"douyin#dy-it#{DY_ORDER}") is None
    stub.douyin.fail(503, 0)
    assert handle_order_message(body, deps).outcome is Outcome.BOOKED  # SQS's next delivery
