"""Accept one webhook delivery: the only work on the platform's clock is verify and enqueue.

Here, not in the domain, because it picks the platform's channel (`CHANNELS`); the domain's
part (seal and queue each event) is `domain/ingest.enqueue_events`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib.channels import CHANNELS
from chalicelib.channels.after_sales import parse_after_sales
from chalicelib.channels.base import Delivery
from chalicelib.domain.after_sales import AfterSalesLog, record_after_sales
from chalicelib.domain.bounds import check_id
from chalicelib.domain.errors import Forbidden, PayloadTooLarge, UnknownPlatform, UnknownStore
from chalicelib.domain.ingest import MAX_BODY_BYTES, enqueue_events
from chalicelib.domain.personal_data import PersonalDataVault
from chalicelib.domain.ports import Catalog, EventQueue, SecretSource
from chalicelib.domain.rotation import effective_secret
from chalicelib.domain.skew import sender_time

__all__ = ["MAX_BODY_BYTES", "Accepted", "accept_webhook"]


@dataclass(frozen=True)
class Accepted:
    delivery_id: str
    event_keys: tuple[str, ...]
    message_ids: tuple[str, ...]
    status: int = 202  # the success answer the platform expects (the channel's `ack`)
    reply: Mapping[str, Any] = field(default_factory=dict)
    after_sales: tuple[str, ...] = ()  # after-sales requests this delivery changed


def accept_webhook(
    platform: str,
    store_id: str,
    headers: Mapping[str, str],
    body: bytes,
    catalog: Catalog,
    secrets: SecretSource,
    queue: EventQueue,
    now: datetime,
    *,
    vault: PersonalDataVault,
    after_sales: AfterSalesLog | None = None,
) -> Accepted:
    """Verify, validate and queue a delivery. Bad input raises before anything is queued.

    The store's credentials are read by its channel (each platform names its secret fields);
    the answer on success is the channel's too (`Accepted.status`, `Accepted.reply`). Each
    queued message is sealed first (domain/personal_data.py): one KMS call per event.
    After-sales messages (channels/after_sales.py) are recorded in `after_sales` directly,
    one conditional write each, not queued; a failed write fails the delivery (5xx) so the
    platform sends it again.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"body is {len(body)} bytes; OrderHub accepts at most {MAX_BODY_BYTES} bytes (1 MiB)"
        )
    channel = CHANNELS.get(platform)
    if channel is None:
        supported = ", ".join(sorted(CHANNELS))
        raise UnknownPlatform(f"platform '{platform}' is not supported; supported: {supported}")
    store = catalog.get_store(platform, store_id)
    if store is None:
        raise UnknownStore(
            f"store '{store_id}' is not configured for platform '{platform}'; "
            "check the webhook URL on the platform's side"
        )
    if store.disabled:
        raise Forbidden(
            f"store {platform}/{store_id} is disabled "
            f"({store.disabled_reason or 'by an operator'}); "
            f"re-enable it with bin/orderhub stores enable {platform}/{store_id}"
        )
    delivery = Delivery.of(headers, body, now)
    # During a rotation's grace window the previous secret verifies too (domain/rotation.py).
    credentials = channel.credentials(effective_secret(secrets.get_secret(store.secret_name), now))
    delivery_id = check_id(channel.verify(delivery, credentials, now), "the delivery's id header")
    events = channel.parse(delivery, store, delivery_id)
    sent_at = sender_time(delivery.headers)  # what clock skew is measured on (domain/skew.py)
    if sent_at is not None:
        events = [e if e.sent_at else replace(e, sent_at=sent_at) for e in events]
    requests = parse_after_sales(platform, delivery, store) if after_sales is not None else []
    changed = record_after_sales(requests, after_sales) if after_sales is not None else ()
    message_ids = enqueue_events(events, body, queue, vault, store.rules)
    status, reply = channel.ack(delivery_id, events)
    return Accepted(
        delivery_id, tuple(e.event_key for e in events), message_ids, status, reply, changed
    )
