"""After-sales from the platforms channels/after_sales.py did not cover: the own shop's refund
events, WooCommerce refunds, BigCommerce refund callbacks, Taobao/Tmall TMC refund messages,
Amazon cancellation requests, and Pinduoduo's and JD's after-sales lists pulled window by
window; each into the same record, so `after_sales_unanswered` (time travel) covers them."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import app
from chalicelib.channels.after_sales import parse_after_sales
from chalicelib.channels.after_sales_platforms import amazon_after_sales, taobao_after_sales
from chalicelib.channels.after_sales_pull import (
    jd_after_sales_request,
    parse_jd_after_sales,
    parse_pdd_after_sales,
    pdd_after_sales_request,
)
from chalicelib.channels.base import Delivery
from chalicelib.channels.pull import PullCredentials
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from chalicelib.domain.after_sales import ANSWERED, REQUESTED, poll_after_sales
from chalicelib.domain.polling import PlatformCredentialsRejected, Window, WindowPolicy
from chalicelib.domain.ports import Store
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from tests.anomaly_fakes import FakeAfterSales
from tests.conftest import fixture_json
from tests.unit.test_http_api import SECRET
from tests.unit.test_polling_cursors import FakeCursors

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
MALL = Store("mall", "demo-shop", "secret/demo")
WOO = Store("woocommerce", "s1", "x")
BC = Store("bigcommerce", "s1", "x")
TAOBAO = Store("taobao", "s1", "x", "Asia/Shanghai")
AMAZON = Store("amazon", "A3TH9S8BH6GOGM", "x")
PDD = Store("pinduoduo", "s1", "x", "Asia/Shanghai")
JD = Store("jd", "s1", "x", "Asia/Shanghai")
CREDENTIALS = PullCredentials(app_key="k", app_secret="s", session="t")


def delivery(raw: bytes, **headers: str) -> Delivery:
    return Delivery.of(headers, raw, T0)


def mall_refund(kind: str, refund_id: str = "r-1", at: str = "2026-11-25T16:00:00+08:00") -> bytes:
    data = {"order_id": "o-1", "refund_id": refund_id, "updated_at": at, "reason": "size"}
    return json.dumps({"type": kind, "timestamp": at, "data": data}).encode()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("refund.requested", REQUESTED),
        ("refund.approved", ANSWERED),
        ("refund.rejected", ANSWERED),
        ("refund.refunded", ANSWERED),
    ],
)
def test_own_shop_refund_events(kind, expected):
    [found] = parse_after_sales("mall", delivery(mall_refund(kind), **{"webhook-id": "w1"}), MALL)
    assert (found.kind, found.request_key, found.order_key, found.at) == (
        expected,
        "mall#demo-shop#r-1",
        "mall#demo-shop#o-1",
        T0,
    )
    assert found.event_key == "mall#demo-shop#w1"


def test_woocommerce_refunds_listed_on_the_order_are_answers():
    order = fixture_json("woocommerce/order_wc_v3_retrieve_example.json")
    assert parse_after_sales("woocommerce", delivery(json.dumps(order).encode()), WOO) == []
    order["refunds"] = [{"id": 726, "reason": "", "total": "-10.00"}]
    raw = json.dumps(order).encode()
    [found] = parse_after_sales(
        "woocommerce", delivery(raw, **{"x-wc-webhook-topic": "order.updated"}), WOO
    )
    assert (found.kind, found.request_id, found.order_id) == (
        ANSWERED,
        "refund-726",
        str(order["id"]),
    )
    assert found.at_raw == order["date_modified_gmt"]


def test_bigcommerce_refund_callbacks_are_answers():
    hook = {
        "scope": "store/order/refund/created",
        "store_id": "1025646",
        "data": {"type": "order", "id": 250, "refund": {"refund_id": 4}},
        "hash": "x",
        "created_at": int(T0.timestamp()),
        "producer": "stores/abc",
    }
    [found] = parse_after_sales(
        "bigcommerce", delivery(json.dumps(hook).encode(), **{"webhook-id": "bc-1"}), BC
    )
    assert (found.kind, found.request_id, found.order_id, found.at) == (
        ANSWERED,
        "refund-4",
        "250",
        T0,
    )
    hook["scope"] = "store/order/updated"
    assert parse_after_sales("bigcommerce", delivery(json.dumps(hook).encode()), BC) == []


def test_taobao_refund_topics():
    content = {
        "refund_id": "70201",
        "tid": "2231958349",
        "oid": "2231958349",
        "modified": "2026-11-25 16:00:00",
    }
    [created] = taobao_after_sales("m1", "taobao_refund_RefundCreated", content, "", TAOBAO)
    assert (created.kind, created.at, created.event_key) == (REQUESTED, T0, "taobao#s1#tmc:m1")
    [agreed] = taobao_after_sales(
        "m2", "taobao_refund_RefundSellerAgreeAgreement", content, "", TAOBAO
    )
    assert agreed.kind == ANSWERED
    assert taobao_after_sales("m3", "taobao_trade_TradeCreate", content, "", TAOBAO) == []
    assert (
        taobao_after_sales("m4", "taobao_refund_RefundBuyerModifyAgreement", content, "", TAOBAO)
        == []
    )


def test_amazon_cancellation_request_and_its_answer():
    example = fixture_json("amazon/OrderChangeNotification_example0.json")
    [request] = amazon_after_sales(json.dumps(example), AMAZON)
    assert (request.kind, request.request_id, request.order_id) == (
        REQUESTED,
        "cancel-903-8868176-2219830",
        "903-8868176-2219830",
    )
    assert request.at == datetime(2022, 11, 29, 19, 42, 4, 284000, tzinfo=UTC)
    cancelled = copy.deepcopy(example)
    change = cancelled["Payload"]["OrderChangeNotification"]
    change["OrderChangeType"] = "OrderStatusChange"
    change["Summary"]["OrderStatus"] = "Canceled"
    [answer] = amazon_after_sales(json.dumps(cancelled), AMAZON)
    assert (answer.kind, answer.request_id) == (ANSWERED, request.request_id)
    plain = copy.deepcopy(cancelled)
    for item in plain["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"]:
        item["IsBuyerRequestedCancel"] = False
    assert amazon_after_sales(json.dumps(plain), AMAZON) == []


def pdd_page(rows: list[dict[str, Any]], total: int | None = None) -> dict[str, Any]:
    return {
        "refund_increment_get_response": {"total_count": total or len(rows), "refund_list": rows}
    }


def test_pinduoduo_after_sales_rows():
    rows = [
        {
            "id": 901,
            "order_sn": "231125-1",
            "after_sales_status": 2,
            "created_time": "2026-11-25 16:00:00",
            "updated_time": "2026-11-25 16:00:00",
        },
        {
            "id": 902,
            "order_sn": "231125-2",
            "after_sales_status": 10,
            "created_time": "2026-11-24 10:00:00",
            "updated_time": "2026-11-25 16:30:00",
        },
    ]
    page = parse_pdd_after_sales(pdd_page(rows), PDD)
    assert [(e.request_id, e.kind) for e in page.events] == [("901", REQUESTED), ("902", ANSWERED)]
    assert page.events[0].at == T0
    assert page.events[1].at == T0 + timedelta(minutes=30)
    with pytest.raises(PlatformCredentialsRejected):
        parse_pdd_after_sales(
            {"error_response": {"error_code": 10019, "error_msg": "access_token已过期"}}, PDD
        )
    window = Window(T0, T0 + timedelta(minutes=30))
    request = pdd_after_sales_request(window, 2, CREDENTIALS, T0)
    assert (request["type"], request["page"], request["start_updated_at"]) == (
        "pdd.refund.list.increment.get",
        "2",
        str(int(T0.timestamp())),
    )
    assert len(request["sign"]) == 32


def jd_page(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "jingdong_pop_afs_soa_refundapply_queryPageList_responce": {
            "queryResult": {"success": True, "totalCount": len(rows), "result": rows}
        }
    }


def test_jd_refund_apply_rows():
    rows = [
        {"id": 11, "orderId": 8001, "status": 0, "applyTime": "2026-11-25 16:00:00"},
        {
            "id": 12,
            "orderId": 8002,
            "status": 1,
            "applyTime": "2026-11-24 16:00:00",
            "checkTime": "2026-11-25 16:00:00",
        },
    ]
    page = parse_jd_after_sales(jd_page(rows), JD)
    assert [(e.request_id, e.order_id, e.kind, e.at) for e in page.events] == [
        ("11", "8001", REQUESTED, T0),
        ("12", "8002", ANSWERED, T0),
    ]
    params = jd_after_sales_request(
        Window(T0, T0 + timedelta(minutes=5)), 1, "check", CREDENTIALS, T0
    )
    assert json.loads(params["360buy_param_json"])["checkTimeStart"] == "2026-11-25 16:00:00"


class PlantedPages:
    """An after-sales list a test fills: rows by the window they fall in."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.windows: list[Window] = []

    def pages(self, window: Window) -> list[list[Any]]:
        self.windows.append(window)
        return [[e for e in self.rows if window.start <= e.at < window.end]]


