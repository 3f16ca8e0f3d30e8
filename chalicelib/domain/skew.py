"""Clock skew: a sender's clock far from ours. Recorded, never a reason to drop.

The seed's incident: Amazon US orders stamped in UTC were read as GMT+8, judged "in the
future" and dropped, 237 of them in 12 hours. Here every time is read in an explicit zone at
the edge (domain/timeutil.py), and skew is measured on the sender's own send time where the
platform gives one (`OrderEvent.sent_at`: Standard Webhooks' and BigCommerce's
`webhook-timestamp`, Shopify's `X-Shopify-Triggered-At`, Amazon's `EventTime`, TMC's
`pub_time`, TikTok's `timestamp`): more than 5 minutes from our receipt, either way, is skew.
The event is booked like any other; the skew is reported (the metric `ClockSkewEvents`, its
alarm, and one P2 `clock_skew` anomaly per store, repeats counted) so someone fixes the
store's time-zone setting or the platform's clock.

An order's `updated_at` is not a send time: an order changed days ago and delivered now (a
sender retrying for 48 h, a poller catching up) is normal, so an old `updated_at` is never
skew. Without a send time only an `updated_at` more than 5 minutes in the future is: no
clock can have changed an order later than now.

A send time fixed at the first attempt (Shopify's triggered-at, TMC's pub_time, Amazon's
EventTime) also lies behind our receipt when the delivery itself was late (the sender
retrying after our outage, a backlog in a queue we read): the anomaly says which time it
compared, so a person can tell a late delivery from a wrong clock. Pure Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from chalicelib.domain.model import Anomaly, OrderEvent, Outcome, Priority

TOLERANCE = timedelta(minutes=5)  # either way, on the sender's send time
FUTURE_TOLERANCE = TOLERANCE  # without a send time: an event time in the future only
RULE = "clock_skew"


class AnomalySink(Protocol):
    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None: ...


@dataclass(frozen=True)
class Skew:
    """How far the sender's time lies from our receipt: positive ahead, negative behind."""

    seconds: float
    basis: str = "send time"  # which time was compared: "send time" or "event time"

    @property
    def direction(self) -> str:
        return "ahead of" if self.seconds > 0 else "behind"


def clock_skew(event: OrderEvent) -> Skew | None:
    """The event's skew when it is beyond tolerance, else None."""
    if event.sent_at is not None:
        offset = event.sent_at - event.received_at
        if abs(offset) > TOLERANCE:
            return Skew(offset.total_seconds())
        return None
    offset = event.updated_at - event.received_at
    if offset > FUTURE_TOLERANCE:
        return Skew(offset.total_seconds(), "event time")
    return None


def sender_time(headers: Mapping[str, str]) -> datetime | None:
    """The send time a webhook delivery's headers carry (names lower-cased), else None:
    Standard Webhooks' `webhook-timestamp` (own shop, BigCommerce: Unix seconds, signed) or
    Shopify's `x-shopify-triggered-at` (ISO 8601, UTC, up to nanoseconds)."""
    stamp = str(headers.get("webhook-timestamp", "")).strip()
    if stamp.isdigit():
        return datetime.fromtimestamp(int(stamp), tz=UTC)
    triggered = str(headers.get("x-shopify-triggered-at", "")).strip()
    if triggered:
        return _iso_utc(triggered)
    return None


def _iso_utc(text: str) -> datetime | None:
    """ISO 8601 with an offset (or Z), fractions beyond microseconds cut; None if unreadable."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        zone = rest[len(digits) :]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else None


def _amount(seconds: float) -> str:
    minutes = abs(seconds) / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 72 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def skew_anomaly(event: OrderEvent, skew: Skew) -> Anomaly:
    """One P2 anomaly per store (subject `platform#store`); each repeat counts on it."""
    if skew.basis == "send time" and event.sent_at is not None:
        compared = f"the platform's send time {event.sent_at.isoformat()} of order"
    else:
        compared = f"event time {event.updated_at_raw!r} of order"
    detail = (
        f"{compared} {event.order_id} is "
        f"{_amount(skew.seconds)} {skew.direction} its receipt at "
        f"{event.received_at.isoformat()}; processed anyway. Check the store's time zone "
        "setting and the platform's clock (a send time far behind can also be a late "
        "redelivery)"
    )
    return Anomaly(RULE, f"{event.platform}#{event.store}", Priority.P2, detail)


def report_skew(
    event: OrderEvent, outcome: Outcome, anomalies: AnomalySink, now: datetime
) -> Skew | None:
    """After the event was processed (not as a duplicate): open or count the store's skew
    anomaly when the event is skewed; returns the skew for the caller's metric.

    Written after the booking's transaction, not inside it: every skewed event of a store
    updates the same anomaly item, and inside the transactions that item would make
    concurrent bookings conflict. A crash between the two loses one count of a P2, never
    a booking.
    """
    skew = clock_skew(event)
    if skew is None or outcome is Outcome.DUPLICATE:
        return None
    anomalies.open_anomaly(skew_anomaly(event, skew), now)
    return skew
