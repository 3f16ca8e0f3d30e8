"""GET /orders/{platform}/{store}/{order_id}/timeline: the one-click order view.

Everything OrderHub knows about one order, in time order (chalicelib/domain/timeline.py),
with the order itself masked exactly as GET /orders shows it. `?include=raw&reason=...&request=`
adds the platforms' raw payloads: the route's `read_timeline` is not enough for that, the
caller also needs `decrypt` (declared in `api/access.py`, QUERY_PERMISSIONS) and an approved
reveal request for the order (the two-person rule, api/personal_data.py), and the read is
audited with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.adapters.deferred import deferred_imports
from chalicelib.api.access import audit
from chalicelib.api.http import api_errors, json_response
from chalicelib.api.personal_data import use_grant
from chalicelib.api.queries import may_see_amounts, order_view
from chalicelib.deps import container
from chalicelib.domain.audit import Action
from chalicelib.domain.bounds import check_id
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import order_key
from chalicelib.domain.order_actions import without_amounts

if TYPE_CHECKING:
    from chalicelib.domain.timeline import order_timeline, parse_include
    from chalicelib.domain.timeline_activity import (
        activity_entries,
        after_sales_entries,
        track_entries,
        track_view,
        with_entries,
    )
else:  # the timeline's own modules come with its first call (adapters/deferred.py)
    globals().update(deferred_imports(__file__, "chalicelib.domain"))

bp = Blueprint(__name__)


@bp.route("/orders/{platform}/{store}/{order_id}/timeline", methods=["GET"])
@api_errors
def handle_get_order_timeline(platform: str, store: str, order_id: str) -> Any:
    request = bp.current_request
    include_raw, reason = parse_include(request.query_params)
    deps = container()
    key = order_key(platform, store, order_id)
    grant = None
    if include_raw:  # the buyer in clear: the two-person rule, as for personal-data
        query: dict[str, str] = dict(request.query_params or {})
        asked = str(query.get("request") or "").strip()
        if not asked:
            raise InvalidPayload(
                "include=raw shows the buyer's data in clear: add request=<an approved reveal "
                "request for this order> (POST .../personal-data/requests, then approval)"
            )
        grant = use_grant(deps, request, key, check_id(asked, "request"))
    order = deps.orders.get_order(key)
    timeline = order_timeline(
        key,
        order,
        deps.order_history,
        include_raw=include_raw,
        vault=deps.personal_data if include_raw else None,
    )
    # notes, pick lists and the carrier track (domain/timeline_activity.py)
    tracks = deps.tracks.for_order(key)
    timeline = with_entries(
        timeline,
        activity_entries(deps.order_activity.entries(key))
        + track_entries(tracks)
        + after_sales_entries(deps.after_sales.for_order(key)),
    )
    if include_raw:
        payloads = sorted(
            str(e.details["event_key"])
            for e in timeline.entries
            if "payload" in (e.details.get("raw") or {})
        )
        audit(
            Action.ORDER_RAW_READ,
            f"order/{key}",
            after={
                "reason": reason,
                "raw_payloads_of": payloads,
                "request_id": grant.request_id if grant else None,
            },
            request=request,
        )
    shown = {
        "order": order_view(order) if order is not None else None,
        **timeline.to_dict(),
        "tracks": [track_view(t, deps.now()) for t in tracks],
    }
    # amounts (the order's, and any an entry carries) only for read_payments
    return json_response(shown if may_see_amounts(request) else without_amounts(shown))
