"""DynamoDB through pynamodb, part two: the per-event trail (receipts, attempts, outcomes) and
the catalog (stores, warehouses, SKU maps, API keys). Models come from `adapters/dynamo.py`'s
`build_models`; the order and stock repository stays there."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.adapters.dynamo_models import Models, index_value, query_sharded
from chalicelib.domain.model import Receipt, TrailEntry
from chalicelib.domain.ports import Store, StoreRules, Warehouse


def store_day(platform: str, store: str, received_at: datetime) -> str:
    """The trail's store_day index key: the store and the UTC day of receipt."""
    return f"{platform}#{store}#{received_at.astimezone(UTC).date().isoformat()}"


def _attempt_entry(
    at: datetime, attempt: int, outcome: str | None, error_class: str | None
) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": at.astimezone(UTC).isoformat(), "attempt": attempt}
    if outcome:
        entry["outcome"] = outcome
    if error_class:
        entry["error_class"] = error_class
    return entry


def receipt_actions(t: Any, receipt: Receipt) -> list[Any]:
    """The receipt's fields; a redelivery (or a replay) keeps the first receipt's time and ack."""
    at = receipt.received_at
    actions = [
        t.platform.set(receipt.platform),
        t.store.set(receipt.store),
        t.received_at.set(t.received_at | at.astimezone(UTC).isoformat()),
        t.store_day.set(t.store_day | store_day(receipt.platform, receipt.store, at)),
        t.message_id.set(receipt.message_id),
    ]
    if receipt.ack_ms is not None:
        actions.append(t.ack_ms.set(t.ack_ms | receipt.ack_ms))
    if receipt.raw_key:  # this delivery's copy of the raw payload (a batch member)
        actions.append(t.raw_key.set(receipt.raw_key))
    return actions


def booked_trail_actions(t: Any, entry: TrailEntry, outcome: str) -> list[Any]:
    """A booking's trail in one write: receipt, this attempt, the final outcome, not pending."""
    attempt = _attempt_entry(entry.at, entry.attempt, outcome, None)
    return [
        *receipt_actions(t, entry.receipt),
        t.attempts.set((t.attempts | []).append([attempt])),
        t.final_outcome.set(outcome),
        t.pending.remove(),
    ]


def _trail_view(item: Any) -> dict[str, Any]:
    return {
        "event_key": item.event_key,
        "platform": item.platform,
        "store": item.store,
        "received_at": item.received_at,
        "ack_ms": None if item.ack_ms is None else int(item.ack_ms),
        "message_id": item.message_id,
        "raw_key": item.raw_key,
        "attempts": [
            {k: int(v) if k == "attempt" else v for k, v in dict(a).items()}
            for a in (item.attempts or [])
        ],
        "final_outcome": item.final_outcome,
        "pending": item.pending is not None,
    }


