"""快递100 (Kuaidi100) subscription push: verify and read one callback. Pure Python.

The subscription (`POST https://poll.kuaidi100.com/poll`, form `schema=json&param=<JSON>`,
the JSON holding `company`, `number`, `key` and `parameters: {callbackurl, salt, resultv2}`)
makes 快递100 push every change of the parcel to our callback URL as a form-encoded POST:

    sign=<32 upper-case hex>&param=<JSON>

`sign` = upper-case hex MD5(param + salt), param exactly as sent (form-decoded), salt the
random text we gave when subscribing (documented: "加密方式：md5(推送时的param+订阅时设置的
salt)，注意加密后字符串一定要转32位大写"). `param` holds `status` (polling | shutdown | abort
| updateall), `message`, `autoCheck`, `comOld`, `comNew` and `lastResult`: `{message, state,
status, condition, ischeck, com, nu, data: [{context, time, ftime, status, areaCode,
areaName}, ...]}`, the whole track newest first; times are Beijing wall-clock text
("2021-06-14 17:31:57"). `state` (基础物流状态): 0 在途, 1 揽收, 2 疑难, 3 签收, 4 退签,
5 派件, 6 退回, 7 转投, 8 清关, 14 拒签; with resultv2 the sub-states are 3-digit codes whose
first digit(s) name the main state (e.g. 301 → 3).

The reply 快递100 expects: `{"result": true, "returnCode": "200", "message": "成功"}`; any
other answer makes it push again later.

The poll backup (`POST https://poll.kuaidi100.com/poll/query.do`, form `customer`, `param`,
`sign` = upper-case MD5(param + key + customer)) answers `lastResult`'s shape at top level.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from chalicelib.domain.bounds import check_json_depth
from chalicelib.domain.errors import InvalidPayload, InvalidSignature
from chalicelib.domain.scrub import scrub_personal_data
from chalicelib.domain.timeutil import parse_in_zone
from chalicelib.domain.tracking import (
    DELIVERED,
    EXCEPTION,
    IN_TRANSIT,
    KUAIDI100,
    MAX_CHECKPOINT_TEXT,
    PENDING,
    RETURNED,
    Checkpoint,
    TrackUpdate,
    newest_first_to_oldest,
)

ZONE = "Asia/Shanghai"
ACK = {"result": True, "returnCode": "200", "message": "成功"}
# 基础物流状态 → ours
STATES = {
    "0": IN_TRANSIT,
    "1": IN_TRANSIT,
    "2": EXCEPTION,
    "3": DELIVERED,
    "4": RETURNED,
    "5": IN_TRANSIT,
    "6": IN_TRANSIT,  # 退回: on its way back, still moving
    "7": IN_TRANSIT,
    "8": IN_TRANSIT,
    "10": IN_TRANSIT,
    "14": EXCEPTION,
}


def sign_kuaidi100(param: str, salt: str) -> str:
    """Upper-case hex MD5(param + salt): the callback's `sign`."""
    return hashlib.md5((param + salt).encode("utf-8")).hexdigest().upper()


def sign_kuaidi100_query(param: str, key: str, customer: str) -> str:
    """Upper-case hex MD5(param + key + customer): the query API's `sign`."""
    return hashlib.md5((param + key + customer).encode("utf-8")).hexdigest().upper()


def form_fields(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("body must be UTF-8 form data: sign=...&param=...") from None
    fields = parse_qs(text, keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def verify_kuaidi100(body: bytes, salts: Sequence[str]) -> str:
    """The `param` JSON text of a callback whose `sign` matches under one of `salts`."""
    fields = form_fields(body)
    param, offered = fields.get("param", ""), fields.get("sign", "").strip().upper()
    if not param:
        raise InvalidPayload("param is required (form field)")
    if not offered:
        raise InvalidSignature("sign is missing: subscribe with a salt so pushes are signed")
    if not any(hmac.compare_digest(sign_kuaidi100(param, s), offered) for s in salts):
        raise InvalidSignature("sign does not match MD5(param + salt)")
    return param


def _state(raw: Any) -> str:
    code = str(raw if raw is not None else "").strip()
    if code in STATES:
        return STATES[code]
    if len(code) >= 3 and code[:-2] in STATES:  # resultv2 sub-states: 301 -> 3, 1401 -> 14
        return STATES[code[:-2]]
    return IN_TRANSIT if code else PENDING


def _checkpoints(rows: Any) -> tuple[Checkpoint, ...]:
    found = []
    for i, row in enumerate(rows if isinstance(rows, list) else []):
        if not isinstance(row, Mapping):
            raise InvalidPayload(f"lastResult.data[{i}] must be an object")
        when = row.get("ftime") or row.get("time")
        try:
            at = parse_in_zone(str(when), ZONE)
        except ValueError as exc:
            raise InvalidPayload(f"lastResult.data[{i}].time: {exc}") from None
        text = scrub_personal_data(str(row.get("context") or ""))[:MAX_CHECKPOINT_TEXT]
        found.append(
            Checkpoint(at, text, str(row.get("status") or ""), str(row.get("areaName") or ""))
        )
    return newest_first_to_oldest(found)


def read_result(
    result: Mapping[str, Any], received_at: datetime, status: str, via: str
) -> TrackUpdate:
    """A `lastResult` (or a query answer) as our update."""
    carrier, number = str(result.get("com") or "").strip(), str(result.get("nu") or "").strip()
    if not carrier or not number:
        raise InvalidPayload("lastResult.com and lastResult.nu are required")
    state = DELIVERED if str(result.get("ischeck")) == "1" else _state(result.get("state"))
    return TrackUpdate(
        KUAIDI100,
        carrier.lower(),
        number.upper(),
        state,
        _checkpoints(result.get("data")),
        received_at,
        status,
        via,
    )


def parse_kuaidi100(param: str, received_at: datetime) -> TrackUpdate:
    """The update a verified callback's `param` carries."""
    check_json_depth(param, "param")  # nesting limited before parsing (domain/bounds.py)
    try:
        payload = json.loads(param)
    except ValueError as exc:
        raise InvalidPayload(f"param is not valid JSON: {exc}") from None
    if not isinstance(payload, Mapping):
        raise InvalidPayload("param must be a JSON object")
    result = payload.get("lastResult")
    if not isinstance(result, Mapping):
        raise InvalidPayload("param.lastResult is required (an object)")
    update = read_result(result, received_at, str(payload.get("status") or ""), "push")
    if payload.get("status") == "abort" and update.state not in (DELIVERED, RETURNED):
        # 快递100 gave up ("3天查询无记录", "60天无变化"): the track is not moving
        return TrackUpdate(
            update.provider,
            update.carrier,
            update.number,
            EXCEPTION,
            update.checkpoints,
            update.received_at,
            "abort: " + str(payload.get("message") or ""),
            update.via,
        )
    return update


def subscribe_form(
    carrier: str, number: str, key: str, callback_url: str, salt: str
) -> dict[str, str]:
    """The subscription request's form fields."""
    param = {
        "company": carrier,
        "number": number,
        "key": key,
        "parameters": {"callbackurl": callback_url, "salt": salt, "resultv2": "1"},
    }
    return {"schema": "json", "param": json.dumps(param, ensure_ascii=False)}


def query_form(carrier: str, number: str, key: str, customer: str) -> dict[str, str]:
    param = json.dumps({"com": carrier, "num": number, "resultv2": "1"}, ensure_ascii=False)
    return {
        "customer": customer,
        "param": param,
        "sign": sign_kuaidi100_query(param, key, customer),
    }
