"""After-sales requests: each webhook platform's messages become requested / answered events
(channels/after_sales.py), the webhook path records them directly (nothing queued, repeats
change nothing), the anomaly scan opens `after_sales_unanswered` for a request unanswered
24 h (time-machine), and the daily job counts them for the chase rate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from app import app
from chalicelib.channels.after_sales import parse_after_sales
from chalicelib.channels.base import Delivery
from chalicelib.domain.after_sales import ANSWERED, REQUESTED, AfterSalesEvent
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import utc_now
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from tests.unit.test_channel_deliveries import STORE_ID, add_platform_stores, sign

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
T0_UNIX = int(T0.timestamp())
TIKTOK = Store("tiktok", STORE_ID, "secret/tiktok")
DOUYIN = Store("douyin", STORE_ID, "secret/douyin", "Asia/Shanghai")
SHOPIFY = Store("shopify", STORE_ID, "secret/shopify")
ORDER_ID = 4781320682406083640


def tiktok_reverse(status: Any, at: int = T0_UNIX, reverse_id: str = "4035512345") -> bytes:
    """A type 2 message (reverse order status change) as TikTok Shop sends it."""
    data = {
        "order_id": "576684019603311365",
        "reverse_order_id": reverse_id,
        "reverse_order_status": status,
        "reverse_event_type": "ORDER_RETURN",
        "update_time": at,
    }
    return json.dumps({"type": 2, "shop_id": "7494", "timestamp": at, "data": data}).encode()


def douyin_refund(tag: str, msg_id: str, **times: int) -> bytes:
    data = {"p_id": ORDER_ID, "s_id": ORDER_ID + 1, "shop_id": 4463798, "aftersale_id": 7, **times}
    return json.dumps([{"tag": tag, "msg_id": msg_id, "data": json.dumps(data)}]).encode()


def parsed(
    store: Store, raw: bytes, headers: dict[str, str] | None = None
) -> list[AfterSalesEvent]:
    return parse_after_sales(store.platform, Delivery.of(headers or {}, raw, T0), store)


# ---- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (1, REQUESTED),
        ("AFTERSALE_APPLYING", REQUESTED),
        (2, ANSWERED),
        (3, ANSWERED),
        (50, ANSWERED),
        ("CLOSED", ANSWERED),
        (100, ANSWERED),
    ],
)
def test_tiktok_reverse_statuses_map_to_requested_or_answered(status, kind):
    [found] = parsed(TIKTOK, tiktok_reverse(status))
    assert (found.kind, found.request_id, found.order_id) == (
        kind,
        "4035512345",
        "576684019603311365",
    )
    assert found.at == T0 and found.at_raw == str(T0_UNIX)
    assert found.order_key == f"tiktok#{STORE_ID}#576684019603311365"
    assert found.request_key == f"tiktok#{STORE_ID}#4035512345"
    assert found.event_key.startswith(f"tiktok#{STORE_ID}#7494:2:4035512345:")


@pytest.mark.parametrize("status", [4, "AFTERSALE_BUYER_SHIPPED", 77, None])
def test_tiktok_statuses_not_mapped_give_nothing(status):
    assert parsed(TIKTOK, tiktok_reverse(status)) == []


def test_tiktok_other_types_give_no_after_sales():
    raw = json.dumps({"type": 1, "shop_id": "7494", "data": {"order_id": "1"}}).encode()
    assert parsed(TIKTOK, raw) == []


@pytest.mark.parametrize(
    ("tag", "field", "kind"),
    [
        ("200", "apply_time", REQUESTED),
        ("201", "agree_time", ANSWERED),
        ("202", "agree_time", ANSWERED),
        ("204", "refuse_time", ANSWERED),
        ("205", "refuse_time", ANSWERED),
    ],
)
def test_douyin_refund_tags_map_to_requested_or_answered(tag, field, kind):
    [found] = parsed(DOUYIN, douyin_refund(tag, "m-1", **{field: T0_UNIX}))
    assert (found.kind, found.request_id, found.order_id) == (kind, "7", str(ORDER_ID))
    assert found.at == T0 and found.event_key == f"douyin#{STORE_ID}#m-1"
    assert found.detail == f"tag {tag}"


def test_douyin_other_tags_and_order_tags_give_no_after_sales():
    assert parsed(DOUYIN, douyin_refund("206", "m-2", success_time=T0_UNIX)) == []
    assert parsed(DOUYIN, douyin_refund("101", "m-3", pay_time=T0_UNIX)) == []
    assert parsed(DOUYIN, douyin_refund("200", "m-4")) == []  # no time: not guessed


def shopify_headers(topic: str, webhook_id: str = "wh-9") -> dict[str, str]:
    return {"X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id}


def test_shopify_return_topics_and_refunds():
    ret = json.dumps({"id": 55, "status": "REQUESTED", "order": {"id": 820982911946154508}})
    [requested] = parsed(SHOPIFY, ret.encode(), shopify_headers("returns/request"))
    assert (requested.kind, requested.request_id) == (REQUESTED, "return-55")
    assert requested.order_id == "820982911946154508" and requested.at == T0  # receipt time
    [approved] = parsed(SHOPIFY, b'{"id": 55}', shopify_headers("returns/approve"))
    assert (approved.kind, approved.request_key) == (ANSWERED, requested.request_key)
    [declined] = parsed(SHOPIFY, b'{"id": 55}', shopify_headers("returns/decline"))
    assert declined.kind == ANSWERED
    refund = {"id": 509562969, "order_id": 450789469, "created_at": "2026-11-25T03:00:00-05:00"}
    [refunded] = parsed(SHOPIFY, json.dumps(refund).encode(), shopify_headers("refunds/create"))
    assert (refunded.kind, refunded.request_id) == (ANSWERED, "refund-509562969")
    assert refunded.at == T0 and refunded.event_key == f"shopify#{STORE_ID}#wh-9"
    linked = {**refund, "return": {"id": 55}}
    [for_return] = parsed(SHOPIFY, json.dumps(linked).encode(), shopify_headers("refunds/create"))
    assert for_return.request_key == requested.request_key  # answers the return, counts once
    assert parsed(SHOPIFY, b'{"id": 1}', shopify_headers("orders/create")) == []


def test_platforms_without_after_sales_give_nothing():
    assert parse_after_sales("mall", Delivery.of({}, b"{}", T0), Store("mall", "s", "x")) == []


# ---- the webhook path, the scan, the KPI ----------------------------------------------------


@pytest.fixture
def clock(deps) -> Iterator[Any]:
    with time_machine.travel(T0, tick=False) as traveller:
        deps.now = utc_now
        yield traveller


def post(client, platform: str, raw: bytes, **headers: str):
    response = client.http.post(
        f"/webhooks/{platform}/{STORE_ID}", headers={**sign(platform, raw), **headers}, body=raw
    )
    assert response.status_code in (200, 202), response.body
    return response


def scan() -> dict[str, Any]:
    name = "scan_anomalies"
    return app.handler_map[name](scheduled_event(name, "us-east-1"), LocalLambdaContext(name))


def test_a_request_is_recorded_not_queued_and_a_repeat_changes_nothing(client, deps, clock):
    add_platform_stores(deps)
    post(client, "tiktok", tiktok_reverse(1))
    post(client, "tiktok", tiktok_reverse(1))  # redelivered
    assert deps.queue.messages == []
    assert [e.kind for e in deps.after_sales.recorded] == [REQUESTED, REQUESTED]
    subject = f"tiktok#{STORE_ID}#576684019603311365"
    assert deps.after_sales.requests == {subject: (T0, False)}


def test_unanswered_for_24_hours_opens_the_anomaly(client, deps, clock):
    add_platform_stores(deps)
    post(client, "tiktok", tiktok_reverse(1))
    clock.move_to(T0 + timedelta(hours=23, minutes=59))
    assert scan()["opened"] == []
    clock.move_to(T0 + timedelta(hours=24, minutes=1))
    assert scan()["opened"] == [f"after_sales_unanswered#tiktok#{STORE_ID}#576684019603311365"]


def test_an_answered_request_never_opens_it(client, deps, clock):
    add_platform_stores(deps)
    requested = douyin_refund("200", "m-10", apply_time=T0_UNIX)
    post(client, "douyin", requested)
    clock.move_to(T0 + timedelta(hours=3))
    post(client, "douyin", douyin_refund("201", "m-11", agree_time=T0_UNIX + 3 * 3600))
    post(client, "douyin", requested)  # a late repeat of the request does not reopen it
    assert deps.after_sales.requests[f"douyin#{STORE_ID}#{ORDER_ID}"] == (T0, True)
    clock.move_to(T0 + timedelta(hours=30))
    assert scan()["opened"] == []


def test_shopify_return_request_then_decline(client, deps, clock):
    add_platform_stores(deps)
    ret = json.dumps({"id": 55, "order": {"id": 820982911946154508}}).encode()
    post(client, "shopify", ret, **{"X-Shopify-Topic": "returns/request"})
    post(client, "shopify", b'{"id": 55}', **{"X-Shopify-Topic": "returns/decline"})
    assert [e.kind for e in deps.after_sales.recorded] == [REQUESTED, ANSWERED]
    assert deps.queue.messages == []
