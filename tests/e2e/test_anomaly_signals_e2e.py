"""End to end on the local stack: what the anomaly engine now sees.

- A parcel shipped with a tracking number is subscribed with the stub 快递100; the stub pushes
  a track whose last checkpoint is 50 h old and then falls silent: `logistics_stalled` opens,
  and the timeline shows the track. A parcel with fresh AfterShip news does not stall.
- A pick list is posted for one of two orders paid 7 h ago: `paid_not_picked` opens for the
  other only; a note by customer service is scrubbed and shown with its author.
- An after-sales message from each platform's stub (own shop, WooCommerce, BigCommerce,
  Taobao TMC, Pinduoduo, JD, Amazon) lands in the same record and the order's timeline;
  requests left unanswered 24 h open `after_sales_unanswered`, answered ones do not.
"""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib.channels.bigcommerce import raw_secret_key
from chalicelib.channels.body_hmac import sign_body_hmac
from chalicelib.channels.standard_webhooks import sign_standard_webhook
from tests.builders import mall_payload
from tests.conftest import fixture_json
from tests.e2e.conftest import SEED
from tests.e2e.test_amazon_e2e import seed_order

pytestmark = pytest.mark.e2e

SKU = "TEA-LONGJING-250G"
LINES = [{"sku": SKU, "quantity": 1, "unit_price": "88.00"}]
KEYS = {k["role"]: k["key"] for k in SEED["api_keys"]}
STORES = {s["platform"]: s for s in SEED["stores"] if s["platform"] != "mall"}
STAMP = int(time.time())


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def beijing(moment: datetime) -> str:
    return (moment + timedelta(hours=8)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def state(stack) -> dict[str, Any]:
    return dict(json.loads(stack.state_file.read_text()))


def call(stack, method: str, path: str, role: str = "admin", body: Any = None):
    headers = {"Authorization": f"Bearer {KEYS[role]}"}
    return requests.request(method, f"{stack.api}{path}", json=body, headers=headers, timeout=15)


def timeline(stack, platform: str, store: str, order_id: str) -> dict[str, Any]:
    response = call(stack, "GET", f"/orders/{platform}/{store}/{order_id}/timeline", "cs")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_until(check, what: str, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s")
        time.sleep(0.5)


def kinds(view: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in view["entries"] if e["kind"] == kind]


def book_mall(stack, order_id: str, paid_at: datetime) -> None:
    payload = mall_payload(order_id, status="paid", updated_at=iso(paid_at), lines=LINES)
    assert stack.post_order(payload, f"msg-{order_id}").status_code == 202
    stack.wait_for_order(order_id)


def test_a_track_that_stops_opens_logistics_stalled(stack):
    now = datetime.now(UTC)
    stalled_id, moving_id = f"E2E-TRACK-{STAMP}", f"E2E-TRACK-OK-{STAMP}"
    for order_id in (stalled_id, moving_id):
        book_mall(stack, order_id, now)
    for order_id, tracking in (
        (stalled_id, {"carrier": "yuantong", "number": f"YT{STAMP}"}),
        (moving_id, {"carrier": "ups", "number": f"1Z{STAMP}"}),
    ):
        shipped = call(
            stack,
            "POST",
            "/wms/outbound-confirmations",
            "warehouse",
            {
                "confirmation_id": f"c-{order_id}",
                "platform": "mall",
                "store": "demo-shop",
                "order_id": order_id,
                "lines": [{"sku": SKU, "quantity": 1}],
                "tracking": tracking,
            },
        )
        assert shipped.status_code == 200, shipped.text
        assert shipped.json()["tracking"]["subscribed"] is True
    providers = {
        (s["provider"], s["number"])
        for s in requests.get(
            f"{state(stack)['tracking_stub_url']}/_stub/tracking/subscriptions", timeout=10
        ).json()
    }
    assert {("kuaidi100", f"YT{STAMP}"), ("aftership", f"1Z{STAMP}")} <= providers

    stub = state(stack)["tracking_stub_url"]
    pushes = (
        ("kuaidi100", "yuantong", f"YT{STAMP}", [60, 50]),
        ("aftership", "ups", f"1Z{STAMP}", [3, 1]),
    )
    for provider, carrier, number, hours_ago in pushes:
        checkpoints = [
            {"at": iso(now - timedelta(hours=h)), "text": f"到达转运中心 {h}h，电话 13800138000"}
            for h in hours_ago
        ]
        pushed = requests.post(
            f"{stub}/_stub/tracking/push",
            json={
                "provider": provider,
                "carrier": carrier,
                "number": number,
                "checkpoints": checkpoints,
            },
            timeout=20,
        ).json()
        assert pushed["callback_status"] == 200, pushed
    view = wait_until(
        lambda: (
            (v := timeline(stack, "mall", "demo-shop", stalled_id))
            and len([e for e in kinds(v, "track") if e["details"]["event"] == "checkpoint"]) == 2
            and v
        ),
        "the pushed track in the timeline",
    )
    assert "13800138000" not in json.dumps(view, ensure_ascii=False)
    assert view["tracks"][0]["quiet_hours"] >= 50
    wait_until(
        lambda: timeline(stack, "mall", "demo-shop", moving_id)["tracks"][0]["last_checkpoint"],
        "the AfterShip track",
    )
    opened = stack.run_job("scan_anomalies")["opened"]
    assert f"logistics_stalled#mall#demo-shop#{stalled_id}" in opened
    assert f"logistics_stalled#mall#demo-shop#{moving_id}" not in opened
    view = timeline(stack, "mall", "demo-shop", stalled_id)
    assert any(e["details"].get("rule") == "logistics_stalled" for e in kinds(view, "anomaly"))


def test_pick_lists_and_notes(stack):
    seven_hours_ago = datetime.now(UTC) - timedelta(hours=7)
    picked, waiting = f"E2E-PICK-{STAMP}", f"E2E-NOPICK-{STAMP}"
    for order_id in (picked, waiting):
        book_mall(stack, order_id, seven_hours_ago)
    pick = {
        "pick_list_id": f"pl-{STAMP}",
        "warehouse": "wh-shanghai",
        "orders": [{"platform": "mall", "store": "demo-shop", "order_id": picked}],
    }
    first = call(stack, "POST", "/wms/pick-lists", "warehouse", pick)
    assert first.status_code == 200, first.text
    assert call(stack, "POST", "/wms/pick-lists", "warehouse", pick).json()["status"] == "duplicate"
    note = call(
        stack,
        "POST",
        f"/orders/mall/demo-shop/{picked}/notes",
        "cs",
        {"text": "buyer called from 13912345678 asking about packing"},
    )
    assert note.status_code == 201, note.text
    opened = stack.run_job("scan_anomalies")["opened"]
    assert f"paid_not_picked#mall#demo-shop#{waiting}" in opened
    assert f"paid_not_picked#mall#demo-shop#{picked}" not in opened
    view = timeline(stack, "mall", "demo-shop", picked)
    assert [e["details"]["pick_list_id"] for e in kinds(view, "pick_list")] == [f"pl-{STAMP}"]
    [shown] = kinds(view, "note")
    assert shown["details"]["text"] == "buyer called from [phone] asking about packing"
    assert shown["details"]["role"] == "cs"
    audit = call(stack, "GET", "/admin/audit?action=wms.pick_list").json()
    assert any(e["target"] == f"pick_list/pl-{STAMP}" for e in audit["entries"]), audit


# ---- after-sales from every platform ---------------------------------------------------------


def pull_stub(stack, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(f"{state(stack)['pull_stub_url']}{path}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def poll_until(stack, job: str, platform: str, order_id: str) -> None:
    store = STORES[platform]["store_id"]
    wait_until(
        lambda: (
            stack.run_job(job)
            and call(stack, "GET", f"/orders/{platform}/{store}/{order_id}").status_code == 200
        ),
        f"{platform} order {order_id}",
        timeout=60,
    )


def after_sales(stack, platform: str, store: str, order_id: str) -> list[str]:
    return [
        e["details"]["event"]
        for e in kinds(timeline(stack, platform, store, order_id), "after_sales")
    ]


def test_after_sales_from_every_platform(stack):
    now = datetime.now(UTC)
    day_ago = now - timedelta(hours=25)
    expected_open: list[str] = []

    # own shop: a refund request a day old, never answered
    mall_id = f"E2E-AS-MALL-{STAMP}"
    book_mall(stack, mall_id, now)
    refund = {
        "type": "refund.requested",
        "timestamp": iso(day_ago),
        "data": {"order_id": mall_id, "refund_id": f"rf-{STAMP}", "updated_at": iso(day_ago)},
    }
    assert stack.post_order(refund, f"msg-refund-{STAMP}").status_code == 202
    expected_open.append(f"mall#demo-shop#{mall_id}")

    # WooCommerce: the order saved with a refund (the seller's answer)
    woo = STORES["woocommerce"]
    order = json.loads(str(fixture_json("woocommerce/signature_vector_derived.json")["raw_body"]))
    order["id"] = 900000 + STAMP % 100000
    order["refunds"] = [{"id": 77, "reason": "damaged", "total": "-10.00"}]
    raw = json.dumps(order).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Delivery-ID": f"e2e-woo-as-{STAMP}",
        "X-WC-Webhook-Signature": sign_body_hmac(woo["credentials"]["webhook_secret"], raw),
    }
    url = f"{stack.api}/webhooks/woocommerce/{woo['store_id']}"
    assert requests.post(url, data=raw, headers=headers, timeout=10).status_code == 200
    stack.wait_for("woocommerce", woo["store_id"], str(order["id"]))

    # BigCommerce: a refund callback (thin, ids only)
    bc = STORES["bigcommerce"]
    bc_body = json.dumps(
        {
            "scope": "store/order/refund/created",
            "store_id": "1025646",
            "data": {"type": "order", "id": 4242, "refund": {"refund_id": 9}},
            "hash": "e2e",
            "created_at": int(now.timestamp()),
            "producer": f"stores/{bc['credentials']['store_hash']}",
        }
    ).encode()
    msg_id = f"e2e-bc-refund-{STAMP}"
    key = raw_secret_key(bc["credentials"]["client_secret"])
    bc_headers = {
        "Content-Type": "application/json",
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(int(now.timestamp())),
        "Webhook-Signature": sign_standard_webhook(key, msg_id, now, bc_body),
    }
    bc_url = f"{stack.api}/webhooks/bigcommerce/{bc['store_id']}"
    assert requests.post(bc_url, data=bc_body, headers=bc_headers, timeout=10).status_code == 200

    # Taobao/Tmall: the trade, then a TMC refund message a day old
    tid = 3_910_000_000_000_000_000 + STAMP
    trade = {
        "tid": tid,
        "status": "WAIT_SELLER_SEND_GOODS",
        "payment": "88.00",
        "receiver_name": "李雷",
        "receiver_mobile": "13812345678",
        "receiver_address": "上海市黄浦区南京东路1号",
        "orders": {"order": [{"outer_sku_id": SKU, "num": 1, "price": "88.00"}]},
    }
    pull_stub(stack, "/_stub/taobao/orders", {"trade": trade})
    poll_until(stack, "poll_taobao", "taobao", str(tid))
    pull_stub(
        stack,
        "/_stub/taobao/refunds",
        {"refund": {"refund_id": f"{STAMP}1", "tid": tid, "modified": beijing(day_ago)}},
    )
    stack.run_job("poll_taobao")
    expected_open.append(f"taobao#{STORES['taobao']['store_id']}#{tid}")

    # Pinduoduo: the order, then an after-sales row opened a day ago, listed now
    order_sn = f"261125-{STAMP:015d}"
    pull_stub(
        stack,
        "/_stub/pinduoduo/orders",
        {
            "order": {
                "order_sn": order_sn,
                "order_status": 1,
                "refund_status": 1,
                "confirm_status": 1,
                "item_list": [{"outer_id": SKU, "goods_count": 1, "goods_price": 88.0}],
                "receiver_name": "韩梅梅",
                "receiver_phone": "13900001111",
                "address": "广州市天河区体育西路1号",
            }
        },
    )
    time.sleep(3)  # the local windows stay 2 s behind the clock
    poll_until(stack, "poll_pinduoduo", "pinduoduo", order_sn)
    row = {
        "id": STAMP,
        "order_sn": order_sn,
        "after_sales_status": 2,
        "created_time": beijing(day_ago),
    }
    pull_stub(stack, "/_stub/pinduoduo/after-sales", {"row": row})

    # JD: the order, a refund request now, and its approval
    jd_id = f"3{STAMP:014d}"
    item = {"skuId": "1001", "outerSkuId": SKU, "itemTotal": "1", "jdPrice": "88.00"}
    pull_stub(
        stack,
        "/_stub/jd/orders",
        {
            "order": {
                "orderId": jd_id,
                "orderState": "WAIT_SELLER_STOCK_OUT",
                "orderTotalPrice": "88.00",
                "itemInfoList": [item],
                "consigneeInfo": {
                    "fullname": "王小明",
                    "mobile": "13700002222",
                    "fullAddress": "北京",
                },
            }
        },
    )
    time.sleep(3)
    poll_until(stack, "poll_jd", "jd", jd_id)
    pull_stub(stack, "/_stub/jd/after-sales", {"row": {"id": STAMP, "orderId": jd_id, "status": 0}})
    time.sleep(3)
    jd_first = stack.run_job("poll_jd_after_sales")
    assert jd_first["stores"][STORES["jd"]["store_id"]]["status"] == "ok", jd_first
    checked = {
        "id": STAMP,
        "orderId": jd_id,
        "status": 1,
        "applyTime": beijing(now),
        "checkTime": beijing(datetime.now(UTC)),
    }
    pull_stub(stack, "/_stub/jd/after-sales", {"row": checked})
    time.sleep(3)
    summary = stack.run_job("poll_pinduoduo_after_sales")
    assert summary["stores"][STORES["pinduoduo"]["store_id"]]["status"] == "ok", summary
    stack.run_job("poll_jd_after_sales")
    expected_open.append(f"pinduoduo#{STORES['pinduoduo']['store_id']}#{order_sn}")

    # Amazon: a buyer's cancellation request a day old, through our queue
    example = copy.deepcopy(fixture_json("amazon/OrderChangeNotification_example0.json"))
    amazon_id = f"114-{STAMP % 10_000_000:07d}-0000018"
    change = example["Payload"]["OrderChangeNotification"]
    change.update(SellerId=STORES["amazon"]["store_id"], AmazonOrderId=amazon_id)
    change["OrderChangeTrigger"]["TimeOfOrderChange"] = iso(day_ago).replace("+00:00", "Z")
    change["Summary"]["OrderItems"][0].update(SellerSKU=SKU, Quantity=1)
    example["NotificationMetadata"]["NotificationId"] = f"e2e-amazon-cancel-{STAMP}"
    # the notification names the order; its lines come from the Orders API (the stub's)
    seed_order(stack, amazon_id, day_ago, SKU, 1, "88.00")
    sqs = stack.client("sqs")
    queue = sqs.get_queue_url(QueueName="orderhub-amazon-notifications")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(example))
    stack.wait_for("amazon", STORES["amazon"]["store_id"], amazon_id, timeout=60)
    expected_open.append(f"amazon#{STORES['amazon']['store_id']}#{amazon_id}")

    # every one in its order's timeline
    assert after_sales(stack, "mall", "demo-shop", mall_id) == ["requested"]
    assert after_sales(stack, "woocommerce", woo["store_id"], str(order["id"])) == ["answered"]
    assert after_sales(stack, "taobao", STORES["taobao"]["store_id"], str(tid)) == ["requested"]
    assert after_sales(stack, "pinduoduo", STORES["pinduoduo"]["store_id"], order_sn) == [
        "requested"
    ]
    assert after_sales(stack, "jd", STORES["jd"]["store_id"], jd_id) == ["requested", "answered"]
    assert wait_until(
        lambda: after_sales(stack, "amazon", STORES["amazon"]["store_id"], amazon_id),
        "the Amazon request",
    ) == ["requested"]
    bc_item = stack.client("dynamodb").get_item(
        TableName="orderhub-after-sales",
        Key={"request_key": {"S": f"bigcommerce#{bc['store_id']}#refund-9"}},
    )["Item"]
    assert bc_item["order_key"]["S"] == f"bigcommerce#{bc['store_id']}#4242"

    # unanswered for a day: the anomaly opens for each; the answered JD one does not
    opened = stack.run_job("scan_anomalies")["opened"]
    for subject in expected_open:
        assert f"after_sales_unanswered#{subject}" in opened, (subject, opened)
    assert f"after_sales_unanswered#jd#{STORES['jd']['store_id']}#{jd_id}" not in opened
