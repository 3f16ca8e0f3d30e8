"""Backfill the orders table's indexed attributes on items written before their index existed.

A GSI only holds items that carry its key attributes. When a release adds an index (the
console's `created_day`, `platform_day`, `platform_status`, `store_created`, `order_id_prefix`,
`buyer` came with issue 13) or changes how a key's value is derived (the sharded sparse
indexes' values), items written before it keep the old attributes until their order changes
again: the index misses them. This job scans the table
and gives each order item the index attributes the writer (adapters/dynamo_items.py
`_item_from_order`) would give it now, so old orders are found like new ones.

- Idempotent: an item is written only when one of its index attributes differs from what the
  writer derives; the write sets exactly those (or removes one the writer leaves out),
  conditional on the item's `version` being the one read. Re-running changes nothing; an
  order that changed meanwhile (its writer set every attribute) is skipped, not overwritten.
- Resumable: after each page the scan position (DynamoDB's LastEvaluatedKey) is checkpointed
  in the poll-cursors table (`cursor_id` = `backfill#orders#index-keys`, conditional on the
  checkpoint's version, so two runs cannot interleave); a run that stops (its time budget, a
  Lambda timeout, an interruption) is resumed from there by the next. A finished scan is
  recorded as `done` and the next run scans again from the start (finding nothing to write,
  unless orders were written by an older release meanwhile); `restart` drops an unfinished
  checkpoint.

Run it: `bin/orderhub backfill orders [--restart]` (tools/backfill.py; the local stack or AWS
with the functions' environment), or invoke the `backfill_order_indexes` function.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.adapters.dynamo import _item_from_order, _order_from_item
from chalicelib.adapters.dynamo_models import Models
from chalicelib.domain.errors import TransientFailure

CHECKPOINT_ID = "backfill#orders#index-keys"
DONE = "done"
# every attribute a GSI of the orders table is keyed on (infra/resources.json;
# tests/integration/test_order_backfill.py keeps the two equal), besides `order_id` and
# `order_key`, which every item has
INDEXED = (
    "reservation_partition",
    "reserved_until_key",
    "holding",
    "placed_day",
    "awaiting",
    "awaiting_since",
    "store_ref",
    "created_sort",
    "buyer_index",
    "created_day",
    "id_bucket",
    "platform_day",
    "platform_status",
)


class BackfillConflict(TransientFailure):
    """Another run moved the checkpoint since this one read it: this run stops."""


@dataclass
class BackfillResult:
    scanned: int = 0
    updated: int = 0  # items given their missing or changed index attributes
    unchanged: int = 0  # already right (a re-run: all of them)
    changed_meanwhile: int = 0  # their order was written during the run: already right
    done: bool = False  # the scan reached the table's end
    resumed: bool = False  # this run started from a checkpoint

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class OrderIndexBackfill:
    def __init__(
        self, models: Models, checkpoints: Any, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._models = models
        self._checkpoints = checkpoints  # the poll-cursors table's model (adapters/cursors.py)
        self._clock = clock

    def _load(self) -> tuple[str, int]:
        try:
            item = self._checkpoints.get(CHECKPOINT_ID, consistent_read=True)
        except self._checkpoints.DoesNotExist:
            return "", 0
        return str(item.position), int(item.version)

    def _save(self, position: str, version: int) -> int:
        m = self._checkpoints
        condition = m.version == version if version else m.cursor_id.does_not_exist()
        item = m(
            CHECKPOINT_ID,
            position=position,
            version=version + 1,
            updated_at=datetime.now(UTC).isoformat(),
        )
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise BackfillConflict(
                    f"{CHECKPOINT_ID} moved since version {version}: another run is going"
                ) from None
            raise TransientFailure(f"checkpoint not stored: {exc.cause_response_code}") from None
        return version + 1

    def _fill(self, item: Any) -> str:
        """'updated', 'unchanged' or 'changed_meanwhile' for one stored order item."""
        m = self._models.orders
        wanted = _item_from_order(self._models, _order_from_item(item))
        actions = []
        for name in INDEXED:
            have, want = getattr(item, name, None), getattr(wanted, name, None)
            if have == want:
                continue
            attribute = getattr(m, name)
            actions.append(attribute.remove() if want is None else attribute.set(want))
        if not actions:
            return "unchanged"
        try:
            item.update(actions=actions, condition=m.version == item.version)
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return "changed_meanwhile"
            raise TransientFailure(f"order {item.order_key}: {exc.cause_response_code}") from None
        return "updated"

    def run(
        self, *, page_size: int = 200, budget_seconds: float = 600.0, restart: bool = False
    ) -> BackfillResult:
        """Scan from the checkpoint (or the start) for at most `budget_seconds`."""
        position, version = self._load()
        result = BackfillResult(resumed=bool(position) and position != DONE and not restart)
        if restart or position == DONE:
            position = ""
        start = json.loads(position) if position else None
        deadline = self._clock() + budget_seconds
        while True:
            page = self._models.orders.scan(
                limit=page_size, page_size=page_size, last_evaluated_key=start
            )
            for item in page:
                result.scanned += 1
                outcome = self._fill(item)
                setattr(result, outcome, getattr(result, outcome) + 1)
            start = page.last_evaluated_key
            if not start:
                self._save(DONE, version)
                result.done = True
                return result
            version = self._save(json.dumps(start, sort_keys=True), version)
            if self._clock() >= deadline:
                return result