class DynamoTrail:
    """The per-event trail in its own table; every write is one UpdateItem."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def record_receipt(
        self,
        event_key: str,
        platform: str,
        store: str,
        received_at: datetime,
        ack_ms: int,
        message_id: str,
    ) -> None:
        t = self._m.trail
        at = received_at.astimezone(UTC).isoformat()
        details = [
            t.platform.set(platform),
            t.store.set(store),
            t.received_at.set(t.received_at | at),  # a redelivery keeps the first receipt
            t.store_day.set(t.store_day | store_day(platform, store, received_at)),
            t.ack_ms.set(ack_ms),
            t.message_id.set(message_id),
        ]
        try:
            t(event_key).update(
                actions=[
                    *details,
                    t.pending.set(index_value("pending", event_key, self._m.shards)),
                ],
                condition=t.final_outcome.does_not_exist(),
            )
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            # processed before its receipt was written: record the receipt, not pending
            t(event_key).update(actions=details)

    def record_attempt(
        self,
        event_key: str,
        at: datetime,
        attempt: int,
        outcome: str | None = None,
        error_class: str | None = None,
        final: bool = False,
        error: str | None = None,
        receipt: Receipt | None = None,
    ) -> None:
        t = self._m.trail
        entry = _attempt_entry(at, attempt, outcome, error_class)
        if error:
            entry["error"] = error
        actions = [t.attempts.set((t.attempts | []).append([entry]))]
        if receipt is not None:  # the processor records the receipt the message carried
            actions += receipt_actions(t, receipt)
        if final and outcome:
            actions += [t.final_outcome.set(outcome), t.pending.remove()]
        elif receipt is not None:  # not final yet: pending, unless another attempt settled it
            pending = index_value("pending", event_key, self._m.shards)
            try:
                t(event_key).update(
                    actions=[*actions, t.pending.set(pending)],
                    condition=t.final_outcome.does_not_exist(),
                )
                return
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
        t(event_key).update(actions=actions)

    def finalize(self, event_key: str, outcome: str) -> None:
        t = self._m.trail
        t(event_key).update(actions=[t.final_outcome.set(outcome), t.pending.remove()])

    def pending_before(self, before: datetime, limit: int = 500) -> list[Mapping[str, Any]]:
        t = self._m.trail
        earlier = t.received_at < before.astimezone(UTC).isoformat()
        items = query_sharded(
            t.pending_events, "pending", self._m.shards, _by_receipt, earlier, limit=limit
        )
        return [_trail_view(i) for i in islice(items, limit)]

    def receipts(self, platform: str, store: str, day: str) -> list[Mapping[str, Any]]:
        items = self._m.trail.by_store_day.query(f"{platform}#{store}#{day}")
        return [_trail_view(i) for i in items]

    def get(self, event_key: str) -> Mapping[str, Any] | None:
        try:
            return _trail_view(self._m.trail.get(event_key, consistent_read=True))
        except self._m.trail.DoesNotExist:
            return None


def _store(platform: str, store_id: str, data: Mapping[str, Any]) -> Store:
    rules = {
        k: v
        for k, v in dict(data.get("rules") or {}).items()
        if k in StoreRules.__dataclass_fields__
    }
    if "reservation_minutes" in rules:
        rules["reservation_minutes"] = int(rules["reservation_minutes"])
    return Store(
        platform,
        store_id,
        str(data["secret_name"]),
        str(data.get("timezone", "UTC")),
        str(data.get("name", "")),
        StoreRules(**rules),
        disabled=bool(data.get("disabled", False)),
        disabled_reason=str(data.get("disabled_reason", "")),
    )


class DynamoCatalog:
    """Stores, warehouses, SKU mappings and API keys in the catalog table."""

    def __init__(self, models: Models) -> None:
        self._m = models

    def _get(self, pk: str, sk: str) -> Mapping[str, Any] | None:
        try:
            item = self._m.catalog.get(pk, sk)
        except self._m.catalog.DoesNotExist:
            return None
        return dict(item.data.as_dict()) if item.data else {}

    def _put(self, pk: str, sk: str, data: Mapping[str, Any]) -> None:
        self._m.catalog(pk, sk, data=dict(data)).save()

    def get_store(self, platform: str, store_id: str) -> Store | None:
        data = self._get(f"STORE#{platform}#{store_id}", "STORE")
        return None if data is None else _store(platform, store_id, data)

    def list_stores(self) -> list[Store]:
        """Every store (a filtered scan: the catalog is small, and callers cache it)."""
        found = []
        for item in self._m.catalog.scan(self._m.catalog.sk == "STORE"):
            _, platform, store_id = item.pk.split("#", 2)
            data = dict(item.data.as_dict()) if item.data else {}
            found.append(_store(platform, store_id, data))
        return sorted(found, key=lambda s: (s.platform, s.store_id))

    def put_store(self, store: Store) -> None:
        self._put(
            f"STORE#{store.platform}#{store.store_id}",
            "STORE",
            {
                "secret_name": store.secret_name,
                "timezone": store.timezone,
                "name": store.name,
                "rules": {  # tuples (the address blocklist) are stored as lists
                    k: list(v) if isinstance(v, tuple) else v
                    for k, v in asdict(store.rules).items()
                },
                "disabled": store.disabled,
                "disabled_reason": store.disabled_reason,
            },
        )

    def list_warehouses(self) -> list[Warehouse]:
        return [
            Warehouse(item.sk, str(item.data["region"]), int(item.data["priority"]))
            for item in self._m.catalog.query("WAREHOUSE")
        ]

    def put_warehouse(self, warehouse: Warehouse) -> None:
        self._put(
            "WAREHOUSE",
            warehouse.warehouse_id,
            {"region": warehouse.region, "priority": warehouse.priority},
        )

    def resolve_sku(self, platform: str, store_id: str, channel_sku: str) -> str | None:
        data = self._get(f"SKUMAP#{platform}#{store_id}", channel_sku)
        return str(data["sku"]) if data else None

    def put_sku_mapping(self, platform: str, store_id: str, channel_sku: str, sku: str) -> None:
        self._put(f"SKUMAP#{platform}#{store_id}", channel_sku, {"sku": sku})

    def channel_skus(self, platform: str, store_id: str, sku: str) -> list[str]:
        """The store's channel SKUs that map to `sku` (its `sku_mapping: table`), sorted."""
        return sorted(
            item.sk
            for item in self._m.catalog.query(f"SKUMAP#{platform}#{store_id}")
            if item.data and item.data.as_dict().get("sku") == sku
        )

    def get_api_key(self, key_hash: str) -> Mapping[str, Any] | None:
        return self._get(f"APIKEY#{key_hash}", "APIKEY")

    def put_api_key(self, key_hash: str, record: Mapping[str, Any]) -> None:
        self._put(f"APIKEY#{key_hash}", "APIKEY", record)


def _by_receipt(item: Any) -> str:
    return str(item.received_at)
