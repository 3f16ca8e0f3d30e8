"""Carrier tracks: the aggregators' signed callbacks, subscribing shipped parcels, the poll
backup, and applying queued updates (domain/tracking.py).

`POST /tracking/{provider}/callback` is public like the webhooks: the provider's signature is
the authentication (快递100: `sign` = MD5(param + salt); AfterShip: `aftership-hmac-sha256`).
It verifies, queues the update for the order processor through the intake path and answers
what the provider expects; nothing is written on the provider's clock but the queue (the
processor records the trail). The processor applies it (`apply_track_message`): one
conditional write, so a redelivery or an older push changes nothing.
"""

from __future__ import annotations

import json
import time
from typing import Any

from chalice import Blueprint

from chalicelib.adapters.tracking_clients import TrackingUnavailable, verification_secrets
from chalicelib.api.http import api_errors, json_response
from chalicelib.api.intake import queue_track_updates
from chalicelib.channels.base import Delivery
from chalicelib.channels.tracking_aftership import (
    SIGNATURE_HEADER,
    parse_aftership,
    verify_aftership,
)
from chalicelib.channels.tracking_kuaidi100 import ACK, parse_kuaidi100, verify_kuaidi100
from chalicelib.deps import Container, container
from chalicelib.domain.bounds import check_json_depth
from chalicelib.domain.delivery import InvalidMessage
from chalicelib.domain.errors import InvalidPayload, NotFound, PayloadTooLarge
from chalicelib.domain.ingest import MAX_BODY_BYTES
from chalicelib.domain.model import Outcome
from chalicelib.domain.tracking import (
    KUAIDI100,
    PROVIDERS,
    PollReport,
    Subscription,
    TrackUpdate,
    provider_for,
    stall_after,
)
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)
POLL_QUIET_FRACTION = 0.5  # poll a moving track after half the stall threshold of silence
POLL_LIMIT = 50  # tracks polled per run


def read_callback(provider: str, delivery: Delivery, deps: Container) -> list[TrackUpdate]:
    """Verify one callback and read its update(s); raise on a bad signature or payload."""
    if len(delivery.body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is {len(delivery.body)} bytes; at most {MAX_BODY_BYTES}")
    secrets = verification_secrets(
        deps.secrets, provider, delivery.received_at, deps.settings.stage
    )
    if provider == KUAIDI100:
        param = verify_kuaidi100(delivery.body, secrets)
        return [parse_kuaidi100(param, delivery.received_at)]
    verify_aftership(delivery.body, delivery.header(SIGNATURE_HEADER), secrets)
    update = parse_aftership(delivery.body, delivery.received_at)
    return [] if update is None else [update]


@bp.route(
    "/tracking/{provider}/callback",
    methods=["POST"],
    content_types=["application/x-www-form-urlencoded", "application/json", "*/*"],
)
@api_errors
def handle_tracking_callback(provider: str) -> Any:
    if provider not in PROVIDERS:
        raise NotFound(f"tracking provider '{provider}' is not supported: {', '.join(PROVIDERS)}")
    request = bp.current_request
    raw = request.raw_body or b""
    deps = container()
    started = time.monotonic()
    delivery = Delivery.of(
        dict(request.headers), raw if isinstance(raw, bytes) else raw.encode(), deps.now()
    )
    updates = read_callback(provider, delivery, deps)
    ack_ms = round((time.monotonic() - started) * 1000)
    queue_track_updates(deps, updates, delivery.received_at, ack_ms)
    logger().info(
        "tracking callback accepted",
        extra={"provider": provider, "tracks": [u.key for u in updates]},
    )
    metrics().add_metric(name="TrackingCallbacksAccepted", unit="Count", value=1)
    return json_response(ACK if provider == KUAIDI100 else {"ok": True})


def subscribe_shipment(
    deps: Container, order_key: str, carrier: str, number: str, provider: str, confirmation_id: str
) -> dict[str, Any]:
    """Follow a shipped parcel: record its track (idempotent) and subscribe it with its
    provider. A failed subscription is not an error for the warehouse: the track is kept
    unaccepted and `poll_tracks` subscribes it again."""
    chosen = provider_for(carrier, provider)
    subscription = Subscription(order_key, carrier, number, chosen, deps.now(), confirmation_id)
    created = deps.tracks.subscribe(subscription, deps.now())
    subscribed = False
    if created:
        try:
            deps.tracking_providers[chosen].subscribe(carrier, number)
            subscribed = True
        except TrackingUnavailable as exc:
            logger().warning(
                "tracking subscription failed; poll_tracks retries",
                extra={"track": subscription.key, "provider": chosen, "error": str(exc)},
            )
            metrics().add_metric(name="TrackingSubscriptionFailures", unit="Count", value=1)
        deps.tracks.mark_subscribed(subscription.key, subscribed, deps.now())
    return {
        "carrier": carrier,
        "number": number,
        "provider": chosen,
        "subscribed": subscribed if created else "already followed",
    }


def read_track_message(body: str, deps: Container) -> dict[str, Any] | None:
    """The queued message if it carries a track update (`{"track": ...}`), else None (an
    order event's message: the processor reads it as before)."""
    try:
        check_json_depth(body)
        message = json.loads(body)
    except (ValueError, InvalidPayload):
        return None
    if isinstance(message, dict) and "overflow" in message:
        message = deps.loader.load(body)
    return message if isinstance(message, dict) and "track" in message else None


def apply_track_message(message: dict[str, Any], deps: Container) -> Outcome:
    """The processor's part: store a queued update if it is newer than the stored track."""
    try:
        update = TrackUpdate.from_dict(message["track"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidMessage(f"unreadable track message: {exc}") from exc
    applied = deps.tracks.apply(update)
    logger().info(
        "track update",
        extra={"track": update.key, "applied": applied, "checkpoints": len(update.checkpoints)},
    )
    return Outcome.BOOKED if applied else Outcome.STALE


def poll_tracks_now(deps: Container) -> PollReport:
    """The backup: subscribe what is not accepted yet, and ask the providers directly for
    tracks quiet for half the stall threshold; what they answer goes through the queue."""
    report = PollReport()
    now = deps.now()
    for track in deps.tracks.unsubscribed(limit=POLL_LIMIT):
        try:
            deps.tracking_providers[track.provider].subscribe(track.carrier, track.number)
            deps.tracks.mark_subscribed(track.key, True, now)
            report.subscribed.append(track.key)
        except (TrackingUnavailable, KeyError) as exc:
            report.failed.append(f"{track.key}: {exc}")
    quiet = stall_after(deps.settings.track_stall_hours) * POLL_QUIET_FRACTION
    updates = []
    for track in deps.tracks.silent(now - quiet, limit=POLL_LIMIT):
        report.polled.append(track.key)
        try:
            found = deps.tracking_providers[track.provider].query(track.carrier, track.number, now)
        except (TrackingUnavailable, KeyError, InvalidPayload) as exc:
            report.failed.append(f"{track.key}: {exc}")
            continue
        if found is not None and found.checkpoints:
            updates.append(found)
            report.updated.append(track.key)
    if updates:
        queue_track_updates(deps, updates, now)
    return report


@bp.schedule("rate(30 minutes)")
def poll_tracks(event: Any) -> dict[str, Any]:
    """Tracks that went quiet are asked for; unaccepted subscriptions are retried."""
    report = poll_tracks_now(container())
    collected = metrics()
    collected.add_metric(name="TracksPolled", unit="Count", value=len(report.polled))
    collected.add_metric(name="TrackPollFailures", unit="Count", value=len(report.failed))
    logger().info("tracks polled", extra=report.to_dict())
    return report.to_dict()
