"""In-memory anomaly store, shipment watch and after-sales feed: the same contract as
adapters/anomalies.py (tests/integration/test_anomaly_store_contract.py runs one suite on both).

The records live in `FakeOrderRepository.anomalies`, as the DynamoDB items share the anomalies
table with the booking transaction's upserts; `upsert` is the fake's `_anomaly_upsert`."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from chalicelib.domain.after_sales import REQUESTED, AfterSalesEvent
from chalicelib.domain.anomalies import ACKNOWLEDGED, ACTIVE, OPEN, RESOLVED, AnomalyRecord
from chalicelib.domain.anomaly_rules import Waiting, awaiting_shipment
from chalicelib.domain.errors import Conflict
from chalicelib.domain.model import Anomaly

EPISODE = ("opened_at", "occurrences", "status_at", "announced_at", "escalation_level")
EPISODE += ("escalated_at", "acknowledged_at", "acknowledged_by", "acknowledge_note")


def upsert(items: dict[str, dict[str, Any]], anomaly: Anomaly, now: datetime) -> None:
    """Open once; repeats count; a resolved one (no status) reopens as a new episode."""
    item = items.setdefault(anomaly.key, {})
    item.update(
        rule=anomaly.rule,
        subject=anomaly.subject,
        priority=anomaly.priority.value,
        detail=anomaly.detail,
        last_seen_at=now,
    )
    item["status"] = item.get("status") or OPEN
    item["opened_at"] = item.get("opened_at") or now
    item["occurrences"] = int(item.get("occurrences") or 0) + 1
    item["status_at"] = item.get("status_at") or now


def legacy_view(item: dict[str, Any]) -> dict[str, Any]:
    """What `get_anomaly` has always returned."""
    opened = item.get("opened_at")
    return {
        "rule": item["rule"],
        "subject": item["subject"],
        "priority": item["priority"],
        "status": item.get("status") or RESOLVED,
        "detail": item.get("detail", ""),
        "occurrences": int(item.get("occurrences") or 0),
        "opened_at": opened.isoformat() if opened else None,
    }


def _record(key: str, item: dict[str, Any]) -> AnomalyRecord:
    status = item.get("status") or RESOLVED
    return AnomalyRecord(
        key=key,
        rule=item["rule"],
        subject=item["subject"],
        priority=item["priority"],
        status=status,
        detail=item.get("detail", ""),
        opened_at=item.get("opened_at"),
        last_seen_at=item.get("last_seen_at"),
        occurrences=int(item.get("occurrences") or 0),
        due_at=item.get("status_at") if status in ACTIVE else None,
        announced_at=item.get("announced_at"),
        escalation_level=int(item.get("escalation_level") or 0),
        escalated_at=item.get("escalated_at"),
        acknowledged_at=item.get("acknowledged_at"),
        acknowledged_by=item.get("acknowledged_by") or "",
        acknowledge_note=item.get("acknowledge_note") or "",
        resolved_at=item.get("resolved_at"),
        resolved_by=item.get("resolved_by") or "",
        resolution_note=item.get("resolution_note") or "",
        resolved_count=int(item.get("resolved_count") or 0),
        episode_of=item.get("episode_of") or "",
    )


class FakeAnomalies:
    """`anomalies.AnomalyStore` over a dict of items (a FakeOrderRepository's)."""

    def __init__(self, items: dict[str, dict[str, Any]] | None = None) -> None:
        self.items: dict[str, dict[str, Any]] = {} if items is None else items

    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None:
        upsert(self.items, anomaly, now)

    def open_unless_active(self, anomaly: Anomaly, now: datetime) -> bool:
        current = self.items.get(anomaly.key)
        if current is not None and current.get("status"):
            return False
        upsert(self.items, anomaly, now)
        return True

    def get(self, key: str) -> AnomalyRecord | None:
        item = self.items.get(key)
        return None if item is None else _record(key, item)

    def due(self, now: datetime, limit: int = 200) -> list[AnomalyRecord]:
        found = [
            _record(k, i)
            for k, i in self.items.items()
            if i.get("status") in ACTIVE and i["status_at"] <= now
        ]
        return sorted(found, key=lambda r: (r.due_at, r.key))[:limit]

    def active(self, status: str | None = None, limit: int = 1000) -> list[AnomalyRecord]:
        wanted = (status,) if status else ACTIVE
        found = [_record(k, i) for k, i in self.items.items() if i.get("status") in wanted]
        return sorted(found, key=lambda r: (ACTIVE.index(r.status), r.due_at, r.key))[:limit]

    def resolved(self, since: datetime, until: datetime, limit: int = 200) -> list[AnomalyRecord]:
        found = [
            _record(k, i)
            for k, i in self.items.items()
            if i.get("status") == RESOLVED and since <= i["status_at"] <= until
        ]
        return sorted(found, key=lambda r: (r.resolved_at, r.key), reverse=True)[:limit]

    def _unchanged(self, record: AnomalyRecord) -> dict[str, Any] | None:
        item = self.items.get(record.key)
        if item is None or item.get("status") != record.status:
            return None
        if item.get("opened_at") != record.opened_at:
            return None
        if record.due_at is not None and item.get("status_at") != record.due_at:
            return None
        return item

    def mark_announced(self, record: AnomalyRecord, next_due: datetime, now: datetime) -> bool:
        item = self._unchanged(record)
        if item is None:
            return False
        item.update(announced_at=now, status_at=next_due)
        return True

    def escalate(
        self, record: AnomalyRecord, level: int, next_due: datetime, now: datetime
    ) -> bool:
        item = self._unchanged(record)
        if item is None:
            return False
        item.update(escalation_level=level, escalated_at=now, status_at=next_due)
        return True

    def acknowledge(
        self, record: AnomalyRecord, actor: str, note: str, next_due: datetime, now: datetime
    ) -> AnomalyRecord:
        item = self.items.get(record.key)
        if item is None or item.get("status") != OPEN or item.get("opened_at") != record.opened_at:
            raise Conflict(f"anomaly {record.key} changed meanwhile; read it again")
        item.update(
            status=ACKNOWLEDGED, status_at=next_due, acknowledged_at=now, acknowledged_by=actor
        )
        if note:
            item["acknowledge_note"] = note
        return _record(record.key, item)

    def resolve(self, record: AnomalyRecord, actor: str, note: str, now: datetime) -> AnomalyRecord:
        item = self.items.get(record.key)
        if (
            item is None
            or item.get("status") != record.status
            or item.get("opened_at") != record.opened_at
        ):
            raise Conflict(f"anomaly {record.key} changed meanwhile; read it again")
        opened = record.opened_at or now
        episode_key = f"{record.key}@{opened.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}"
        if episode_key in self.items:
            raise Conflict(f"anomaly {record.key} changed meanwhile; read it again")
        episode = {k: v for k, v in item.items() if v not in (None, "")}
        episode.update(
            status=RESOLVED,
            status_at=now,
            resolved_at=now,
            resolved_by=actor,
            resolution_note=note,
            episode_of=record.key,
        )
        self.items[episode_key] = episode
        for name in ("status", *EPISODE):
            item.pop(name, None)
        item.update(
            resolved_at=now,
            resolved_by=actor,
            resolution_note=note,
            resolved_count=int(item.get("resolved_count") or 0) + 1,
        )
        return replace(_record(episode_key, episode))


class FakeShipmentWatch:
    """`anomalies.ShipmentWatch` over a FakeOrderRepository's orders."""

    def __init__(self, repo: Any) -> None:
        self.repo = repo

    def waiting(self, stage: str, before: datetime, limit: int = 500) -> list[Waiting]:
        found = []
        for order in self.repo.orders.values():
            clock = awaiting_shipment(order)
            if clock is not None and clock[0] == stage and clock[1] <= before:
                found.append(Waiting(order.key, clock[1]))
        return sorted(found, key=lambda w: (w.since, w.subject))[:limit]


class FakeAfterSales:
    """`anomalies.AfterSalesFeed` and `after_sales.AfterSalesLog`: requests a test plants
    (or the webhook path records), answered or not, keyed by subject (the order key)."""

    def __init__(self) -> None:
        self.requests: dict[str, tuple[datetime, bool]] = {}
        self.recorded: list[AfterSalesEvent] = []

    def record(self, event: AfterSalesEvent) -> bool:
        self.recorded.append(event)
        subject = event.order_key or event.request_key
        known = self.requests.get(subject)
        if event.kind == REQUESTED:
            if known is not None:
                return False
            self.requests[subject] = (event.at, False)
            return True
        if known is not None and known[1]:
            return False
        self.requests[subject] = (known[0] if known else event.at, True)
        return True

    def request(self, subject: str, at: datetime, answered: bool = False) -> None:
        self.requests[subject] = (at, answered)

    def unanswered(self, before: datetime, limit: int = 500) -> list[Waiting]:
        found = [
            Waiting(s, at)
            for s, (at, answered) in self.requests.items()
            if not answered and at <= before
        ]
        return sorted(found, key=lambda w: (w.since, w.subject))[:limit]

    def for_order(self, order_key: str, limit: int = 50) -> list[dict[str, Any]]:
        """As DynamoAfterSales.for_order, from what was recorded."""
        rows: dict[str, dict[str, Any]] = {}
        for event in self.recorded:
            if event.order_key != order_key:
                continue
            row = rows.setdefault(
                event.request_key,
                {
                    "request_key": event.request_key,
                    "platform": event.platform,
                    "requested_at": None,
                    "answered_at": None,
                    "waiting": False,
                    "detail": "",
                },
            )
            stamp = event.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            if event.kind == REQUESTED and row["requested_at"] is None:
                row["requested_at"], row["waiting"] = stamp, row["answered_at"] is None
            elif event.kind != REQUESTED:
                row["answered_at"], row["waiting"] = stamp, False
            row["detail"] = event.detail
        return list(rows.values())[:limit]
