"""Process one canonical order event: read, plan, commit; re-plan when another writer won."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from chalicelib.domain.booking import merge_lines, plan_event
from chalicelib.domain.errors import AlreadyProcessed, ConcurrentUpdate, TransientFailure
from chalicelib.domain.model import OrderEvent, Outcome
from chalicelib.domain.ports import OrderRepository

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class ProcessResult:
    outcome: Outcome
    reason: str
    attempts: int


def process_order_event(
    event: OrderEvent,
    repository: OrderRepository,
    priorities: dict[str, int],
    now: Callable[[], datetime],
) -> ProcessResult:
    """Book `event` exactly once.

    A conflict means another event for the same order or SKU committed between our read and
    our write; re-reading and re-planning is then always correct. If conflicts outlast
    MAX_ATTEMPTS the message goes back to the queue (TransientFailure) to be retried later.
    """
    skus = list(merge_lines(event.lines))
    for attempt in range(1, MAX_ATTEMPTS + 1):
        order = repository.get_order(event.order_key)
        stock = repository.get_stock(skus) if skus else {}
        plan = plan_event(event, order, stock, priorities, now())
        try:
            repository.commit(plan)
        except AlreadyProcessed:
            return ProcessResult(Outcome.DUPLICATE, "delivery processed before", attempt)
        except ConcurrentUpdate:
            continue
        return ProcessResult(plan.outcome, plan.record.reason, attempt)
    raise TransientFailure(f"order {event.order_key} kept changing under us; retry later")
