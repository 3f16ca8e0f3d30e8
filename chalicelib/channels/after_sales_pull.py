"""Pinduoduo's and JD's after-sales lists, pulled like their orders: signed requests for one
time window and page, and the pages read into `AfterSalesEvent`s. Pure Python.

Pinduoduo: `pdd.refund.list.increment.get` (售后列表增量查询), business parameters
    `start_updated_at`, `end_updated_at` (Unix seconds, at most 30 minutes apart),
    `after_sales_status` 1 (all), `after_sales_type` 1 (all), `page`, `page_size`; answer
    `refund_increment_get_response: {total_count, refund_list: [{id, order_sn,
    after_sales_status, after_sales_type, created_time, updated_time, ...}]}`, times as
    Beijing text or Unix seconds. Status: 2 买家申请退款待商家处理, 3 退货退款待商家处理,
    14 换货补寄待商家处理, 21 待商家同意维修 → requested (waiting for the seller, since
    `created_time`); every other status → answered (at `updated_time`). The documented answer
    example is tests/fixtures/pinduoduo/refund_increment_get_example.json. JD's names (the
    response key, `queryResult.{success, totalCount, result}`, `id`, `orderId`, `status`,
    `applyTime`, `checkTime`, the apply/check time ranges, `pageIndex`, `pageSize`) match what
    public JOS clients send and read; no documented answer sample was found to copy.
JD: `jingdong.pop.afs.soa.refundapply.queryPageList` (退款审核单列表), `360buy_param_json`
    `{checkTimeStart, checkTimeEnd}` or `{applyTimeStart, applyTimeEnd}` (Beijing text),
    `pageIndex`, `pageSize`; answer `jingdong_pop_afs_soa_refundapply_queryPageList_responce:
    {queryResult: {success, totalCount, result: [{id, orderId, status, applyTime,
    checkTime}]}}`. Status 0 未审核 → requested (since `applyTime`); 1 审核通过, 2 审核不通过,
    3 京东财务审核通过, 4 京东财务审核不通过, 5 人工审核通过, and the later interception /
    forced-close codes (6-9) → answered (at `checkTime`).
    Each window is asked twice: by apply time (new requests) and by check time (answers).

Dedupe keys: `{platform}#{store}#as:{id}:{status}`: the same row read twice records once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.channels import jd, pinduoduo
from chalicelib.channels.base import platform_time
from chalicelib.channels.pull import PullCredentials
from chalicelib.domain.after_sales import ANSWERED, REQUESTED, AfterSalesEvent
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.polling import PlatformUnavailable, Window
from chalicelib.domain.ports import Store

PAGE_SIZE = 100
PDD_METHOD = "pdd.refund.list.increment.get"
PDD_RESPONSE = "refund_increment_get_response"
PDD_REQUESTED = frozenset({2, 3, 14, 21})
JD_METHOD = "jingdong.pop.afs.soa.refundapply.queryPageList"
JD_RESPONSE = "jingdong_pop_afs_soa_refundapply_queryPageList_responce"
JD_BY_APPLY, JD_BY_CHECK = "apply", "check"
BEIJING = "Asia/Shanghai"


@dataclass(frozen=True)
class AfterSalesPage:
    events: tuple[AfterSalesEvent, ...]
    total: int


def pdd_after_sales_request(
    window: Window, page: int, credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    business = {
        "start_updated_at": str(int(window.start.timestamp())),
        "end_updated_at": str(int(window.end.timestamp())),
        "after_sales_status": "1",
        "after_sales_type": "1",
        "page": str(page),
        "page_size": str(PAGE_SIZE),
    }
    return pinduoduo.pdd_request(PDD_METHOD, business, credentials, now)


def jd_after_sales_request(
    window: Window, page: int, by: str, credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    start, end = (
        ("applyTimeStart", "applyTimeEnd")
        if by == JD_BY_APPLY
        else (
            "checkTimeStart",
            "checkTimeEnd",
        )
    )
    business = {
        start: jd.jos_time(window.start),
        end: jd.jos_time(window.end),
        "pageIndex": str(page),
        "pageSize": str(PAGE_SIZE),
    }
    return jd.jd_request(JD_METHOD, business, credentials, now)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _event(
    store: Store, row: Mapping[str, Any], ids: tuple[str, str], kind: str, field: str, status: str
) -> AfterSalesEvent | None:
    request_id, order_id = ids
    try:
        at, raw = platform_time(row, field, "$", BEIJING)
    except InvalidPayload:
        return None
    if not request_id or (kind == REQUESTED and not order_id):
        return None
    return AfterSalesEvent(
        platform=store.platform,
        store=store.store_id,
        order_id=order_id,
        request_id=request_id,
        kind=kind,
        at=at,
        at_raw=raw,
        event_key=f"{store.platform}#{store.store_id}#as:{request_id}:{status}",
        detail=f"status {status}",
    )


def parse_pdd_after_sales(payload: Any, store: Store) -> AfterSalesPage:
    if isinstance(payload, Mapping) and "error_response" in payload:
        raise pinduoduo.pdd_error(payload["error_response"])
    answer = payload.get(PDD_RESPONSE) if isinstance(payload, Mapping) else None
    if not isinstance(answer, Mapping):
        raise PlatformUnavailable(f"Pinduoduo's answer lacks {PDD_RESPONSE}")
    events = []
    rows = answer.get("refund_list")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        status = _int(row.get("after_sales_status"))
        if status is None:
            continue
        kind = REQUESTED if status in PDD_REQUESTED else ANSWERED
        field = "created_time" if kind == REQUESTED else "updated_time"
        ids = (str(row.get("id") or "").strip(), str(row.get("order_sn") or "").strip())
        found = _event(store, row, ids, kind, field, str(status))
        if found is not None:
            events.append(found)
    return AfterSalesPage(tuple(events), _int(answer.get("total_count")) or 0)


def parse_jd_after_sales(payload: Any, store: Store) -> AfterSalesPage:
    if isinstance(payload, Mapping) and "error_response" in payload:
        raise jd.jd_error(payload["error_response"])
    outer = payload.get(JD_RESPONSE) if isinstance(payload, Mapping) else None
    result = outer.get("queryResult") if isinstance(outer, Mapping) else None
    if not isinstance(result, Mapping):
        raise PlatformUnavailable(f"JD's answer lacks {JD_RESPONSE}.queryResult")
    if result.get("success") is False:
        raise jd.jd_error(
            {"code": result.get("resultCode", "?"), "zh_desc": result.get("resultDescribe")}
        )
    events = []
    rows = result.get("result")
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, Mapping):
            continue
        status = _int(row.get("status"))
        if status is None:
            continue
        kind = REQUESTED if status == 0 else ANSWERED
        field = "applyTime" if kind == REQUESTED else "checkTime"
        ids = (str(row.get("id") or "").strip(), str(row.get("orderId") or "").strip())
        found = _event(store, row, ids, kind, field, str(status))
        if found is not None:
            events.append(found)
    return AfterSalesPage(tuple(events), _int(result.get("totalCount")) or 0)
