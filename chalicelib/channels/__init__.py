"""Channel adapters: how each platform signs and shapes its deliveries. Pure Python.

`CHANNELS` maps the `{platform}` path segment to the adapter that verifies and parses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from chalicelib.channels.mall import MallChannel
from chalicelib.domain.model import OrderEvent
from chalicelib.domain.ports import Store


class Channel(Protocol):
    platform: str

    def verify(
        self, headers: Mapping[str, str], body: bytes, secrets: Sequence[str], now: datetime
    ) -> str:
        """Check the delivery is authentic and fresh; return its delivery id."""
        ...

    def parse(
        self, body: bytes, store: Store, delivery_id: str, received_at: datetime
    ) -> list[OrderEvent]:
        """Turn the body into canonical events; raise InvalidPayload saying what to fix."""
        ...


CHANNELS: dict[str, Channel] = {"mall": MallChannel()}
