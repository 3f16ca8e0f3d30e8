"""Channel adapters: how each platform signs and shapes its deliveries. Pure Python.

`CHANNELS` maps the `{platform}` path segment to the adapter that verifies and parses it.
For each delivery, ingest (channels/webhook.py) asks the channel, in this order:

1. `credentials(secret)`: the store's secret JSON (Secrets Manager) read into what this
   platform signs with (each channel names its fields; docs/platforms.md);
2. `verify(delivery, credentials, now)`: authentic (and fresh, where the scheme signs a
   time) over the raw body bytes, before anything is parsed; returns the delivery's id;
3. `parse(delivery, store, delivery_id)`: the canonical events to queue, each with its own
   dedupe key (`OrderEvent.event_key`); [] for pings and topics that are not orders, which
   are answered as accepted and queue nothing;
4. `ack(delivery_id, events)`: the HTTP status and JSON body the platform expects on
   success (the own shop 202, Douyin `{"code": 0, "msg": "success"}`, the others 200).

Refusals are domain errors: InvalidSignature / StaleTimestamp (401), InvalidPayload (400,
naming the field's path), TransientFailure (503, e.g. the store's credentials are incomplete).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.channels.base import Credentials, Delivery
from chalicelib.channels.bigcommerce import BigCommerceChannel
from chalicelib.channels.douyin import DouyinChannel
from chalicelib.channels.mall import MallChannel
from chalicelib.channels.shopify import ShopifyChannel
from chalicelib.channels.tiktok import TikTokChannel
from chalicelib.channels.woocommerce import WooCommerceChannel
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import Store


class Channel(Protocol):
    platform: str

    def credentials(self, secret: Mapping[str, Any]) -> Credentials:
        """What the store's secret JSON holds for this platform; TransientFailure if a
        needed field is missing."""
        ...

    def verify(self, delivery: Delivery, credentials: Credentials, now: datetime) -> str:
        """Check the delivery is authentic (and fresh, where signed); return its id."""
        ...

    def parse(self, delivery: Delivery, store: Store, delivery_id: str) -> list[OrderEvent]:
        """Turn the body into canonical events; raise InvalidPayload saying what to fix."""
        ...

    def ack(self, delivery_id: str, events: Sequence[OrderEvent]) -> tuple[int, dict[str, Any]]:
        """The success answer (status, JSON body) this platform expects."""
        ...


CHANNELS: dict[str, Channel] = {
    channel.platform: channel
    for channel in (
        MallChannel(),
        ShopifyChannel(),
        WooCommerceChannel(),
        TikTokChannel(),
        DouyinChannel(),
        BigCommerceChannel(),
    )
}

__all__ = ["CHANNELS", "Channel", "Credentials", "Delivery"]
