"""Clock skew: a platform's event time far from our clock. Recorded, never a reason to drop.

The seed's incident: Amazon US orders stamped in UTC were read as GMT+8, judged "in the
future" and dropped, 237 of them in 12 hours. Here every time is read in an explicit zone at
the edge (domain/timeutil.py), and an event whose time still lies more than 5 minutes after
our receipt, or more than 7 days before it, is booked like any other; the skew is reported
(a metric, and one P2 `clock_skew` anomaly per store, repeats counted) so someone fixes the
store's time-zone setting or the platform's clock. Pure Python.

Why 7 days into the past: senders retry for up to 48 h (BigCommerce; Shopify 4 h) and the
pull pollers may catch up after an outage, so an event a few days old is normal; one older
than a week is either a replay of history or a time read in the wrong year or zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.model import Anomaly, OrderEvent, Outcome, Priority

FUTURE_TOLERANCE = timedelta(minutes=5)
PAST_TOLERANCE = timedelta(days=7)
RULE = "clock_skew"


class AnomalySink(Protocol):
    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None: ...


@dataclass(frozen=True)
class Skew:
    """How far the event's time lies from our receipt: positive ahead, negative behind."""

    seconds: float

    @property
    def direction(self) -> str:
        return "ahead of" if self.seconds > 0 else "behind"


def clock_skew(event: OrderEvent) -> Skew | None:
    """The event's skew when it is beyond tolerance, else None."""
    offset = event.updated_at - event.received_at
    if offset > FUTURE_TOLERANCE or -offset > PAST_TOLERANCE:
        return Skew(offset.total_seconds())
    return None


def _amount(seconds: float) -> str:
    minutes = abs(seconds) / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 72 * 60:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.1f} days"


def skew_anomaly(event: OrderEvent, skew: Skew) -> Anomaly:
    """One P2 anomaly per store (subject `platform#store`); each repeat counts on it."""
    detail = (
        f"event time {event.updated_at_raw!r} of order {event.order_id} is "
        f"{_amount(skew.seconds)} {skew.direction} its receipt at "
        f"{event.received_at.isoformat()}; processed anyway. Check the store's time zone "
        "setting and the platform's clock"
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
