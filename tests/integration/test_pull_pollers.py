"""The pull pollers for real: the scheduled handlers call the stub Taobao, Pinduoduo and JD
routers (local/stub_pull.py) over loopback, signed and checked, with AWS under moto (the
tables, queue and secrets created from infra/resources.json). What they queue is then booked
by the real processor: messages are queued and confirmed, cursors stored, a rerun reads
nothing new, and a redelivered TMC message is queued again and booked as a duplicate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from app import app
from chalicelib.adapters.cursors import DynamoCursorStore, build_cursor_model
from chalicelib.api.processor import handle_order_message
from chalicelib.deps import Container, use_container
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import Booking, order_key
from chalicelib.domain.polling import Cursor, CursorConflict
from chalicelib.domain.ports import Store, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from chalicelib.domain.timeutil import utc_now
from local.lambda_runtime import LocalLambdaContext, scheduled_event
from local.stub_pull import PullStub, StubCredentials, beijing_text

REGION = "us-east-1"
SKU = "TEA-LONGJING-250G"
CREDENTIALS = {
    "taobao": StubCredentials("12497914", "tb-secret", "tb-session"),
    "pinduoduo": StubCredentials("pdd-client", "pdd-secret", "pdd-token"),
    "jd": StubCredentials("jd-key", "jd-secret", "jd-token"),
}
STORES = {
    "taobao": Store("taobao", "tmall", "orderhub/stores/taobao/tmall", "Asia/Shanghai"),
    "pinduoduo": Store("pinduoduo", "pdd", "orderhub/stores/pinduoduo/pdd", "Asia/Shanghai"),
    "jd": Store("jd", "jd", "orderhub/stores/jd/jd", "Asia/Shanghai"),
}
TID = 3912345678901234567  # 19 digits: a 64-bit id a double cannot hold


@dataclass
class Pull:
    stub: PullStub
    deps: Container
    queue_url: str

    def seed(self, platform: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{self.stub.url}/_stub/{platform}/orders", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def control(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            return requests.get(f"{self.stub.url}{path}", timeout=5).json()
        return requests.post(f"{self.stub.url}{path}", json=body, timeout=5).json()

    def run(self, platform: str) -> dict[str, Any]:
        name = f"poll_{platform}"
        context = LocalLambdaContext(name, timeout_seconds=60)
        summary = app.handler_map[name](scheduled_event(name, REGION), context)
        return dict(summary["stores"][STORES[platform].store_id])

    def queued(self) -> list[str]:
        """Bodies on the order queue, removed from it."""
        bodies: list[str] = []
        while True:
            got = self.deps.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not got:
                return bodies
            for message in got:
                bodies.append(message["Body"])
                self.deps.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def book(self, bodies: list[str]) -> list[str]:
        return [handle_order_message(body, self.deps).outcome.value for body in bodies]


@pytest.fixture
def pull(aws: Any, stack_env: dict[str, str]) -> Iterator[Pull]:
    stub = PullStub({p: [c] for p, c in CREDENTIALS.items()}, port=0).start()
    deps = Container(environ={**stack_env, **stub.function_environment(settle_seconds=0)})
    secrets = aws.client("secretsmanager")
    for platform, store in STORES.items():
        c = CREDENTIALS[platform]
        secret = {"app_key": c.app_key, "app_secret": c.app_secret, "session": c.session}
        secrets.create_secret(Name=store.secret_name, SecretString=json.dumps(secret))
        deps.catalog_store.put_store(store)
    deps.catalog_store.put_warehouse(Warehouse("wh-1"))
    adjust_stock(Adjustment("opening", SKU, "wh-1", "receipt", 50, "test"), deps.orders, utc_now)
    use_container(deps)
    try:
        yield Pull(stub, deps, stack_env["ORDERHUB_ORDER_QUEUE_URL"])
    finally:
        use_container(None)
        stub.stop()


def available(deps: Container) -> int:
    return sum(level.available for level in deps.orders.get_sku_levels(SKU))


def trade(status: str = "WAIT_SELLER_SEND_GOODS", quantity: int = 2) -> dict[str, Any]:
    return {
        "tid": TID,
        "status": status,
        "payment": "176.00",
        "receiver_name": "李雷",
        "receiver_mobile": "13812345678",
        "receiver_state": "上海",
        "receiver_city": "上海市",
        "receiver_address": "南京东路1号",
        "orders": {"order": [{"outer_sku_id": SKU, "num": quantity, "price": "88.00"}]},
    }


def test_taobao_message_is_queued_then_confirmed_and_a_redelivery_books_nothing_more(pull):
    seeded = pull.seed("taobao", {"trade": trade()})
    assert pull.run("taobao") == {
        "status": "ok",
        "batches": 1,
        "queued": 1,
        "ignored": 0,
        "rejected": 0,
        "confirmed": 1,
        "unconfirmed": 0,
    }
    assert pull.control("/_stub/taobao/confirmed") == [seeded["message_id"]]
    (body,) = pull.queued()
    event = json.loads(body)["event"]
    assert event["event_key"] == f"taobao#tmall#tmc:{seeded['message_id']}"
    assert event["order_id"] == str(TID)  # exact, never through a float
    assert pull.book([body]) == ["booked"]
    order = pull.deps.orders.get_order(order_key("taobao", "tmall", str(TID)))
    assert order is not None and order.booking is Booking.LOCKED
    assert available(pull.deps) == 48

    assert pull.run("taobao")["queued"] == 0  # nothing new: the message was confirmed
    assert pull.queued() == []

    pull.control("/_stub/taobao/redeliver", {"message_id": seeded["message_id"]})
    assert pull.run("taobao")["queued"] == 1
    (again,) = pull.queued()
    assert json.loads(again)["event"]["event_key"] == event["event_key"]
    assert pull.book([again]) == ["duplicate"]
    assert available(pull.deps) == 48


def test_taobao_message_stays_unconfirmed_while_it_cannot_be_queued(pull, monkeypatch):
    seeded = pull.seed("taobao", {"trade": trade()})

    def unavailable(body: Any, correlation_id: str) -> str:
        raise TransientFailure("SQS unavailable")

    monkeypatch.setattr(pull.deps.queue, "send", unavailable)
    outcome = pull.run("taobao")
    assert (outcome["status"], outcome["confirmed"]) == ("retry_later", 0)
    assert pull.control("/_stub/taobao/confirmed") == []
    monkeypatch.undo()
    assert pull.run("taobao")["queued"] == 1  # TMC handed it out again
    assert pull.control("/_stub/taobao/confirmed") == [seeded["message_id"]]


def pdd_order(order_sn: str, updated_at: datetime, **changes: Any) -> dict[str, Any]:
    return {
        "order_sn": order_sn,
        "order_status": 1,
        "refund_status": 1,
        "confirm_status": 1,
        "updated_at": beijing_text(updated_at),
        "pay_amount": 88.0,
        "item_list": [{"outer_id": SKU, "goods_count": 1, "goods_price": 88.0}],
        "receiver_name": "韩梅梅",
        "receiver_phone": "13900001111",
        "address": "广东省广州市天河区体育西路1号",
        **changes,
    }


def test_pinduoduo_poller_queues_the_window_stores_the_cursor_and_rereads_nothing(pull):
    now = utc_now()
    pull.seed(
        "pinduoduo", {"order": pdd_order("261125-000000000000001", now - timedelta(minutes=5))}
    )
    outcome = pull.run("pinduoduo")
    assert (outcome["status"], outcome["queued"], outcome["caught_up"]) == ("ok", 1, True)
    stored = pull.deps.poll_cursors.load("pinduoduo#pdd")
    assert stored is not None and stored.version == outcome["windows"]
    assert now - timedelta(seconds=5) <= stored.position <= utc_now()
    (body,) = pull.queued()
    key = "pinduoduo#pdd#261125-000000000000001:1:1:" + beijing_text(now - timedelta(minutes=5))
    assert json.loads(body)["event"]["event_key"] == key
    assert pull.book([body]) == ["booked"]

    assert pull.run("pinduoduo")["queued"] == 0
    assert pull.queued() == []

    # the order changes: a new state, a new key; timed from now, after the cursor moved (on a
    # loaded machine the runs above can take longer than a second)
    shipped = utc_now() + timedelta(seconds=1)
    pull.seed("pinduoduo", {"order": pdd_order("261125-000000000000001", shipped, order_status=2)})
    pull.deps.now = lambda: utc_now() + timedelta(seconds=2)
    assert pull.run("pinduoduo")["queued"] == 1
    assert pull.book(pull.queued()) == ["booked"]


def test_pinduoduo_window_over_several_pages_is_read_newest_first(pull):
    start = utc_now() - timedelta(minutes=20)
    for i in range(150):
        sn = f"261125-{i:015d}"
        pull.seed("pinduoduo", {"order": pdd_order(sn, start + timedelta(seconds=i))})
    outcome = pull.run("pinduoduo")
    assert outcome["queued"] == 150
    keys = {json.loads(b)["event"]["event_key"] for b in pull.queued()}
    assert len(keys) == 150
    pages = [c for c in pull.control("/_stub/pinduoduo/calls") if c["outcome"] == "ok"]
    assert len(pages) >= 4  # the window with the orders: page 1 (total), 2, then 1 again


def jd_order(order_id: str, modified: datetime, state: str = "WAIT_SELLER_STOCK_OUT") -> dict:
    return {
        "orderId": order_id,
        "orderState": state,
        "orderTotalPrice": "88.00",
        "modified": beijing_text(modified),
        "itemInfoList": [
            {"skuId": "100012", "outerSkuId": SKU, "itemTotal": "1", "jdPrice": "88.00"}
        ],
        "consigneeInfo": {"fullname": "王小明", "mobile": "13700002222", "fullAddress": "北京"},
    }


def test_jd_poller_queues_stores_the_cursor_and_a_reread_books_nothing_more(pull):
    now = utc_now()
    pull.seed("jd", {"order": jd_order("300012345678901", now - timedelta(minutes=2))})
    outcome = pull.run("jd")
    assert (outcome["status"], outcome["queued"]) == ("ok", 1)
    assert pull.deps.poll_cursors.load("jd#jd") is not None
    (body,) = pull.queued()
    assert pull.book([body]) == ["booked"]
    assert pull.run("jd")["queued"] == 0

    # the platform lists the same state again (a re-read window): a duplicate
    cursor = pull.deps.poll_cursors.load("jd#jd")
    assert cursor is not None
    rewound = Cursor("jd#jd", now - timedelta(minutes=10), cursor.version)
    pull.deps.poll_cursors.advance(cursor, rewound.position, now)
    assert pull.run("jd")["queued"] == 1
    assert pull.book(pull.queued()) == ["duplicate"]


def test_rate_limits_leave_the_cursor_and_bad_credentials_are_reported(pull, aws):
    pull.seed("pinduoduo", {"order": pdd_order("261125-9", utc_now() - timedelta(minutes=1))})
    pull.control("/_stub/pinduoduo/fail", {"kind": "rate_limit", "count": 1})
    outcome = pull.run("pinduoduo")
    assert outcome["status"] == "retry_later" and "rate limit" in outcome["reason"]
    assert pull.deps.poll_cursors.load("pinduoduo#pdd") is None
    assert pull.run("pinduoduo")["queued"] == 1  # the next run reads the same window

    pull.control("/_stub/jd/fail", {"kind": "credentials", "count": 5})
    outcome = pull.run("jd")
    assert outcome["status"] == "credentials_rejected" and "access_token" in outcome["reason"]
    assert pull.deps.poll_cursors.load("jd#jd") is None

    wrong = {"app_key": "12497914", "app_secret": "not-the-secret", "session": "tb-session"}
    aws.client("secretsmanager").put_secret_value(
        SecretId=STORES["taobao"].secret_name, SecretString=json.dumps(wrong)
    )
    pull.deps.secrets._provider.clear_cache()
    outcome = pull.run("taobao")
    assert outcome["status"] == "credentials_rejected" and "Invalid signature" in outcome["reason"]


def test_cursor_table_refuses_a_second_advance_from_the_same_version(stack_env):
    store = DynamoCursorStore(build_cursor_model(stack_env["ORDERHUB_POLL_CURSORS_TABLE"], REGION))
    now = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    first = Cursor("jd#x", now - timedelta(hours=1), 0)
    moved = store.advance(first, now - timedelta(minutes=30), now)
    assert store.load("jd#x") == moved == Cursor("jd#x", now - timedelta(minutes=30), 1)
    with pytest.raises(CursorConflict):
        store.advance(first, now - timedelta(minutes=29), now)  # a second run, same read
    store.advance(moved, now - timedelta(minutes=3), now)
    loaded = store.load("jd#x")
    assert loaded is not None and (loaded.position, loaded.version) == (
        now - timedelta(minutes=3),
        2,
    )
