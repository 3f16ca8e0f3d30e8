"""Accept one webhook delivery: the only work on the platform's clock is verify and enqueue."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from chalicelib.channels import CHANNELS
from chalicelib.domain.errors import PayloadTooLarge, UnknownPlatform, UnknownStore
from chalicelib.domain.ports import Catalog, EventQueue, SecretSource

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Accepted:
    delivery_id: str
    event_keys: tuple[str, ...]
    message_ids: tuple[str, ...]


def signing_secrets(secret: Mapping[str, object]) -> list[str]:
    """A store's current signing secrets; several during a rotation's overlap window."""
    many = secret.get("webhook_secrets")
    if isinstance(many, list):
        return [str(s) for s in many if s]
    one = secret.get("webhook_secret")
    return [str(one)] if one else []


def accept_webhook(
    platform: str,
    store_id: str,
    headers: Mapping[str, str],
    body: bytes,
    catalog: Catalog,
    secrets: SecretSource,
    queue: EventQueue,
    now: datetime,
) -> Accepted:
    """Verify, validate and queue a delivery. Bad input raises before anything is queued."""
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
    delivery_id = channel.verify(
        headers, body, signing_secrets(secrets.get_secret(store.secret_name)), now
    )
    events = channel.parse(body, store, delivery_id, now)
    raw = body.decode("utf-8")
    message_ids = tuple(
        queue.send({"event": event.to_dict(), "raw": raw}, event.correlation_id) for event in events
    )
    return Accepted(delivery_id, tuple(e.event_key for e in events), message_ids)
