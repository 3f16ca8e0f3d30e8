"""Thin events made whole: an order's details fetched from its platform before booking. Pure.

Some platforms notify with ids only (BigCommerce; TikTok Shop and Douyin send a status but no
lines): the channel queues a thin event (`OrderEvent.complete` False). Before such an event
is planned, the processor asks the platform's `OrderDetailSource` for the order as it stands
now and merges it in (`complete_thin_event`): status, the platform's modification time (kept
as its original text), currency, lines and buyer all come from the fetch, so the booking
reflects the platform's current word whatever the webhook said. Redelivered or out-of-order
notifications then converge: an older state is stale, the same state moves nothing.

Failures: a source raises `OrderNotOnPlatform` when the platform says the order does not
exist (permanent: recorded as `rejected_invalid` with the reason, never retried; it is an
`InvalidMessage`, so `delivery.is_permanent` knows it), and `OrderDetailsUnavailable` (a
`TransientFailure`) when the platform cannot answer now (down, rate-limited, timed out, our
access token refused): the message is retried with backoff, then parked in the DLQ.
A platform without a source keeps its thin events as they are (booking.complete_from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from chalicelib.domain.bounds import check_event
from chalicelib.domain.delivery import InvalidMessage
from chalicelib.domain.errors import InvalidPayload, TransientFailure
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.ports import Store


class OrderNotOnPlatform(InvalidMessage):
    """The platform's API says the order does not exist: retrying cannot help."""

    code = "order_not_on_platform"


class OrderDetailsUnavailable(TransientFailure):
    """The platform's order API did not answer usefully now: retry later."""

    code = "order_details_unavailable"


@dataclass(frozen=True)
class OrderDetails:
    """An order as its platform's API describes it, in canonical terms."""

    status: PlatformStatus
    updated_at: datetime  # UTC
    updated_at_raw: str  # the platform's text, as sent
    currency: str
    lines: tuple[OrderLine, ...]
    buyer: Buyer | None  # personal data: never logged
    region: str = ""


class OrderDetailSource(Protocol):
    """One platform's order API."""

    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        """The order as the platform holds it now; OrderNotOnPlatform if it has none,
        OrderDetailsUnavailable if it cannot tell now."""
        ...


class OrderDetailSources(Protocol):
    """The detail source of each platform that has one."""

    def source_for(self, platform: str) -> OrderDetailSource | None: ...


class OrderDetailRouter:
    """Detail sources keyed by platform (`Container.order_details`)."""

    def __init__(self, sources: Mapping[str, OrderDetailSource]) -> None:
        self._sources = dict(sources)

    def source_for(self, platform: str) -> OrderDetailSource | None:
        return self._sources.get(platform)

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted(self._sources))


def merge_details(event: OrderEvent, details: OrderDetails) -> OrderEvent:
    """The thin `event` completed with what the platform's API says: the API's status and
    time replace the notification's placeholders; the event keeps its key, type and receipt."""
    return replace(
        event,
        status=details.status,
        updated_at=details.updated_at,
        updated_at_raw=details.updated_at_raw,
        currency=details.currency,
        lines=details.lines,
        buyer=details.buyer if details.buyer is not None else event.buyer,
        region=details.region or event.region,
        complete=True,
    )


def complete_thin_event(event: OrderEvent, store: Store, sources: OrderDetailSources) -> OrderEvent:
    """`event` as it should be booked: a thin one fetched and merged when its platform has a
    detail source; anything else unchanged. Raises what the source raises."""
    if event.complete:
        return event
    source = sources.source_for(event.platform)
    if source is None:
        return event
    merged = merge_details(event, source.fetch(store, event.order_id))
    try:
        check_event(merged)  # what the platform's API answered faces the same bounds
    except InvalidPayload as exc:
        raise InvalidMessage(f"the platform's order details: {exc.message}") from None
    return merged
