"""Buyers' after-sales requests (退款 / 退货 / return requests), as the platforms report them.
Pure Python.

A request is *requested* when the buyer opens it and *answered* when the seller (or the
platform on the seller's behalf, e.g. an automatic agreement on time-out) responds: agrees,
refuses, refunds. Each platform message becomes an `AfterSalesEvent` in its channel
(channels/after_sales.py); the webhook path records it directly, one conditional write per
event, idempotent by the request's key (`platform#store#request_id`), and nothing is queued.

What the records feed:
- the anomaly rule `after_sales_unanswered` (domain/anomaly_rules.py): requests requested
  and not answered, read through the after-sales table's sparse `unanswered` index;
- the daily KPI `CustomerChaseRate` (domain/kpis.py): requests opened on a Beijing day,
  counted through the `opened_day` index. A request counts once, on the Beijing day of the
  first event seen for it (normally its request; an answer that arrives first, or a refund
  that is its own answer, opens it too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.kpis import kpi_day

REQUESTED = "requested"
ANSWERED = "answered"
KINDS = (REQUESTED, ANSWERED)


@dataclass(frozen=True)
class AfterSalesEvent:
    platform: str
    store: str
    order_id: str  # "" when the message does not name it (some answers)
    request_id: str  # the platform's after-sales / return / refund id
    kind: str  # REQUESTED | ANSWERED
    at: datetime  # aware, UTC
    at_raw: str  # the platform's time as sent (or the receipt time when it sends none)
    event_key: str  # this delivery's message: `platform#store#...` (dedupe, logs)
    detail: str = ""  # the platform's status / tag / topic, for investigation

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"after-sales kind must be one of {KINDS}, got '{self.kind}'")
        if self.at.tzinfo is None:
            raise ValueError("after-sales time must be aware")

    @property
    def request_key(self) -> str:
        return f"{self.platform}#{self.store}#{self.request_id}"

    @property
    def order_key(self) -> str:
        return f"{self.platform}#{self.store}#{self.order_id}" if self.order_id else ""

    @property
    def opened_day(self) -> str:
        """The Beijing day the request counts on, if this is the first event seen for it."""
        return kpi_day(self.at).isoformat()


class AfterSalesLog(Protocol):
    """Where after-sales requests are recorded (adapters/after_sales.py)."""

    def record(self, event: AfterSalesEvent) -> bool:
        """Apply one event; False when it changed nothing (a repeat, or a request already
        answered). Requested: creates the request, waiting for an answer, unless it is known.
        Answered: marks it answered (creating it, answered, when unknown)."""
        ...


def record_after_sales(events: Iterable[AfterSalesEvent], log: AfterSalesLog) -> tuple[str, ...]:
    """Record each event; the request keys that changed."""
    return tuple(event.request_key for event in events if log.record(event))


class AfterSalesPages(Protocol):
    """One platform's after-sales list for one store (adapters/after_sales_pull.py)."""

    def pages(self, window: Any) -> Iterable[Sequence[AfterSalesEvent]]:
        """Every after-sales row changed in the window, page by page."""
        ...


def poll_after_sales(
    key: str,
    cursors: Any,
    source: AfterSalesPages,
    log: AfterSalesLog,
    now: datetime,
    policy: Any,
) -> dict[str, Any]:
    """Read and record window by window after the store's after-sales cursor (the order
    pollers' windows and cursor store, domain/polling.py, under their own cursor id), until
    caught up or `policy.max_windows` are done. A failure leaves the cursor at the end of
    the last window fully recorded; recording is idempotent, so a re-read changes nothing."""
    from chalicelib.domain.polling import Cursor, initial_position, next_window

    cursor = cursors.load(key) or Cursor(key, initial_position(now, policy))
    recorded = seen = windows = 0
    caught_up = False
    for _ in range(policy.max_windows):
        window = next_window(cursor.position, now, policy)
        if window is None:
            caught_up = True
            break
        for page in source.pages(window):
            seen += len(page)
            recorded += len(record_after_sales(page, log))
        cursor = cursors.advance(cursor, window.end, now)
        windows += 1
    return {
        "windows": windows,
        "seen": seen,
        "recorded": recorded,
        "cursor": cursor.position.isoformat(),
        "caught_up": caught_up,
    }
