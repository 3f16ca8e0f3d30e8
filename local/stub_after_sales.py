"""The pull stubs' after-sales lists and Taobao refund messages (local/stub_pull.py serves
them on the same routers, after the same credential and signature checks):

- Pinduoduo `pdd.refund.list.increment.get`: rows whose `updated_time` lies in
  [start_updated_at, end_updated_at], paged, `refund_increment_get_response`;
- JD `jingdong.pop.afs.soa.refundapply.queryPageList`: rows whose `applyTime` (or
  `checkTime`) lies in the asked range, paged, `queryResult`;
- `POST /_stub/{pinduoduo|jd}/after-sales {"row": {...}}`: add or replace a row (keyed by
  `id`; times default to now, Beijing text);
- `POST /_stub/taobao/refunds {"topic", "refund": {refund_id, tid, ...}}`: publish a TMC
  refund message (its `modified` defaults to now, Beijing text).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")
PDD_METHOD = "pdd.refund.list.increment.get"
JD_METHOD = "jingdong.pop.afs.soa.refundapply.queryPageList"


def _text(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _parse(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)


def _rows(state: Any, platform: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, dict[str, Any]]] = state.__dict__.setdefault("after_sales", {})
    return found.setdefault(platform, {})


def seed_after_sales(state: Any, platform: str, body: dict[str, Any]) -> dict[str, Any]:
    row = dict(body.get("row") or {})
    if row.get("id") in (None, ""):
        raise ValueError("row.id is required")
    now = _text(datetime.now(UTC))
    if platform == "pinduoduo":
        row.setdefault("created_time", now)
        row.setdefault("updated_time", now)
    else:
        row.setdefault("applyTime", now)
    _rows(state, platform)[str(row["id"])] = row
    return {"id": str(row["id"])}


def pdd_after_sales(state: Any, params: dict[str, str]) -> dict[str, Any]:
    start, end = int(params["start_updated_at"]), int(params["end_updated_at"])
    page, size = int(params.get("page") or 1), int(params.get("page_size") or 100)
    rows = sorted(
        (
            r
            for r in _rows(state, "pinduoduo").values()
            if start <= int(_parse(r["updated_time"]).timestamp()) <= end
        ),
        key=lambda r: (r["updated_time"], str(r["id"])),
    )
    listed = rows[(page - 1) * size : page * size]
    return {"refund_increment_get_response": {"total_count": len(rows), "refund_list": listed}}


def jd_after_sales(state: Any, params: dict[str, str]) -> dict[str, Any]:
    business = json.loads(params.get("360buy_param_json") or "{}")
    field = "applyTime" if "applyTimeStart" in business else "checkTime"
    prefix = "applyTime" if field == "applyTime" else "checkTime"
    start, end = _parse(business[f"{prefix}Start"]), _parse(business[f"{prefix}End"])
    page, size = int(business.get("pageIndex") or 1), int(business.get("pageSize") or 100)
    rows = sorted(
        (
            r
            for r in _rows(state, "jd").values()
            if r.get(field) and start <= _parse(r[field]) <= end
        ),
        key=lambda r: (str(r[field]), str(r["id"])),
    )
    listed = rows[(page - 1) * size : page * size]
    result = {"success": True, "totalCount": len(rows), "result": listed}
    return {"jingdong_pop_afs_soa_refundapply_queryPageList_responce": {"queryResult": result}}


def seed_taobao_refund(state: Any, body: dict[str, Any]) -> dict[str, Any]:
    refund = dict(body.get("refund") or {})
    if refund.get("refund_id") in (None, "") or refund.get("tid") in (None, ""):
        raise ValueError("refund.refund_id and refund.tid are required")
    now = datetime.now(UTC)
    refund.setdefault("modified", _text(now))
    message_id = state.next_message_id
    state.next_message_id += 1
    state.messages.append(
        {
            "id": message_id,
            "topic": str(body.get("topic") or "taobao_refund_RefundCreated"),
            "pub_app_key": "12497914",
            "pub_time": _text(now),
            "outgoing_time": _text(now),
            "user_id": 2_200_000_000_001,
            "user_nick": str(body.get("user_nick") or "orderhub_dev_seller"),
            "content": json.dumps(refund, ensure_ascii=False),
        }
    )
    return {"message_id": str(message_id)}
