"""What the pull platforms (Taobao/Tmall TMC, Pinduoduo, JD) share. Pure Python.

These platforms do not post to us: OrderHub calls their router APIs on a schedule
(chalicelib/api/pollers.py) with requests signed by the store's app secret. Each platform's
module (taobao.py, pinduoduo.py, jd.py) builds its signed request parameters, reads its
answers into canonical `OrderEvent`s and maps its `error_response` to one of the errors in
chalicelib/domain/polling.py (retry next run, bad credentials, refused request).

The store's secret JSON (Secrets Manager, `orderhub/stores/{platform}/{store}`):

    {"app_key": "...", "app_secret": "...", "session": "..."}

`session` (Taobao's name) may be given as `access_token` (Pinduoduo's and JD's name), and
Pinduoduo's `client_id` / `client_secret` are read as app key and secret. Taobao also reads
`tmc_group` (the TMC user group to consume, default: the app's default group),
`seller_nick` (when set, TMC messages for another seller are left alone) and `sign_method`
(`md5`, the default, `hmac` or `hmac-sha256`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.channels.base import check_kind
from chalicelib.domain.errors import InvalidPayload, OrderHubError
from chalicelib.domain.model import OrderEvent, order_key
from chalicelib.domain.polling import (
    Batch,
    Page,
    PlatformCredentialsRejected,
    PlatformRequestRejected,
    PlatformUnavailable,
    Rejected,
)
from chalicelib.domain.ports import Store


@dataclass(frozen=True)
class PullCredentials:
    """What a pull store signs its calls with. Secrets: never logged."""

    app_key: str
    app_secret: str
    session: str
    tmc_group: str = ""
    seller_nick: str = ""
    sign_method: str = "md5"

    def __repr__(self) -> str:  # the dataclass default would print the secret
        return f"PullCredentials(app_key={self.app_key!r}, ...)"


def _first(secret: Mapping[str, Any], *names: str) -> str:
    for name in names:
        value = secret.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return ""


def pull_credentials(secret: Mapping[str, Any], platform: str) -> PullCredentials:
    """The store's secret JSON read into credentials; PlatformCredentialsRejected naming the
    missing fields (a configuration mistake: alarmed, nothing is polled for the store)."""
    credentials = PullCredentials(
        app_key=_first(secret, "app_key", "client_id"),
        app_secret=_first(secret, "app_secret", "client_secret"),
        session=_first(secret, "session", "access_token"),
        tmc_group=_first(secret, "tmc_group"),
        seller_nick=_first(secret, "seller_nick"),
        sign_method=_first(secret, "sign_method").lower() or "md5",
    )
    missing = [
        name
        for name, value in (
            ("app_key", credentials.app_key),
            ("app_secret", credentials.app_secret),
            ("session (or access_token)", credentials.session),
        )
        if not value
    ]
    if missing:
        raise PlatformCredentialsRejected(
            f"the {platform} store's secret lacks {', '.join(missing)}: add them to the "
            "store's secret in Secrets Manager (docs/platforms.md, pull platforms)"
        )
    return credentials


def sorted_concat(params: Mapping[str, str], skip_empty: bool = True) -> str:
    """`k1v1k2v2...` over the parameters sorted by name (byte order), `sign` left out: the
    string all three platforms' signatures are computed over. TOP's SDK also leaves out empty
    values (`skip_empty`); OrderHub never sends an empty parameter, so it matters only to
    the signing vectors."""
    return "".join(
        f"{key}{value}"
        for key, value in sorted(params.items())
        if key != "sign" and (value != "" or not skip_empty)
    )


CREDENTIAL_WORDS = (
    "token",
    "sign",
    "app_key",
    "appkey",
    "client_id",
    "secret",
    "session",
    "签名",
    "授权",
)
TRANSIENT_WORDS = (
    "limit",
    "busy",
    "system",
    "timeout",
    "unavailable",
    "频繁",
    "限流",
    "繁忙",
    "系统",
    "超时",
)


def classify_refusal(detail: str, wording: str) -> OrderHubError:
    """A platform refusal read by its wording, for platforms whose error codes we could not
    confirm from a primary source (Pinduoduo, JD): credentials words first (a token or
    signature problem never gets better by waiting), then passing-failure words; anything
    else is a refused request. A wrong guess changes only which alarm fires: in every case
    the cursor stays where it is and the next run asks again."""
    lowered = wording.lower()
    if any(word in lowered for word in CREDENTIAL_WORDS):
        return PlatformCredentialsRejected(
            f"{detail}: check the store's app key, secret and access token (re-authorize the "
            "app if the token expired)"
        )
    if any(word in lowered for word in TRANSIENT_WORDS):
        return PlatformUnavailable(f"{detail}: retried on the next run")
    return PlatformRequestRejected(detail)


def rejection(
    platform: str, store: Store, order: Any, id_field: str, time_field: str, exc: InvalidPayload
) -> Rejected:
    """The record of a listed order that can never be booked, keyed by its id and update time
    (so a later, valid state of the same order still books); an order without an id is keyed
    by a digest of what was listed."""
    fields = order if isinstance(order, Mapping) else {}
    order_id = str(fields.get(id_field) or "").strip()
    stamp = str(fields.get(time_field) or "").strip()
    if not order_id:
        listed = json.dumps(order, sort_keys=True, default=str, ensure_ascii=False)
        digest = hashlib.sha256(listed.encode("utf-8")).hexdigest()[:32]
        return Rejected(f"invalid#{platform}#{store.store_id}#sha256:{digest}", "", exc.message)
    return Rejected(
        f"invalid#{platform}#{store.store_id}#{order_id}:{stamp}",
        order_key(platform, store.store_id, order_id),
        exc.message,
    )


def parse_order_list(
    orders: Any,
    total_value: Any,
    list_path: str,
    platform: str,
    store: Store,
    received_at: datetime,
    raw_text: str,
    order_event: Callable[[Mapping[str, Any], str, Store, datetime], OrderEvent],
    id_field: str,
    time_field: str,
) -> Page:
    """One answer page of an incremental order query (Pinduoduo, JD): an event per listed
    order, the orders that can never be booked (recorded as rejected, so one bad order does not
    hold the cursor back for good), and the total the platform reports for the window."""
    if not isinstance(orders, list):
        raise PlatformUnavailable(f"{list_path} is not a list")
    text_total = str(total_value or "").strip()
    total = int(text_total) if text_total.isdigit() else 0
    events: list[OrderEvent] = []
    rejected: list[Rejected] = []
    for i, order in enumerate(orders):
        path = f"{list_path}[{i}]"
        try:
            check_kind(order, path, dict)
            events.append(order_event(order, path, store, received_at))
        except InvalidPayload as exc:
            rejected.append(rejection(platform, store, order, id_field, time_field, exc))
    return Page(Batch(tuple(events), raw_text, tuple(rejected)), max(total, len(orders)))
