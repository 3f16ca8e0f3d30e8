"""A stock change leaves for the channels within seconds: after a commit that moved some
SKUs' `available` (and so flagged them in the push outbox), one SQS message names them on
`orderhub-stock-nudges.fifo`; `handle_stock_nudges` (api/stock_push.py) pushes exactly those.

The nudge is sent after the transaction, not in it: a crash in between (or SQS refusing)
loses only the nudge, never the flag, and the minute sweeper (`push_stock`) pushes the SKU.
Coalescing per SKU comes from the outbox: the flag is one per item however many changes
committed, a nudge whose SKU was pushed meanwhile finds no flag and pushes nothing, and the
handler merges the SKUs of the nudges it receives in one batch. The queue is FIFO with the
SKU as message group, so two nudges of one SKU are never handled at the same time (two runs
could otherwise both announce the same limited-sale transition); SKUs run in parallel.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from chalicelib.adapters.dynamo import DynamoOrderRepository
from chalicelib.adapters.dynamo_models import Models
from chalicelib.adapters.stock_shards import HotStockConfig
from chalicelib.domain.model import BookingPlan, StockChange

log = logging.getLogger("orderhub.stock_nudge")


class SqsStockNudger:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def nudge(self, skus: Iterable[str]) -> None:
        names = sorted(set(skus))
        if not names:
            return
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps({"skus": [sku]}),
                "MessageGroupId": sku,  # one SKU's pushes never run side by side
                "MessageDeduplicationId": uuid.uuid4().hex,  # every change nudges
            }
            for i, sku in enumerate(names)
        ]
        try:
            for start in range(0, len(entries), 10):
                self._sqs.send_message_batch(
                    QueueUrl=self._url, Entries=entries[start : start + 10]
                )
        except Exception:  # the sweeper pushes it within a minute: never fail the commit
            log.warning("stock nudge for %s not sent; the minute sweeper will push", names)


def changed_skus(changes: Iterable[StockChange]) -> list[str]:
    """SKUs whose `available` a commit moves: those the outbox flags."""
    return [c.sku for c in changes if c.available]


class NudgingOrderRepository(DynamoOrderRepository):
    """The order repository, nudging the stock pusher after each commit that moved stock, or
    once per batch inside `nudges_deferred` (the order processor: one SendMessageBatch for a
    whole SQS batch's SKUs instead of one per booking)."""

    def __init__(
        self, models: Models, nudger: SqsStockNudger, hot_stock: HotStockConfig | None = None
    ) -> None:
        super().__init__(models, hot_stock)
        self._nudger = nudger
        self._deferred = threading.local()  # per thread: the SKUs waiting for the batch's end

    @contextmanager
    def nudges_deferred(self) -> Iterator[None]:
        """Collect the SKUs committed inside; nudge them once on the way out (an exception
        too: what was committed is nudged; a crash loses only the nudge, as before)."""
        skus: list[str] = []
        self._deferred.skus = skus
        try:
            yield
        finally:
            self._deferred.skus = None
            self._nudger.nudge(skus)

    def _nudge(self, skus: list[str]) -> None:
        waiting = getattr(self._deferred, "skus", None)
        if waiting is None:
            self._nudger.nudge(skus)
        else:
            waiting.extend(skus)

    def commit(self, plan: BookingPlan) -> None:
        super().commit(plan)
        self._nudge(changed_skus(plan.stock_changes))

    def roll_back_part(self, event_key: str, reverse: Sequence[StockChange]) -> None:
        super().roll_back_part(event_key, reverse)
        self._nudge(changed_skus(reverse))

    def configure_stock(
        self,
        sku: str,
        warehouse: str,
        safety_stock: int,
        holdback: int,
        holdback_channels: Iterable[str],
    ) -> None:
        super().configure_stock(sku, warehouse, safety_stock, holdback, holdback_channels)
        self._nudger.nudge([sku])


def nudged_skus(records: Iterable[Any]) -> list[str]:
    """The SKUs named by a batch of nudge messages (bodies `{"skus": [...]}`), once each."""
    seen: dict[str, None] = {}
    for record in records:
        try:
            body = json.loads(record.body)
        except (ValueError, TypeError, AttributeError):
            continue
        for sku in body.get("skus") or [] if isinstance(body, dict) else []:
            if isinstance(sku, str) and sku:
                seen[sku] = None
    return list(seen)
