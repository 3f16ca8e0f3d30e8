"""A buyer's data in clear, under the two-person rule (domain/reveal.py, docs/access.md).

- `POST /orders/{platform}/{store}/{order_id}/personal-data/requests` `{"reason"}`
  (`decrypt`): ask; 201 with the request id. Audited `personal_data.request`.
- `POST /personal-data/requests/{request_id}/approve` (`approve_decrypt`): another person
  approves; the requester may reveal that order for 30 minutes. Audited
  `personal_data.approve`.
- `POST /orders/{platform}/{store}/{order_id}/personal-data` `{"request_id"}` (`decrypt`):
  the buyer's name, phone, address, email and ID number in clear (one KMS Decrypt with the
  order's encryption context); `?include=raw` adds the raw payload of the event that last
  changed the order. Each answer is audited (`personal_data.decrypt`: who, when, from where,
  the request's reason and approver, which fields were shown, never their values) and
  carries `Cache-Control: no-store`. Over 20 reveals an hour by one key: 429 and a P1
  `bulk_decrypt` anomaly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint

from chalicelib.api.access import audit, principal_of
from chalicelib.api.http import api_errors, json_response, read_json
from chalicelib.deps import Container, container
from chalicelib.domain.archive import raw_location
from chalicelib.domain.audit import Action
from chalicelib.domain.bounds import check_id
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.model import Anomaly, Order, Priority, order_key
from chalicelib.domain.personal_data import audit_after, reveal_personal_data
from chalicelib.domain.reveal import (
    MAX_REVEALS_PER_HOUR,
    RevealRequest,
    TooManyReveals,
    approve,
    bulk_detail,
    check_grant,
    hour_of,
    new_request,
    parse_reason,
)
from chalicelib.domain.timeutil import parse_aware
from chalicelib.observability import logger

bp = Blueprint(__name__)


def _include_raw(query: Any) -> bool:
    wanted = [part for part in str((query or {}).get("include") or "").split(",") if part]
    unknown = sorted(set(wanted) - {"raw"})
    if unknown:
        raise InvalidPayload(f"include may only be 'raw', got {', '.join(unknown)}")
    return "raw" in wanted


def last_raw_document(deps: Container, order: Order) -> tuple[str, dict[str, Any] | None]:
    """The archived payload of the event that last changed the order (found through its
    trail: the batch object it names, or platform, store and receipt time name the key)."""
    event_key = order.last_event_key
    trail = deps.trail.get(event_key) if event_key else None
    received = (trail or {}).get("received_at")
    if not received:
        return event_key, None
    at = received if isinstance(received, datetime) else parse_aware(str(received))
    where = {**(trail or {}), "platform": order.platform, "store": order.store}
    key = raw_location({**where, "event_key": event_key}, at)
    return event_key, deps.raw_archive.read(key)


@bp.route("/orders/{platform}/{store}/{order_id}/personal-data", methods=["POST"])
@api_errors
def handle_decrypt_personal_data(platform: str, store: str, order_id: str) -> Any:
    request = bp.current_request
    body = read_json(request.raw_body)
    include_raw = _include_raw(request.query_params)
    deps = container()
    key = order_key(platform, store, order_id)
    order = deps.orders.get_order(key)
    if order is None:
        raise NotFound(f"no order '{order_id}' from {platform}/{store} has been processed")
    grant = use_grant(deps, request, key, _request_id(body))
    raw_event_key, document = last_raw_document(deps, order) if include_raw else ("", None)
    revealed = reveal_personal_data(order, deps.personal_data, document, raw_event_key)
    audit(
        Action.PERSONAL_DATA_DECRYPT,
        f"order/{key}",
        after={
            **audit_after(revealed, grant.reason),
            "request_id": grant.request_id,
            "approved_by": grant.approver.owner if grant.approver else None,
        },
        request=request,
    )
    return json_response(revealed.to_dict(), headers={"Cache-Control": "no-store"})


def _request_id(body: Any) -> str:
    found = body.get("request_id") if isinstance(body, dict) else None
    if not isinstance(found, str) or not found.strip():
        raise InvalidPayload(
            'send {"request_id": "<an approved request for this order>"}: a reveal needs a '
            "request approved by a second person (POST .../personal-data/requests)"
        )
    return check_id(found.strip(), "request_id")


def use_grant(deps: Container, request: Any, key: str, request_id: str) -> RevealRequest:
    """The caller's approved request for order `key`, counted against the hourly bulk limit
    (over it: a P1 `bulk_decrypt` anomaly, an audit entry and 429). Forbidden without one."""
    caller = principal_of(request)
    now = deps.now()
    grant = check_grant(deps.reveals.get_request(request_id), caller, key, now)
    hour = hour_of(now)
    count = deps.reveals.count_reveal(caller.key_id, hour)
    if count > MAX_REVEALS_PER_HOUR:
        detail = bulk_detail(caller.key_id, caller.owner, count, hour)
        deps.orders.open_anomaly(Anomaly("bulk_decrypt", caller.key_id, Priority.P1, detail), now)
        audit(
            Action.PERSONAL_DATA_BULK_REFUSED,
            f"order/{key}",
            after={"request_id": request_id, "reveals_this_hour": count},
            request=request,
        )
        logger().warning("bulk reveal refused", extra={"key_id": caller.key_id, "count": count})
        raise TooManyReveals(
            f"{count} reveals by this key this hour; at most {MAX_REVEALS_PER_HOUR} an hour. "
            "An admin has been alerted (bulk_decrypt)"
        )
    return grant


@bp.route(
    "/orders/{platform}/{store}/{order_id}/personal-data/requests",
    methods=["POST"],
)
@api_errors
def handle_request_reveal(platform: str, store: str, order_id: str) -> Any:
    """Ask to see the order's buyer in clear: {"reason"} -> 201 {request_id, status pending}."""
    request = bp.current_request
    reason = parse_reason(read_json(request.raw_body))
    deps = container()
    key = order_key(platform, store, order_id)
    if deps.orders.get_order(key) is None:
        raise NotFound(f"no order '{order_id}' from {platform}/{store} has been processed")
    asked = new_request(key, principal_of(request), reason, deps.now())
    deps.reveals.save_request(asked)
    audit(Action.PERSONAL_DATA_REQUEST, f"order/{key}", after=asked.view(), request=request)
    return json_response(asked.view(), 201)


@bp.route("/personal-data/requests/{request_id}/approve", methods=["POST"])
@api_errors
def handle_approve_reveal(request_id: str) -> Any:
    """A second person approves: the requester may reveal that order for 30 minutes."""
    request = bp.current_request
    deps = container()
    asked = deps.reveals.get_request(request_id)
    if asked is None:
        raise NotFound(f"no reveal request '{request_id}'")
    approved = approve(asked, principal_of(request), deps.now())
    deps.reveals.save_request(approved)
    audit(
        Action.PERSONAL_DATA_APPROVE,
        f"order/{approved.order_key}",
        before=asked.view(),
        after=approved.view(),
        request=request,
    )
    return json_response(approved.view())
