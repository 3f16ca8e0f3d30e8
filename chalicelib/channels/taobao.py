"""Taobao / Tmall through TOP (the Taobao Open Platform) and TMC (its message service).

OrderHub pulls: `taobao.tmc.messages.consume` hands out the messages of the app's user group
(or `tmc_group`), each trade message is completed with `taobao.trade.fullinfo.get`, queued,
and only then confirmed with `taobao.tmc.messages.confirm` (chalicelib/domain/polling.py,
`drain_tmc`). There is no webhook URL; a store's secret holds app key, secret and the seller's
session (chalicelib/channels/pull.py).

Requests (POST, form-encoded, to ORDERHUB_TAOBAO_API_URL, default
https://eco.taobao.com/router/rest)
    Common parameters `method`, `app_key`, `session`, `timestamp` ("yyyy-MM-dd HH:mm:ss",
    GMT+8, which TOP accepts within 10 minutes of its clock), `format=json`, `v=2.0`,
    `sign_method`, `sign`. `sign_top`: parameters sorted by name, each name followed by its
    value (empty values left out), then
    - md5: upper-case hex MD5(secret + that + secret);
    - hmac: upper-case hex HMAC-MD5(key=secret, that);
    - hmac-sha256: upper-case hex HMAC-SHA256(key=secret, that).
    Source: the TOP SDK's `TaobaoUtils.signTopRequest` as public copies reproduce it (e.g. a
    Java copy in rajivnani/Furezaa-Api config/signTopRequest.java; go-dragon/dragon
    tools/top.go for md5). Copies disagree on "hmac": one Python copy uses SHA-256 for it; we
    follow the Java SDK (HMAC-MD5) and default to md5. Vectors in the tests are DERIVED.

Answers
    `tmc_messages_consume_response.messages.tmc_message[]` (TOP's JSON wraps lists in an
    object named after the element; a bare list is read too): `id` (64-bit: kept as text),
    `topic`, `content` (JSON text), `pub_time`, `user_id`, `user_nick` (field list:
    bububa/opentaobao model/tmc/TmcMessage.go; tests/fixtures/taobao_tmc). Trade messages
    (`taobao_trade_*` topics) carry little (`tid`, `payment`, nicks...), so the trade is
    fetched: `trade_fullinfo_get_response.trade`. Messages of other topics (refunds, items)
    are confirmed and queue nothing: a refund that closes the trade arrives as a trade
    message too.
    Errors: `error_response` {code, msg, sub_code, sub_msg}. Code 7 (App Call Limited), 10
    (service unavailable) and `isp.*` sub-codes (the platform's own failures) → retry next
    run; 11-13 (permissions), 24-29 (signature, session, app key) and `*session*` sub-codes →
    bad credentials (alarm); anything else (e.g. `isv.*` parameter errors) → refused. A trade
    that cannot be fetched for good (`isv.*`: not this seller's, not found) rejects its
    message (recorded, confirmed).

Trade → canonical event (`complete`: lines, currency and buyer are all there)
    - key `taobao#{store}#tmc:{message id}` (TMC redelivers a message under its id until it
      is confirmed: the second delivery is a duplicate); the message id is also kept as
      `platform_event_id`. The event carries the trade as fetched, so two messages fetched
      after the same change carry the same state, and booking moves stock once.
    - status: TRADE_NO_CREATE_PAY, WAIT_BUYER_PAY, PAY_PENDING, WAIT_PRE_AUTH_CONFIRM →
      unpaid; WAIT_SELLER_SEND_GOODS, SELLER_CONSIGNED_PART → paid; WAIT_BUYER_CONFIRM_GOODS,
      TRADE_BUYER_SIGNED, TRADE_FINISHED → shipped; TRADE_CLOSED (closed after payment,
      refunded) → refunded; TRADE_CLOSED_BY_TAOBAO (closed before payment) → cancelled. Any
      other status is refused (the message is rejected, naming it).
    - time: `modified`, naive text in the store's zone (Asia/Shanghai), kept as received.
    - lines: `orders.order[]`; SKU `outer_sku_id`, else `outer_iid` (the seller's codes),
      else `sku_id`, else `num_iid` as text (map those with `sku_mapping: table`); quantity
      `num`, unit price `price` (decimal text). A sub-order closed on its own (refunded
      before shipment while the trade goes on) holds nothing and is left out.
    - buyer: `receiver_name`, `receiver_mobile` (else `receiver_phone`), address from
      state, city, district, town and `receiver_address`. Taobao may hand these out masked
      or encrypted (OAID): they are kept as given. Currency CNY.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.channels.base import (
    buyer_or_none,
    check_kind,
    id_text,
    joined,
    load_json,
    money,
    quantity,
    require,
    text,
    zoned_time,
)
from chalicelib.channels.pull import PullCredentials, sorted_concat
from chalicelib.domain.errors import InvalidPayload, OrderHubError
from chalicelib.domain.model import OrderEvent, OrderLine, PlatformStatus, order_key
from chalicelib.domain.polling import (
    Batch,
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
    Rejected,
    TmcMessage,
)
from chalicelib.domain.ports import Store
from chalicelib.domain.timeutil import parse_in_zone

PLATFORM = "taobao"
DEFAULT_API_URL = "https://eco.taobao.com/router/rest"
PLATFORM_ZONE = ZoneInfo("Asia/Shanghai")  # TOP's `timestamp` is GMT+8
SIGN_METHODS = ("md5", "hmac", "hmac-sha256")
CONSUME = "taobao.tmc.messages.consume"
CONFIRM = "taobao.tmc.messages.confirm"
FULLINFO = "taobao.trade.fullinfo.get"
CONSUME_QUANTITY = 100  # TOP allows 10..200 per consume; confirm takes up to 200 ids
TRADE_TOPIC_PREFIX = "taobao_trade_"
TRADE_FIELDS = ",".join(
    (
        "tid",
        "status",
        "modified",
        "created",
        "pay_time",
        "payment",
        "receiver_name",
        "receiver_mobile",
        "receiver_phone",
        "receiver_state",
        "receiver_city",
        "receiver_district",
        "receiver_town",
        "receiver_address",
        "orders",
    )
)

STATUSES: dict[str, PlatformStatus] = {
    "TRADE_NO_CREATE_PAY": PlatformStatus.UNPAID,
    "WAIT_BUYER_PAY": PlatformStatus.UNPAID,
    "PAY_PENDING": PlatformStatus.UNPAID,
    "WAIT_PRE_AUTH_CONFIRM": PlatformStatus.UNPAID,
    "WAIT_SELLER_SEND_GOODS": PlatformStatus.PAID,
    "SELLER_CONSIGNED_PART": PlatformStatus.PAID,
    "WAIT_BUYER_CONFIRM_GOODS": PlatformStatus.SHIPPED,
    "TRADE_BUYER_SIGNED": PlatformStatus.SHIPPED,
    "TRADE_FINISHED": PlatformStatus.SHIPPED,
    "TRADE_CLOSED": PlatformStatus.REFUNDED,
    "TRADE_CLOSED_BY_TAOBAO": PlatformStatus.CANCELLED,
}
CLOSED_SUB_ORDER = frozenset({"TRADE_CLOSED", "TRADE_CLOSED_BY_TAOBAO"})
EVENT_TYPES = {
    PlatformStatus.UNPAID: "created",
    PlatformStatus.PAID: "paid",
    PlatformStatus.SHIPPED: "shipped",
    PlatformStatus.CANCELLED: "cancelled",
    PlatformStatus.REFUNDED: "refunded",
}
CREDENTIAL_CODES = frozenset({"11", "12", "13", "24", "25", "26", "27", "28", "29"})
TRANSIENT_CODES = frozenset({"7", "10"})


# ---- requests ----------------------------------------------------------------------------------


def sign_top(params: Mapping[str, str], secret: str, sign_method: str = "md5") -> str:
    """TOP's `sign` over the request parameters (see the module docstring)."""
    concat = sorted_concat(params).encode("utf-8")
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + concat + key, usedforsecurity=False).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, concat, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, concat, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"sign_method '{sign_method}' is not one of: {', '.join(SIGN_METHODS)}")