def test_pulled_requests_wait_then_open_after_sales_unanswered(deps):
    source, log, cursors = PlantedPages(), FakeAfterSales(), FakeCursors()
    policy = WindowPolicy(settle_lag=timedelta(minutes=3))
    rows = [
        {
            "id": 901,
            "order_sn": "o-9",
            "after_sales_status": 2,
            "created_time": "2026-11-25 16:10:00",
        },
    ]
    source.rows = list(parse_pdd_after_sales(pdd_page(rows), PDD).events)
    first = poll_after_sales(
        "pinduoduo#s1#after_sales", cursors, source, log, T0 + timedelta(minutes=20), policy
    )
    assert first["recorded"] == 1
    again = poll_after_sales(
        "pinduoduo#s1#after_sales", cursors, source, log, T0 + timedelta(minutes=40), policy
    )
    assert again["recorded"] == 0  # the overlap re-reads nothing new
    waiting = log.unanswered(T0 + timedelta(hours=25))
    assert [w.subject for w in waiting] == ["pinduoduo#s1#o-9"]


def job(name: str) -> dict[str, Any]:
    return app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))


def post_mall(client, deps, raw: bytes, msg_id: str):
    headers = {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(deps.now().timestamp())),
        "webhook-signature": sign_standard_webhook(SECRET, msg_id, deps.now(), raw),
    }
    return client.http.post("/webhooks/mall/demo-shop", headers=headers, body=raw)


