"""POST /webhooks/{platform}/{store}: verify, queue, answer; nothing else on the sender's clock."""

from __future__ import annotations

import time
from typing import Any

from chalice import Blueprint

from chalicelib.api.http import api_errors, json_response
from chalicelib.channels.webhook import accept_webhook
from chalicelib.deps import container
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)

# Any content type: platforms send JSON, form-encoded pings or none at all, and a wrong one
# must get our JSON error from the channel's parser, not API Gateway's bare 415.
WEBHOOK_CONTENT_TYPES = ["*/*"]


@bp.route("/webhooks/{platform}/{store}", methods=["POST"], content_types=WEBHOOK_CONTENT_TYPES)
@api_errors
def handle_webhook(platform: str, store: str) -> Any:
    request = bp.current_request
    raw = request.raw_body or b""
    deps = container()
    started = time.monotonic()
    received_at = deps.now()
    accepted = accept_webhook(
        platform,
        store,
        dict(request.headers),
        raw if isinstance(raw, bytes) else raw.encode("utf-8"),
        deps.catalog,
        deps.secrets,
        deps.queue,
        received_at,
        vault=deps.personal_data,
        after_sales=deps.after_sales,
    )
    ack_ms = round((time.monotonic() - started) * 1000)  # verify + queue: the sender's wait
    logger().set_correlation_id(accepted.delivery_id)
    # The event is queued, so it will be booked; its message carries the receipt, which the
    # processor records in the trail with the booking (api/intake.py).
    logger().info(
        "webhook accepted",
        extra={
            "platform": platform,
            "store": store,
            "ack_ms": ack_ms,
            "events": len(accepted.event_keys),
            "after_sales": list(accepted.after_sales),
        },
    )
    metrics().add_metric(name="WebhooksAccepted", unit="Count", value=1)
    # The body and status each platform expects on success (its channel's `ack`): 202 for
    # the own shop, Douyin's {"code": 0, "msg": "success"}, 200 for the others.
    return json_response(dict(accepted.reply), accepted.status)
