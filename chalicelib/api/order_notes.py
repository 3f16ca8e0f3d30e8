"""Notes on orders, pick lists from the WMS, and the monthly review's root causes and actions
(domain/order_notes.py). Each write is idempotent and audited; the texts are scrubbed of
personal data before anything stores them."""

from __future__ import annotations

import uuid
from typing import Any

from chalice import Blueprint

from chalicelib.api.access import audit, principal_of
from chalicelib.api.http import api_errors, json_response, read_json
from chalicelib.deps import container
from chalicelib.domain.audit import Action
from chalicelib.domain.errors import NotFound
from chalicelib.domain.model import order_key
from chalicelib.domain.order_notes import (
    parse_month,
    parse_note,
    parse_pick_list,
    parse_review_note,
)
from chalicelib.observability import logger

bp = Blueprint(__name__)


def _json_body() -> Any:
    return read_json(bp.current_request.raw_body)  # depth-limited (domain/bounds.py)


@bp.route("/orders/{platform}/{store}/{order_id}/notes", methods=["POST"])
@api_errors
def handle_add_order_note(platform: str, store: str, order_id: str) -> Any:
    """A note by customer service or ops: shown in the order's timeline with its author."""
    request = bp.current_request
    deps = container()
    key = order_key(platform, store, order_id)
    caller = principal_of(request)
    note = parse_note(
        _json_body(),
        key,
        caller.owner or caller.key_id,
        caller.role,
        deps.now(),
        uuid.uuid4().hex[:16],
    )
    if deps.orders.get_order(key) is None:
        raise NotFound(f"no order {order_id} from {platform}/{store}; notes go on known orders")
    added = deps.order_activity.add_note(note)
    if added:
        audit(
            Action.ORDER_NOTE,
            f"order/{key}",
            after={"note_id": note.note_id, "chars": len(note.text)},
            request=request,
        )
    return json_response(
        {"status": "added" if added else "duplicate", "note": note.to_dict()},
        201 if added else 200,
    )


@bp.route("/wms/pick-lists", methods=["POST"])
@api_errors
def handle_pick_list() -> Any:
    """The WMS printed a pick list naming these orders: `paid_not_picked` stops waiting for
    them. Idempotent per (list, order); every order must be known (404 names the first that
    is not, and nothing is recorded)."""
    request = bp.current_request
    deps = container()
    pick = parse_pick_list(_json_body(), deps.now())
    for key in pick.order_keys:
        if deps.orders.get_order(key) is None:
            platform, store, order_id = key.split("#", 2)
            raise NotFound(
                f"orders: no order {order_id} from {platform}/{store}; nothing was recorded"
            )
    recorded = [key for key in pick.order_keys if deps.order_activity.record_pick(pick, key)]
    if recorded:
        audit(
            Action.WMS_PICK_LIST,
            f"pick_list/{pick.pick_list_id}",
            after={
                "printed_at": pick.printed_at.isoformat(),
                "warehouse": pick.warehouse,
                "orders": recorded,
            },
            request=request,
        )
    logger().info("pick list", extra={"pick_list_id": pick.pick_list_id, "recorded": len(recorded)})
    return json_response(
        {
            "status": "recorded" if recorded else "duplicate",
            "pick_list_id": pick.pick_list_id,
            "printed_at": pick.printed_at.isoformat(),
            "recorded": recorded,
            "already_recorded": [k for k in pick.order_keys if k not in recorded],
        }
    )


@bp.route("/reports/monthly-review/{month}/notes", methods=["POST"])
@api_errors
def handle_add_review_note(month: str) -> Any:
    """One anomaly type's root cause and action for a month's review (replaces an earlier
    one); the next month's review report shows them."""
    request = bp.current_request
    deps = container()
    caller = principal_of(request)
    note = parse_review_note(_json_body(), month, caller.owner or caller.key_id, deps.now())
    deps.order_activity.save_review_note(note)
    audit(
        Action.REVIEW_NOTE,
        f"review/{note.month}/{note.rule}",
        after={"root_cause": note.root_cause, "action": note.action},
        request=request,
    )
    return json_response(note.to_dict(), 201)


@bp.route("/reports/monthly-review/{month}/notes", methods=["GET"])
@api_errors
def handle_list_review_notes(month: str) -> Any:
    deps = container()
    notes = deps.order_activity.review_notes(parse_month(month))
    return json_response(
        {"month": month, "notes": [n.to_dict() for n in sorted(notes, key=lambda n: n.rule)]}
    )