def test_own_shop_refund_request_waits_24_hours_then_opens_the_anomaly(client, deps):
    response = post_mall(client, deps, mall_refund("refund.requested"), "w-req")
    assert response.status_code == 202, response.body
    assert deps.queue.messages == []  # nothing for booking
    deps.now.advance(hours=23, minutes=59)
    assert job("scan_anomalies")["opened"] == []
    deps.now.advance(minutes=2)
    assert "after_sales_unanswered#mall#demo-shop#o-1" in job("scan_anomalies")["opened"]


def test_own_shop_answer_clears_the_wait(client, deps):
    post_mall(client, deps, mall_refund("refund.requested"), "w-req")
    deps.now.advance(hours=2)
    answered = mall_refund("refund.approved", at="2026-11-25T18:00:00+08:00")
    assert post_mall(client, deps, answered, "w-ans").status_code == 202
    deps.now.advance(hours=30)
    assert job("scan_anomalies")["opened"] == []


def test_malformed_own_shop_refunds_are_refused_naming_the_field(client, deps):
    raw = json.dumps(
        {
            "type": "refund.requested",
            "timestamp": "2026-11-25T16:00:00+08:00",
            "data": {"order_id": "o-1"},
        }
    ).encode()
    response = post_mall(client, deps, raw, "w-bad")
    assert response.status_code == 400
    assert "refund_id" in response.json_body["message"]


def test_the_request_and_its_answer_are_in_the_orders_timeline(client, deps):
    from tests.builders import body, mall_payload
    from tests.unit.test_order_timeline import process_queued, role_key

    raw = body(mall_payload(status="paid"))
    assert post_mall(client, deps, raw, "w-order").status_code == 202
    process_queued(client, deps)
    post_mall(client, deps, mall_refund("refund.requested"), "w-req")
    answered = mall_refund("refund.rejected", at="2026-11-25T18:00:00+08:00")
    post_mall(client, deps, answered, "w-ans")
    headers = {"Authorization": f"Bearer {role_key(deps, 'cs')}"}
    view = client.http.get("/orders/mall/demo-shop/o-1/timeline", headers=headers).json_body
    found = [
        (e["details"]["event"], e["at"]) for e in view["entries"] if e["kind"] == "after_sales"
    ]
    assert found == [
        ("requested", "2026-11-25T08:00:00+00:00"),
        ("answered", "2026-11-25T10:00:00+00:00"),
    ]


def test_pinduoduo_documented_answer_reads_as_an_answered_request():
    page = parse_pdd_after_sales(fixture_json("pinduoduo/refund_increment_get_example.json"), PDD)
    [event] = page.events
    assert (event.request_id, event.order_id, event.kind, page.total) == (
        "301851299",
        "180410-416081954561509",
        ANSWERED,  # 10 退款成功
        1,
    )
    assert event.at == datetime(2018, 4, 10, 9, 18, 3, tzinfo=UTC)  # 17:18:03 Beijing
