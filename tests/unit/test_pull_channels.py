"""Reading the pull platforms' answers into canonical events, field by field, and their
errors into domain errors. Answer shapes per the sources cited in each channel module; the
TMC message content is the shared fixture's (VERBATIM), other values are constructed here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.channels.base import load_json
from chalicelib.channels.jd import parse_search_page
from chalicelib.channels.pinduoduo import parse_increment_page
from chalicelib.channels.pull import PullCredentials, pull_credentials
from chalicelib.channels.taobao import (
    check_confirmed,
    parse_consumed,
    read_tmc_message,
    top_error,
    trade_event,
)
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import Buyer, OrderLine, PlatformStatus
from chalicelib.domain.polling import (
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
)
from chalicelib.domain.ports import Store
from tests.conftest import fixture_json

RECEIVED = datetime(2026, 11, 25, 8, 5, tzinfo=UTC)
TMALL = Store("taobao", "tmall-flagship", "orderhub/stores/taobao/tmall-flagship", "Asia/Shanghai")
PDD = Store("pinduoduo", "pdd-mall", "orderhub/stores/pinduoduo/pdd-mall", "Asia/Shanghai")
JD = Store("jd", "jd-pop", "orderhub/stores/jd/jd-pop", "Asia/Shanghai")
CREDS = PullCredentials("12497914", "secret", "session")
TMC_FIXTURE = fixture_json("taobao_tmc/tmc_trade_message_sandbox_demo.json")
MESSAGE_ID = 7206012345678901234  # 64-bit: beyond a double's exact range


def answer(payload: dict) -> tuple[str, object]:
    """An answer as the transport returns it: the text, and its JSON read like ours."""
    text = json.dumps(payload, ensure_ascii=False)
    return text, load_json(text.encode())


# ---- Taobao ------------------------------------------------------------------------------------


def consumed(*messages: dict) -> object:
    body = {"tmc_messages_consume_response": {"messages": {"tmc_message": list(messages)}}}
    return answer(body)[1]


def tmc(message_id: int = MESSAGE_ID, topic: str | None = None, content: str | None = None):
    return {
        "id": message_id,
        "topic": topic or TMC_FIXTURE["topic"],
        "pub_app_key": "12497914",
        "pub_time": "2026-11-25 16:00:01",
        "outgoing_time": "2026-11-25 16:00:02",
        "user_id": 2200000000001,
        "user_nick": "sandbox_c_20",
        "content": TMC_FIXTURE["content"] if content is None else content,
    }


TRADE = {
    "tid": 192364827791084,
    "status": "WAIT_SELLER_SEND_GOODS",
    "modified": "2026-11-25 16:00:00",
    "payment": "120.00",
    "receiver_name": "李雷",
    "receiver_mobile": "13812345678",
    "receiver_state": "上海",
    "receiver_city": "上海市",
    "receiver_district": "黄浦区",
    "receiver_address": "南京东路1号",
    "orders": {
        "order": [
            {
                "oid": 192364827791085,
                "outer_sku_id": "TEA-LONGJING-250G",
                "num": 2,
                "price": "50.00",
                "status": "WAIT_SELLER_SEND_GOODS",
            },
            {
                "oid": 192364827791086,
                "outer_iid": "CUP-CELADON-2PK",
                "num": 1,
                "price": "20.00",
                "status": "WAIT_SELLER_SEND_GOODS",
            },
            {
                "oid": 192364827791087,
                "outer_sku_id": "GIFT-BOX-NY",
                "num": 1,
                "price": "99.00",
                "status": "TRADE_CLOSED",  # refunded on its own before shipment
            },
        ]
    },
}


def fullinfo(**changes) -> tuple[str, object]:
    return answer({"trade_fullinfo_get_response": {"trade": {**TRADE, **changes}}})


def test_tmc_consume_answer_gives_messages_with_64_bit_ids_as_text():
    (message,) = parse_consumed(consumed(tmc()))
    assert message.message_id == "7206012345678901234"
    assert message.topic == "taobao_trade_TradeCreate"
    assert message.content["tid"] == 192364827791084  # the fixture's content, read exactly
    assert message.content["payment"] == "120.00"
    assert (message.user_nick, message.user_id) == ("sandbox_c_20", "2200000000001")
    assert message.pub_time == "2026-11-25 16:00:01"


def test_tmc_consume_answer_without_messages_is_empty():
    assert parse_consumed({"tmc_messages_consume_response": {"request_id": "x"}}) == []


def test_trade_becomes_a_complete_event_field_by_field():
    (message,) = parse_consumed(consumed(tmc()))
    trade = {**TRADE}  # as read from the fullinfo answer
    event = trade_event(load_json(json.dumps(trade).encode()), message, TMALL, RECEIVED)
    assert event.event_key == "taobao#tmall-flagship#tmc:7206012345678901234"
    assert event.platform_event_id == "7206012345678901234"
    assert (event.platform, event.store, event.order_id) == (
        "taobao",
        "tmall-flagship",
        "192364827791084",
    )
    assert (event.status, event.event_type) == (PlatformStatus.PAID, "paid")
    assert event.updated_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 Beijing
    assert event.updated_at_raw == "2026-11-25 16:00:00"
    assert event.currency == "CNY" and event.complete
    assert event.lines == (
        OrderLine("TEA-LONGJING-250G", 2, Decimal("50.00")),
        OrderLine("CUP-CELADON-2PK", 1, Decimal("20.00")),
    )
    assert event.buyer == Buyer("李雷", "13812345678", "上海 上海市 黄浦区 南京东路1号")
    assert event.received_at == RECEIVED


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("WAIT_BUYER_PAY", PlatformStatus.UNPAID),
        ("TRADE_NO_CREATE_PAY", PlatformStatus.UNPAID),
        ("WAIT_SELLER_SEND_GOODS", PlatformStatus.PAID),
        ("SELLER_CONSIGNED_PART", PlatformStatus.PAID),
        ("WAIT_BUYER_CONFIRM_GOODS", PlatformStatus.SHIPPED),
        ("TRADE_FINISHED", PlatformStatus.SHIPPED),
        ("TRADE_CLOSED", PlatformStatus.REFUNDED),
        ("TRADE_CLOSED_BY_TAOBAO", PlatformStatus.CANCELLED),
    ],
)
def test_taobao_statuses_map(status, expected):
    (message,) = parse_consumed(consumed(tmc()))
    trade = {**TRADE, "status": status}
    assert trade_event(trade, message, TMALL, RECEIVED).status is expected


def test_unknown_taobao_status_is_refused_naming_it():
    (message,) = parse_consumed(consumed(tmc()))
    with pytest.raises(InvalidPayload, match="TRADE_SOMETHING"):
        trade_event({**TRADE, "status": "TRADE_SOMETHING"}, message, TMALL, RECEIVED)


def test_read_message_fetches_the_trade_and_keeps_both_as_raw():
    (message,) = parse_consumed(consumed(tmc()))
    fetched = []

    def fetch(tid):
        fetched.append(tid)
        return fullinfo()

    batch = read_tmc_message(message, fetch, TMALL, CREDS, RECEIVED)
    assert batch is not None and fetched == ["192364827791084"]
    assert [e.order_id for e in batch.events] == ["192364827791084"]
    raw = json.loads(batch.raw)
    assert raw["message"]["id"] == MESSAGE_ID and raw["trade"]["trade_fullinfo_get_response"]


def test_message_of_another_topic_is_confirmed_with_nothing_queued():
    (message,) = parse_consumed(consumed(tmc(topic="taobao_refund_RefundCreated")))
    batch = read_tmc_message(message, pytest.fail, TMALL, CREDS, RECEIVED)
    assert batch is not None and batch.events == () and batch.rejected == ()


def test_message_for_another_seller_is_left_unconfirmed():
    (message,) = parse_consumed(consumed(tmc()))
    bound = PullCredentials("k", "s", "session", seller_nick="another_seller")
    assert read_tmc_message(message, pytest.fail, TMALL, bound, RECEIVED) is None


def test_message_without_tid_or_with_an_unfetchable_trade_is_rejected():
    (bad,) = parse_consumed(consumed(tmc(content='{"buyer_nick":"x"}')))
    batch = read_tmc_message(bad, pytest.fail, TMALL, CREDS, RECEIVED)
    assert batch is not None
    assert [r.key for r in batch.rejected] == [f"invalid#taobao#tmall-flagship#tmc:{MESSAGE_ID}"]
    assert "tid" in batch.rejected[0].reason

    (message,) = parse_consumed(consumed(tmc()))
    gone = answer({"error_response": {"code": 15, "msg": "x", "sub_code": "isv.trade-not-exist"}})
    batch = read_tmc_message(message, lambda tid: gone, TMALL, CREDS, RECEIVED)
    assert batch is not None and batch.events == ()
    assert batch.rejected[0].order_key == "taobao#tmall-flagship#192364827791084"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"code": 7, "msg": "App Call Limited"}, PlatformUnavailable),
        (
            {"code": 15, "msg": "Remote", "sub_code": "isp.top-remote-connection-timeout"},
            PlatformUnavailable,
        ),
        ({"code": 25, "msg": "Invalid signature"}, PlatformCredentialsRejected),
        (
            {"code": 27, "msg": "Invalid session", "sub_code": "invalid-sessionkey"},
            PlatformCredentialsRejected,
        ),
        ({"code": 29, "msg": "Invalid app Key"}, PlatformCredentialsRejected),
        (
            {"code": 41, "msg": "Invalid arguments", "sub_code": "isv.invalid-parameter"},
            PlatformRequestRejected,
        ),
    ],
)
def test_top_errors_are_classified(error, kind):
    assert isinstance(top_error(error), kind)


def test_passing_trade_fetch_failure_propagates_so_the_message_stays_unconfirmed():
    (message,) = parse_consumed(consumed(tmc()))
    limited = answer({"error_response": {"code": 7, "msg": "App Call Limited"}})
    with pytest.raises(PlatformUnavailable):
        read_tmc_message(message, lambda tid: limited, TMALL, CREDS, RECEIVED)
    expired = answer({"error_response": {"code": 27, "msg": "Invalid session"}})
    with pytest.raises(PlatformCredentialsRejected):
        read_tmc_message(message, lambda tid: expired, TMALL, CREDS, RECEIVED)


def test_confirm_answer_is_checked():
    check_confirmed({"tmc_messages_confirm_response": {"is_success": True}})
    with pytest.raises(PlatformUnavailable):
        check_confirmed({"tmc_messages_confirm_response": {"is_success": False}})


def test_store_secret_is_read_under_each_platforms_names():
    pdd = pull_credentials({"client_id": "c", "client_secret": "s", "access_token": "t"}, "pdd")
    assert (pdd.app_key, pdd.app_secret, pdd.session) == ("c", "s", "t")
    assert "s" not in repr(pdd).replace("PullCredentials", "")  # no secret in logs
    with pytest.raises(PlatformCredentialsRejected, match="app_secret, session"):
        pull_credentials({"app_key": "k"}, "taobao")


# ---- Pinduoduo ---------------------------------------------------------------------------------

PDD_ORDER = {
    "order_sn": "261125-048156734920817",
    "order_status": 1,
    "refund_status": 1,
    "confirm_status": 1,
    "updated_at": "2026-11-25 16:00:00",
    "pay_amount": 176.0,
    "item_list": [
        {"outer_id": "TEA-LONGJING-250G", "goods_count": 2, "goods_price": 88.0, "sku_id": 1},
        {"outer_goods_id": "CUP-CELADON-2PK", "goods_count": 1, "goods_price": 0.01},
    ],
    "receiver_name": "韩梅梅",
    "receiver_phone": "13900001111",
    "address": "广东省广州市天河区体育西路1号",
}


def pdd_page(*orders: dict, total: int | None = None):
    body = {
        "order_sn_increment_get_response": {
            "total_count": len(orders) if total is None else total,
            "has_next": False,
            "order_sn_list": list(orders),
        }
    }
    text, payload = answer(body)
    return parse_increment_page(payload, text, PDD, RECEIVED)


def test_pdd_order_becomes_a_complete_event_field_by_field():
    page = pdd_page(PDD_ORDER)
    (event,) = page.batch.events
    assert event.event_key == ("pinduoduo#pdd-mall#261125-048156734920817:1:1:2026-11-25 16:00:00")
    assert (event.order_id, event.status, event.event_type) == (
        "261125-048156734920817",
        PlatformStatus.PAID,
        "paid",
    )
    assert event.updated_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert event.updated_at_raw == "2026-11-25 16:00:00"
    assert event.lines == (
        OrderLine("TEA-LONGJING-250G", 2, Decimal("88.0")),
        OrderLine("CUP-CELADON-2PK", 1, Decimal("0.01")),  # a JSON number, never a float
    )
    assert event.buyer == Buyer("韩梅梅", "13900001111", "广东省广州市天河区体育西路1号")
    assert event.currency == "CNY" and event.complete
    assert page.total == 1 and page.batch.rejected == ()
    assert json.loads(page.batch.raw)["order_sn_increment_get_response"]["total_count"] == 1


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"order_status": 2}, PlatformStatus.SHIPPED),
        ({"order_status": 3}, PlatformStatus.SHIPPED),
        ({"refund_status": 3}, PlatformStatus.PAID),  # refunding: held until it succeeds
        ({"refund_status": 4}, PlatformStatus.REFUNDED),
        ({"confirm_status": 2}, PlatformStatus.CANCELLED),
    ],
)
def test_pdd_statuses_map(changes, expected):
    (event,) = pdd_page({**PDD_ORDER, **changes}).batch.events
    assert event.status is expected


def test_pdd_bad_order_is_rejected_and_the_rest_of_the_page_still_read():
    bad = {**PDD_ORDER, "order_sn": "261125-1", "order_status": 9}
    page = pdd_page(bad, PDD_ORDER)
    assert [e.order_id for e in page.batch.events] == ["261125-048156734920817"]
    (rejected,) = page.batch.rejected
    assert rejected.key == "invalid#pinduoduo#pdd-mall#261125-1:2026-11-25 16:00:00"
    assert rejected.order_key == "pinduoduo#pdd-mall#261125-1"
    assert "order_status 9" in rejected.reason


def test_pdd_masked_buyer_fields_are_the_fallback():
    order = {
        **PDD_ORDER,
        "receiver_name": "",
        "receiver_name_mask": "韩**",
        "receiver_phone": "",
        "receiver_phone_mask": "139****1111",
    }
    (event,) = pdd_page(order).batch.events
    assert event.buyer is not None and (event.buyer.name, event.buyer.phone) == (
        "韩**",
        "139****1111",
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"error_code": 10019, "error_msg": "access_token已过期"}, PlatformCredentialsRejected),
        ({"error_code": 1, "error_msg": "签名错误"}, PlatformCredentialsRejected),
        (
            {"error_code": 2, "error_msg": "接口调用频繁", "sub_code": "rate limit"},
            PlatformUnavailable,
        ),
        ({"error_code": 3, "error_msg": "系统错误"}, PlatformUnavailable),
        ({"error_code": 4, "error_msg": "参数错误"}, PlatformRequestRejected),
    ],
)
def test_pdd_errors_are_classified(error, kind):
    with pytest.raises(kind):
        parse_increment_page({"error_response": error}, "", PDD, RECEIVED)


# ---- JD ----------------------------------------------------------------------------------------

JD_ORDER = {
    "orderId": "300012345678901",
    "orderState": "WAIT_SELLER_STOCK_OUT",
    "orderTotalPrice": "188.00",
    "modified": "2026-11-25 16:00:00",
    "itemInfoList": [
        {
            "skuId": "100012",
            "outerSkuId": "TEA-LONGJING-250G",
            "itemTotal": "2",
            "jdPrice": "88.00",
        },
        {"skuId": "100013", "outerSkuId": "", "itemTotal": "1", "jdPrice": "12.00"},
    ],
    "consigneeInfo": {
        "fullname": "王小明",
        "mobile": "13700002222",
        "telephone": "",
        "fullAddress": "北京市朝阳区建国路1号",
    },
}


def jd_page(*orders: dict, api_result: dict | None = None):
    result = {
        "apiResult": api_result or {"success": True},
        "orderTotal": len(orders),
        "orderInfoList": list(orders),
    }
    text, payload = answer(
        {"jingdong_pop_order_search_responce": {"searchorderinfo_result": result}}
    )
    return parse_search_page(payload, text, JD, RECEIVED)


def test_jd_order_becomes_a_complete_event_field_by_field():
    page = jd_page(JD_ORDER)
    (event,) = page.batch.events
    assert event.event_key == "jd#jd-pop#300012345678901:WAIT_SELLER_STOCK_OUT:2026-11-25 16:00:00"
    assert (event.order_id, event.status, event.event_type) == (
        "300012345678901",
        PlatformStatus.PAID,
        "paid",
    )
    assert event.updated_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert event.updated_at_raw == "2026-11-25 16:00:00"
    assert event.lines == (
        OrderLine("TEA-LONGJING-250G", 2, Decimal("88.00")),
        OrderLine("100013", 1, Decimal("12.00")),  # no outer code: JD's skuId
    )
    assert event.buyer == Buyer("王小明", "13700002222", "北京市朝阳区建国路1号")
    assert event.currency == "CNY" and page.total == 1


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("WAIT_SELLER_STOCK_OUT", PlatformStatus.PAID),
        ("LOCKED", PlatformStatus.PAID),
        ("WAIT_GOODS_RECEIVE_CONFIRM", PlatformStatus.SHIPPED),
        ("FINISHED_L", PlatformStatus.SHIPPED),
        ("TRADE_CANCELED", PlatformStatus.CANCELLED),
    ],
)
def test_jd_states_map(state, expected):
    (event,) = jd_page({**JD_ORDER, "orderState": state}).batch.events
    assert event.status is expected


def test_jd_unknown_state_is_rejected_and_api_result_failures_raise():
    page = jd_page({**JD_ORDER, "orderState": "NEW_STATE"})
    assert page.batch.events == () and "NEW_STATE" in page.batch.rejected[0].reason
    with pytest.raises(PlatformRequestRejected):
        jd_page(api_result={"success": False, "englistErrCode": "invalid order_state"})
    with pytest.raises(PlatformCredentialsRejected):
        parse_search_page(
            {"error_response": {"code": "19", "en_desc": "Invalid access_token"}}, "", JD, RECEIVED
        )
    with pytest.raises(PlatformUnavailable):
        parse_search_page(
            {"error_response": {"code": "66", "en_desc": "system busy"}}, "", JD, RECEIVED
        )
