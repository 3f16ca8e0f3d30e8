"""POST /orders/{platform}/{store}/{order_id}/personal-data: a buyer's data in clear.

The second authorization the seller asked for: the route needs `decrypt` (admin and cs, see
docs/access.md) and a stated reason, `{"reason": "..."}` (at least 10 characters, else 400).
The answer holds the buyer's name, phone, address, email and ID number in clear (one KMS
Decrypt with the order's encryption context); `?include=raw` adds the raw payload of the
event that last changed the order. Every answer is audited (`personal_data.decrypt`: who,
when, from where, the reason and which fields were shown, never their values) and carries
`Cache-Control: no-store`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice import Blueprint

from chalicelib.api.access import audit
from chalicelib.api.http import api_errors, json_response, read_json
from chalicelib.deps import Container, container
from chalicelib.domain.archive import raw_key_of
from chalicelib.domain.audit import Action
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.model import Order, order_key
from chalicelib.domain.personal_data import audit_after, decrypt_reason, reveal_personal_data
from chalicelib.domain.timeutil import parse_aware

bp = Blueprint(__name__)


def _include_raw(query: Any) -> bool:
    wanted = [part for part in str((query or {}).get("include") or "").split(",") if part]
    unknown = sorted(set(wanted) - {"raw"})
    if unknown:
        raise InvalidPayload(f"include may only be 'raw', got {', '.join(unknown)}")
    return "raw" in wanted


def last_raw_document(deps: Container, order: Order) -> tuple[str, dict[str, Any] | None]:
    """The archived payload of the event that last changed the order (found through its
    trail: platform, store and receipt time name the archive key)."""
    event_key = order.last_event_key
    trail = deps.trail.get(event_key) if event_key else None
    received = (trail or {}).get("received_at")
    if not received:
        return event_key, None
    at = received if isinstance(received, datetime) else parse_aware(str(received))
    key = raw_key_of(order.platform, order.store, event_key, at)
    return event_key, deps.raw_archive.read(key)


@bp.route("/orders/{platform}/{store}/{order_id}/personal-data", methods=["POST"])
@api_errors
def handle_decrypt_personal_data(platform: str, store: str, order_id: str) -> Any:
    request = bp.current_request
    try:
        body = read_json(request.raw_body)
    except InvalidPayload:  # the reason check below names what is missing
        body = None
    reason = decrypt_reason(body)
    include_raw = _include_raw(request.query_params)
    deps = container()
    key = order_key(platform, store, order_id)
    order = deps.orders.get_order(key)
    if order is None:
        raise NotFound(f"no order '{order_id}' from {platform}/{store} has been processed")
    raw_event_key, document = last_raw_document(deps, order) if include_raw else ("", None)
    revealed = reveal_personal_data(order, deps.personal_data, document, raw_event_key)
    audit(
        Action.PERSONAL_DATA_DECRYPT,
        f"order/{key}",
        after=audit_after(revealed, reason),
        request=request,
    )
    return json_response(revealed.to_dict(), headers={"Cache-Control": "no-store"})
