"""The anomaly engine's storage: the anomalies table and its `by_status` index, the orders'
`awaiting_shipment` index. Every read is a GetItem or a Query; nothing here scans a table.

Layout (table `orderhub-anomalies`, models in adapters/dynamo.py):
- the live record `rule#subject`, written by the upsert `_anomaly_upsert` (from bookings, in
  their transaction, and from the jobs) and moved on here with conditional updates;
- a resolved episode's own record `rule#subject@<opened_at>`, put in the same transaction
  that closes the episode on the live record (status `resolved`, `status_at` = resolution).
- GSI `by_status` (`status`, `status_at`): active records by due time, episodes by
  resolution time. A resolved live record has no `status`, so it is not in it.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import _anomaly_upsert
from chalicelib.adapters.dynamo_models import Models
from chalicelib.domain.anomalies import (
    ACKNOWLEDGED,
    ACTIVE,
    OPEN,
    RESOLVED,
    AnomalyRecord,
    parse_time_key,
    time_key,
)
from chalicelib.domain.anomaly_rules import Waiting
from chalicelib.domain.errors import Conflict, TransientFailure
from chalicelib.domain.index_shards import merge_sorted, shard_values
from chalicelib.domain.model import Anomaly


def _record(item: Any) -> AnomalyRecord:
    status = item.status or RESOLVED
    return AnomalyRecord(
        key=item.anomaly_key,
        rule=item.rule,
        subject=item.subject,
        priority=item.priority,
        status=status,
        detail=item.detail or "",
        opened_at=item.opened_at,
        last_seen_at=item.last_seen_at,
        occurrences=int(item.occurrences or 0),
        due_at=parse_time_key(item.status_at) if item.status_at and status in ACTIVE else None,
        announced_at=item.announced_at,
        escalation_level=int(item.escalation_level or 0),
        escalated_at=item.escalated_at,
        acknowledged_at=item.acknowledged_at,
        acknowledged_by=item.acknowledged_by or "",
        acknowledge_note=item.acknowledge_note or "",
        resolved_at=item.resolved_at,
        resolved_by=item.resolved_by or "",
        resolution_note=item.resolution_note or "",
        resolved_count=int(item.resolved_count or 0),
        episode_of=item.episode_of or "",
    )


def _unchanged(model: Any, record: AnomalyRecord) -> Any:
    """The record is still the one read: same status, same episode, same due time."""
    condition = (model.status == record.status) & (model.opened_at == record.opened_at)
    if record.due_at is not None:
        condition &= model.status_at == time_key(record.due_at)
    return condition


def _failed_condition(exc: UpdateError) -> bool:
    return exc.cause_response_code == "ConditionalCheckFailedException"


class DynamoAnomalies:
    """`anomalies.AnomalyStore` on DynamoDB."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None:
        self._m.anomalies(anomaly.key).update(
            actions=_anomaly_upsert(self._m.anomalies, anomaly, now)
        )

    def open_unless_active(self, anomaly: Anomaly, now: datetime) -> bool:
        current = self.get(anomaly.key)
        if current is not None and current.active:
            return False  # a read first: the scan re-finds still-open ones every run
        model = self._m.anomalies
        try:
            model(anomaly.key).update(
                actions=_anomaly_upsert(model, anomaly, now),
                condition=model.status.does_not_exist(),
            )
        except UpdateError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    def get(self, key: str) -> AnomalyRecord | None:
        try:
            return _record(self._m.anomalies.get(key, consistent_read=True))
        except self._m.anomalies.DoesNotExist:
            return None

    def due(self, now: datetime, limit: int = 200) -> list[AnomalyRecord]:
        index = self._m.anomalies.by_status
        seen: list[tuple[str, str]] = []
        for status in ACTIVE:
            for item in index.query(
                status, self._m.anomalies.status_at <= time_key(now), limit=limit
            ):
                seen.append((item.status_at, item.anomaly_key))
        found = []
        for _, key in sorted(seen)[:limit]:
            record = self.get(key)  # the index lags: decide on the item itself
            if record and record.active and record.due_at and record.due_at <= now:
                found.append(record)
        return found

    def active(self, status: str | None = None, limit: int = 1000) -> list[AnomalyRecord]:
        index = self._m.anomalies.by_status
        found = []
        for each in (status,) if status else ACTIVE:
            found += [_record(i) for i in index.query(each, limit=limit)]
        return found[:limit]

    def resolved(self, since: datetime, until: datetime, limit: int = 200) -> list[AnomalyRecord]:
        model = self._m.anomalies
        items = model.by_status.query(
            RESOLVED,
            model.status_at.between(time_key(since), time_key(until)),
            scan_index_forward=False,
            limit=limit,
        )
        return [_record(i) for i in items]

    def _conditional(self, record: AnomalyRecord, actions: list[Any]) -> bool:
        model = self._m.anomalies
        try:
            model(record.key).update(actions=actions, condition=_unchanged(model, record))
        except UpdateError as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    def mark_announced(self, record: AnomalyRecord, next_due: datetime, now: datetime) -> bool:
        m = self._m.anomalies
        return self._conditional(
            record, [m.announced_at.set(now), m.status_at.set(time_key(next_due))]
        )

    def escalate(
        self, record: AnomalyRecord, level: int, next_due: datetime, now: datetime
    ) -> bool:
        m = self._m.anomalies
        return self._conditional(
            record,
            [
                m.escalation_level.set(level),
                m.escalated_at.set(now),
                m.status_at.set(time_key(next_due)),
            ],
        )

    def acknowledge(
        self, record: AnomalyRecord, actor: str, note: str, next_due: datetime, now: datetime
    ) -> AnomalyRecord:
        m = self._m.anomalies
        actions = [
            m.status.set(ACKNOWLEDGED),
            m.status_at.set(time_key(next_due)),
            m.acknowledged_at.set(now),
            m.acknowledged_by.set(actor),
        ]
        if note:
            actions.append(m.acknowledge_note.set(note))
        try:
            m(record.key).update(
                actions=actions,
                condition=(m.status == OPEN) & (m.opened_at == record.opened_at),
            )
        except UpdateError as exc:
            if _failed_condition(exc):
                raise Conflict(f"anomaly {record.key} changed meanwhile; read it again") from None
            raise
        return self.get(record.key) or record

    def resolve(self, record: AnomalyRecord, actor: str, note: str, now: datetime) -> AnomalyRecord:
        m = self._m.anomalies
        opened = record.opened_at or now
        episode_key = f"{record.key}@{time_key(opened)}"
        episode = m(
            episode_key,
            rule=record.rule,
            subject=record.subject,
            priority=record.priority,
            status=RESOLVED,
            status_at=time_key(now),
            detail=record.detail,
            opened_at=record.opened_at,
            last_seen_at=record.last_seen_at,
            occurrences=record.occurrences,
            announced_at=record.announced_at,
            escalation_level=record.escalation_level,
            escalated_at=record.escalated_at,
            acknowledged_at=record.acknowledged_at,
            acknowledged_by=record.acknowledged_by or None,
            acknowledge_note=record.acknowledge_note or None,
            resolved_at=now,
            resolved_by=actor,
            resolution_note=note or None,
            resolved_count=record.resolved_count,
            episode_of=record.key,
        )
        # the live record forgets the episode; the upsert starts the next one
        live = [
            m.status.remove(),
            m.status_at.remove(),
            m.opened_at.remove(),
            m.occurrences.remove(),
            m.announced_at.remove(),
            m.escalation_level.remove(),
            m.escalated_at.remove(),
            m.acknowledged_at.remove(),
            m.acknowledged_by.remove(),
            m.acknowledge_note.remove(),
            m.resolved_at.set(now),
            m.resolved_by.set(actor),
            m.resolution_note.set(note) if note else m.resolution_note.remove(),
            m.resolved_count.add(1),
        ]
        try:
            with TransactWrite(connection=self._m.connection) as tx:
                tx.save(episode, condition=m.anomaly_key.does_not_exist())
                tx.update(
                    m(record.key),
                    actions=live,
                    condition=(m.status == record.status) & (m.opened_at == record.opened_at),
                )
        except TransactWriteError as exc:
            if exc.cause_response_code == "TransactionCanceledException":
                raise Conflict(f"anomaly {record.key} changed meanwhile; read it again") from None
            raise TransientFailure(
                f"DynamoDB transaction failed: {exc.cause_response_code}"
            ) from exc
        return self.get(episode_key) or _record(episode)


class DynamoShipmentWatch:
    """`anomalies.ShipmentWatch`: the orders' sparse, keys-only `awaiting_shipment` index."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def waiting(self, stage: str, before: datetime, limit: int = 500) -> list[Waiting]:
        """Oldest first: the stage's write-sharded values (`paid#k`, and `paid` as written
        before sharding) merged on the clock (domain/index_shards.py)."""
        orders = self._m.orders
        due = orders.awaiting_since <= time_key(before)
        streams = [
            orders.awaiting_shipment.query(value, due, limit=limit)
            for value in shard_values(stage, self._m.shards, legacy=stage)
        ]
        items = islice(merge_sorted(streams, _by_since), limit)
        return [Waiting(i.order_key, parse_time_key(i.awaiting_since)) for i in items]


def _by_since(item: Any) -> str:
    return str(item.awaiting_since)
