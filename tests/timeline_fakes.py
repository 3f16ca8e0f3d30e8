"""The in-memory `OrderHistory` (domain/timeline.py) over the fake stack of tests/fakes.py.
The contract suite (tests/integration/test_order_history_contract.py) runs against this and
the DynamoDB/SQS/S3 adapter alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from chalicelib.adapters.dynamo import order_ref
from chalicelib.adapters.history import _correlation
from chalicelib.domain.dlq import describe
from chalicelib.domain.timeline import DlqSearch
from tests.fakes import FakeOrderRepository, FakeRawArchive, FakeTrail


class FakeOrderHistory:
    def __init__(
        self,
        orders: FakeOrderRepository,
        trail: FakeTrail,
        dead_letters: Any,
        raw_archive: FakeRawArchive,
    ) -> None:
        self.orders = orders
        self.trail = trail
        self.dead_letters = dead_letters
        self.raw_archive = raw_archive
        # anomaly items beyond what the repository's upsert keeps (lifecycle times)
        self.anomaly_items: dict[str, dict[str, Any]] = {}

    def event_records(self, order_key: str, limit: int) -> list[Mapping[str, Any]]:
        found = [
            self.orders.get_event_outcome(key)
            for key, (record, _) in self.orders.events.items()
            if order_ref(record.order_key) == order_key
        ]
        views = [v for v in found if v is not None]
        return sorted(views, key=lambda v: (v["processed_at"], v["event_key"]))[:limit]

    def trails(self, event_keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        found = {key: self.trail.get(key) for key in dict.fromkeys(event_keys)}
        return {k: v for k, v in found.items() if v is not None}

    def anomalies(self, anomaly_keys: Sequence[str]) -> list[Mapping[str, Any]]:
        found = []
        for key in dict.fromkeys(anomaly_keys):
            item = self.anomaly_items.get(key) or self.orders.anomalies.get(key)
            if item is not None:
                found.append(
                    {k: v.isoformat() if isinstance(v, datetime) else v for k, v in item.items()}
                )
        return found

    def parked(self, order_key: str, limit: int) -> DlqSearch:
        depth = self.dead_letters.depth()
        if depth == 0:
            return DlqSearch((), 0, 0)
        messages = self.dead_letters.browse()[:limit]
        mine = tuple(describe(m) for m in messages if _correlation(m) == order_key)
        return DlqSearch(mine, depth, len(messages))

    def raw_payload(self, key: str) -> Mapping[str, Any] | None:
        return self.raw_archive.read(key)
