"""The order timeline's reads (`domain/timeline.OrderHistory`), by keys and indexes only.

- event records: the events GSI `by_order` (keys only) for the keys, then BatchGetItem;
- trails and anomalies: BatchGetItem by key;
- the DLQ: only when it is not empty, a bounded browse (`DeadLetterQueue.browse`), kept to
  the messages whose `correlation_id` attribute (the order key, set when queued) is the
  order's. The browse hides the messages it pages through for a few seconds, then shows them
  again: an operator's replay running at that moment may miss them until its next run;
- raw payloads: one GetObject each, only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo import _record_view
from chalicelib.adapters.dynamo_models import Models
from chalicelib.adapters.dynamo_records import _trail_view
from chalicelib.adapters.messaging import DeadLetterQueue, RawArchive
from chalicelib.domain.dlq import describe
from chalicelib.domain.model import order_key as make_order_key
from chalicelib.domain.timeline import DlqSearch

DLQ_HOLD_SECONDS = 5  # how long a browsed DLQ message stays hidden at most
BATCH = 100  # BatchGetItem's limit per request (pynamodb pages it)


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def anomaly_view(item: Any) -> dict[str, Any]:
    """An anomaly item with the lifecycle times the timeline shows (absent ones are None:
    items written before the anomaly engine carry only the first few)."""
    view: dict[str, Any] = {
        "rule": item.rule,
        "subject": item.subject,
        "priority": item.priority,
        "status": getattr(item, "status", None),
        "detail": getattr(item, "detail", "") or "",
        "occurrences": int(getattr(item, "occurrences", 0) or 0),
    }
    for name in (
        "opened_at",
        "last_seen_at",
        "announced_at",
        "escalated_at",
        "acknowledged_at",
        "resolved_at",
    ):
        view[name] = _iso(getattr(item, name, None))
    for name in ("acknowledged_by", "resolved_by"):
        view[name] = getattr(item, name, None)
    level = getattr(item, "escalation_level", None)
    view["escalation_level"] = None if level is None else int(level)
    return view


class OrderHistoryReader:
    """DynamoDB, SQS and S3 reads for one order's timeline."""

    def __init__(
        self, models: Models, dead_letters: DeadLetterQueue, raw_archive: RawArchive
    ) -> None:
        self._m = models
        self._dlq = dead_letters
        self._raw = raw_archive

    def event_records(self, order_key: str, limit: int) -> list[Mapping[str, Any]]:
        keys = [
            item.event_key
            for item in self._m.events.by_order.query(order_key, limit=limit, page_size=limit)
        ]
        found = {
            item.event_key: _record_view(item)
            for item in self._m.events.batch_get(keys, consistent_read=True)
        }
        return [found[k] for k in keys if k in found]

    def trails(self, event_keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        keys = list(dict.fromkeys(event_keys))
        found = {
            item.event_key: _trail_view(item)
            for item in self._m.trail.batch_get(keys, consistent_read=True)
        }
        return {k: found[k] for k in keys if k in found}

    def anomalies(self, anomaly_keys: Sequence[str]) -> list[Mapping[str, Any]]:
        keys = list(dict.fromkeys(anomaly_keys))
        found = {
            item.anomaly_key: anomaly_view(item)
            for item in self._m.anomalies.batch_get(keys, consistent_read=True)
        }
        return [found[k] for k in keys if k in found]

    def parked(self, order_key: str, limit: int) -> DlqSearch:
        depth = self._dlq.depth()
        if depth == 0:
            return DlqSearch((), 0, 0)
        messages = self._dlq.browse(hold_seconds=DLQ_HOLD_SECONDS, limit=limit)
        mine = tuple(describe(m) for m in messages if _correlation(m) == order_key)
        return DlqSearch(mine, depth, len(messages))

    def raw_payload(self, key: str) -> Mapping[str, Any] | None:
        return self._raw.read(key)


def _correlation(message: Mapping[str, Any]) -> str:
    """The order key a parked message belongs to: its `correlation_id` attribute, else what
    its body says (messages queued by hand may lack the attribute)."""
    attribute = (message.get("MessageAttributes") or {}).get("correlation_id") or {}
    if attribute.get("StringValue"):
        return str(attribute["StringValue"])
    parked = describe(message)
    if not (parked.platform and parked.store and parked.order_id):
        return ""
    return make_order_key(parked.platform, parked.store, parked.order_id)
