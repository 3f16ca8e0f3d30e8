"""Conservation: every event a store accepted on a day is settled, parked in the DLQ, or still
queued. Anything else is lost, and the report says so.

    accepted = booked + rejected + held + settled without change + in DLQ + in flight

`in_flight` is what is left once settled and parked events are taken away; those events must
still be on the order queue. The queue's depth (visible + in flight) is global, so a store's
in-flight count above it proves events were lost; below it proves nothing more.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from chalicelib.domain.bounds import YEAR_MAX, YEAR_MIN
from chalicelib.domain.ports import OrderRepository, Trail

BOOKED = frozenset({"booked"})
REJECTED = frozenset({"rejected_out_of_stock", "rejected_invalid"})
HELD = frozenset({"needs_attention", "backordered"})
SETTLED_WITHOUT_CHANGE = frozenset({"ignored", "stale", "duplicate"})
SETTLED = BOOKED | REJECTED | HELD | SETTLED_WITHOUT_CHANGE


@dataclass(frozen=True)
class Balance:
    """One store's day."""

    platform: str
    store: str
    day: str
    accepted: int
    booked: int
    rejected: int
    held: int
    settled_without_change: int
    in_dlq: int
    in_flight: int
    queue_messages: int  # the order queue's depth when counted (all stores)

    @property
    def settled(self) -> int:
        return self.booked + self.rejected + self.held + self.settled_without_change

    @property
    def lost(self) -> int:
        """Accepted events neither settled, parked nor (possibly) queued."""
        return max(0, self.in_flight - self.queue_messages)

    @property
    def difference(self) -> bool:
        return self.lost > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "settled": self.settled,
            "lost": self.lost,
            "difference": self.difference,
        }

    @property
    def line(self) -> str:
        flag = f"DIFFERENCE: {self.lost} lost" if self.difference else "ok"
        return (
            f"{self.day}  {self.platform}/{self.store}  accepted {self.accepted} = booked "
            f"{self.booked} + rejected {self.rejected} + held {self.held} + settled without "
            f"change {self.settled_without_change} + in DLQ {self.in_dlq} + in flight "
            f"{self.in_flight} (queue holds {self.queue_messages})  {flag}"
        )


def balance(
    platform: str,
    store: str,
    day: str,
    receipts: Iterable[str],
    outcomes: Mapping[str, str],
    parked: Iterable[str],
    queue_messages: int,
) -> Balance:
    """Count one store's day: `receipts` are the accepted event keys, `outcomes` the final
    outcome known per key, `parked` the event keys in the DLQ, `queue_messages` the order
    queue's visible + in-flight messages."""
    accepted = set(receipts)
    parked_keys = set(parked)
    counts = dict.fromkeys(("booked", "rejected", "held", "unchanged", "dlq"), 0)
    for key in accepted:
        outcome = outcomes.get(key)
        if outcome in BOOKED:
            counts["booked"] += 1
        elif outcome in REJECTED:
            counts["rejected"] += 1
        elif outcome in HELD:
            counts["held"] += 1
        elif outcome in SETTLED_WITHOUT_CHANGE:
            counts["unchanged"] += 1
        elif key in parked_keys:
            counts["dlq"] += 1
    settled = counts["booked"] + counts["rejected"] + counts["held"] + counts["unchanged"]
    return Balance(
        platform,
        store,
        day,
        accepted=len(accepted),
        booked=counts["booked"],
        rejected=counts["rejected"],
        held=counts["held"],
        settled_without_change=counts["unchanged"],
        in_dlq=counts["dlq"],
        in_flight=len(accepted) - settled - counts["dlq"],
        queue_messages=queue_messages,
    )


def report(
    day: date,
    stores: Iterable[tuple[str, str]],
    trail: Trail,
    orders: OrderRepository,
    parked: Iterable[str],
    queue_messages: int,
) -> list[Balance]:
    """Every store's balance for a UTC day: receipts and final outcomes from the trail, falling
    back to the events table where the trail has no final outcome."""
    parked_keys = set(parked)
    balances = []
    for platform, store in stores:
        receipts = trail.receipts(platform, store, day.isoformat())
        outcomes: dict[str, str] = {}
        for item in receipts:
            key = str(item["event_key"])
            outcome = item.get("final_outcome")
            if not outcome:
                record = orders.get_event_outcome(key)
                outcome = record["outcome"] if record else None
            if outcome:
                outcomes[key] = str(outcome)
        balances.append(
            balance(
                platform,
                store,
                day.isoformat(),
                (str(i["event_key"]) for i in receipts),
                outcomes,
                parked_keys,
                queue_messages,
            )
        )
    return balances


def parse_day(text: str) -> date:
    """A YYYY-MM-DD day; ValueError otherwise."""
    if len(text) != 10:
        raise ValueError(f"'{text}' is not a day as YYYY-MM-DD")
    day = date.fromisoformat(text)
    if not YEAR_MIN <= day.year <= YEAR_MAX:  # the days an order can be about (domain/bounds.py)
        raise ValueError(f"'{text}' is outside {YEAR_MIN}-{YEAR_MAX}")
    return day