def top_timestamp(now: datetime) -> str:
    return now.astimezone(PLATFORM_ZONE).strftime("%Y-%m-%d %H:%M:%S")


def top_request(
    method: str, business: Mapping[str, str], credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    """The signed form parameters of one TOP call."""
    if credentials.sign_method not in SIGN_METHODS:
        raise PlatformCredentialsRejected(
            f"the Taobao store's sign_method '{credentials.sign_method}' is not one of "
            f"{', '.join(SIGN_METHODS)}"
        )
    params = {
        "method": method,
        "app_key": credentials.app_key,
        "session": credentials.session,
        "timestamp": top_timestamp(now),
        "format": "json",
        "v": "2.0",
        "sign_method": credentials.sign_method,
        **{k: v for k, v in business.items() if v != ""},
    }
    params["sign"] = sign_top(params, credentials.app_secret, credentials.sign_method)
    return params


def consume_request(credentials: PullCredentials, now: datetime) -> dict[str, str]:
    business = {"quantity": str(CONSUME_QUANTITY), "group_name": credentials.tmc_group}
    return top_request(CONSUME, business, credentials, now)


def confirm_request(
    message_ids: list[str], credentials: PullCredentials, now: datetime
) -> dict[str, str]:
    business = {"s_message_ids": ",".join(message_ids), "group_name": credentials.tmc_group}
    return top_request(CONFIRM, business, credentials, now)


def fullinfo_request(tid: str, credentials: PullCredentials, now: datetime) -> dict[str, str]:
    return top_request(FULLINFO, {"tid": tid, "fields": TRADE_FIELDS}, credentials, now)


# ---- answers -----------------------------------------------------------------------------------


def top_error(error: Any) -> OrderHubError:
    """The domain error an `error_response` stands for."""
    error = error if isinstance(error, Mapping) else {}
    code = str(error.get("code", "")).strip()
    sub_code = str(error.get("sub_code") or "")
    detail = (
        f"Taobao answered error {code or '?'} {error.get('msg') or ''}"
        f" ({sub_code or 'no sub_code'}: {error.get('sub_msg') or ''})"
    )
    if code in CREDENTIAL_CODES or "session" in sub_code.lower():
        return PlatformCredentialsRejected(
            f"{detail}: check the store's app_key, app_secret and session (re-authorize the "
            "seller if the session expired)"
        )
    if code in TRANSIENT_CODES or sub_code.startswith("isp.") or "limit" in sub_code.lower():
        return PlatformUnavailable(f"{detail}: retried on the next run")
    return PlatformRequestRejected(detail)


def top_answer(payload: Any, response_key: str) -> Mapping[str, Any]:
    """The named response object of a TOP answer; its error_response raised as a domain error."""
    if not isinstance(payload, Mapping):
        raise PlatformUnavailable("Taobao answered something that is not a JSON object")
    if "error_response" in payload:
        raise top_error(payload["error_response"])
    answer = payload.get(response_key)
    if not isinstance(answer, Mapping):
        raise PlatformUnavailable(f"Taobao's answer lacks {response_key}")
    return answer


def listed(container: Any, element: str) -> list[Any]:
    """TOP's JSON lists: `{"<element>": [...]}` (or a bare list); absent or empty: []."""
    if isinstance(container, list):
        return container
    if isinstance(container, Mapping):
        inner = container.get(element)
        if isinstance(inner, list):
            return inner
        if isinstance(inner, Mapping):  # one element, unwrapped
            return [inner]
    return []


def parse_consumed(payload: Any) -> list[TmcMessage]:
    """The messages of a consume answer, in the order given."""
    answer = top_answer(payload, "tmc_messages_consume_response")
    messages = []
    for i, raw in enumerate(listed(answer.get("messages"), "tmc_message")):
        path = f"$.tmc_messages_consume_response.messages.tmc_message[{i}]"
        if not isinstance(raw, Mapping):
            raise PlatformRequestRejected(f"{path} is not an object")
        try:
            message_id = id_text(raw, "id", path)
        except InvalidPayload as exc:  # cannot even be confirmed: the platform's problem
            raise PlatformRequestRejected(exc.message) from None
        content_text = raw.get("content")
        content: Any = {}
        if isinstance(content_text, str) and content_text.strip():
            try:
                content = load_json(content_text.encode("utf-8"))
            except InvalidPayload:
                content = {"_unreadable": content_text}
        elif isinstance(content_text, Mapping):
            content = content_text
        messages.append(
            TmcMessage(
                message_id=message_id,
                topic=text(raw, "topic"),
                content=content if isinstance(content, Mapping) else {"_value": content},
                pub_time=text(raw, "pub_time"),
                user_id=str(raw.get("user_id") or ""),
                user_nick=text(raw, "user_nick"),
                envelope=dict(raw),
            )
        )
    return messages


def check_confirmed(payload: Any) -> None:
    answer = top_answer(payload, "tmc_messages_confirm_response")
    if answer.get("is_success") is False:
        raise PlatformUnavailable("Taobao did not confirm the messages (is_success false)")


def trade_of(payload: Any) -> Mapping[str, Any]:
    trade = top_answer(payload, "trade_fullinfo_get_response").get("trade")
    if not isinstance(trade, Mapping):
        raise InvalidPayload("$.trade_fullinfo_get_response.trade is required")
    return trade


def _line(raw: Any, path: str) -> OrderLine | None:
    check_kind(raw, path, dict)
    if text(raw, "status") in CLOSED_SUB_ORDER:
        return None
    sku = text(raw, "outer_sku_id") or text(raw, "outer_iid")
    for fallback in ("sku_id", "num_iid"):
        if not sku and raw.get(fallback) not in (None, ""):
            sku = id_text(raw, fallback, path)
    if not sku:
        raise InvalidPayload(f"{path} has no outer_sku_id, outer_iid, sku_id or num_iid")
    count = quantity(raw, "num", path)
    return OrderLine(sku, count, money(raw, "price", path)) if count else None


def trade_event(
    trade: Mapping[str, Any], message: TmcMessage, store: Store, received_at: datetime
) -> OrderEvent:
    """The canonical event for a trade fetched for a TMC message."""
    path = "$.trade"
    tid = id_text(trade, "tid", path)
    status_text = require(trade, "status", path, str)
    status = STATUSES.get(status_text)
    if status is None:
        raise InvalidPayload(
            f"{path}.status '{status_text}' is not a known trade status ({', '.join(STATUSES)})"
        )
    updated_at, updated_at_raw = zoned_time(trade, "modified", path, store.timezone)
    orders = listed(trade.get("orders"), "order")
    lines = [
        line
        for i, raw in enumerate(orders)
        if (line := _line(raw, f"{path}.orders.order[{i}]")) is not None
    ]
    if not lines and status not in (PlatformStatus.CANCELLED, PlatformStatus.REFUNDED):
        raise InvalidPayload(f"{path}.orders has no open line with a quantity")
    address = joined(
        (
            text(trade, field)
            for field in (
                "receiver_state",
                "receiver_city",
                "receiver_district",
                "receiver_town",
                "receiver_address",
            )
        ),
        " ",
    )
    buyer = buyer_or_none(
        text(trade, "receiver_name"),
        text(trade, "receiver_mobile") or text(trade, "receiver_phone"),
        address,
    )
    return OrderEvent(
        event_key=f"{PLATFORM}#{store.store_id}#tmc:{message.message_id}",
        platform=store.platform,
        store=store.store_id,
        order_id=tid,
        event_type=EVENT_TYPES[status],
        status=status,
        updated_at=updated_at,
        updated_at_raw=updated_at_raw,
        currency="CNY",
        lines=tuple(lines),
        buyer=buyer,
        received_at=received_at,
        platform_event_id=message.message_id,
        sent_at=_pub_time(message.pub_time),
    )


def _pub_time(raw: str) -> datetime | None:
    """TMC's `pub_time` (Beijing, "yyyy-MM-dd HH:mm:ss"): when TMC published the message,
    what clock skew is measured on (domain/skew.py); None when absent or unreadable."""
    try:
        return parse_in_zone(raw, str(PLATFORM_ZONE)) if raw else None
    except ValueError:
        return None


def _raw(message: TmcMessage, trade_text: str | None) -> str:
    envelope = json.dumps(message.envelope, ensure_ascii=False, default=str)
    return f'{{"message": {envelope}, "trade": {trade_text or "null"}}}'


def read_tmc_message(
    message: TmcMessage,
    fetch_trade: Callable[[str], tuple[str, Any]],
    store: Store,
    credentials: PullCredentials,
    received_at: datetime,
) -> Batch | None:
    """What one TMC message becomes: a batch with its event, an empty batch (not an order
    topic: confirm it), a batch with a rejection (can never be booked: record and confirm),
    or None (another seller's message: leave it unconfirmed).

    `fetch_trade(tid)` returns the fullinfo answer as received (text, parsed JSON). Its
    PlatformUnavailable (retry later) and PlatformCredentialsRejected (stop), raised by the
    call or read from the answer, propagate."""
    if not message.topic.startswith(TRADE_TOPIC_PREFIX):
        return Batch((), _raw(message, None))
    if credentials.seller_nick and message.user_nick != credentials.seller_nick:
        return None
    reject_key = f"invalid#{PLATFORM}#{store.store_id}#tmc:{message.message_id}"
    try:
        tid = id_text(message.content, "tid", "$.content")
    except InvalidPayload as exc:
        return Batch((), _raw(message, None), (Rejected(reject_key, "", exc.message),))
    order = order_key(PLATFORM, store.store_id, tid)
    trade_text: str | None = None
    try:
        trade_text, payload = fetch_trade(tid)
        event = trade_event(trade_of(payload), message, store, received_at)
    except (PlatformRequestRejected, InvalidPayload) as exc:
        rejected = Rejected(reject_key, order, exc.message)
        return Batch((), _raw(message, trade_text), (rejected,))
    return Batch((event,), _raw(message, trade_text))
