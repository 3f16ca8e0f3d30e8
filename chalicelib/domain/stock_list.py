"""The console's stock list and stock policy. Pure.

The list groups a page of stock items (adapters/order_search.py `DynamoStockList`, the
`stock_list` index) per SKU with totals, the low-stock flag, the limited-sale state (the push
rule's: total available at or below a total safety stock above 0, domain/stock_push.py) and,
per channel, the last quantity pushed and when.

A stock policy is what people set, never balances: per SKU and warehouse the safety stock and
the holdback with the channels (platforms) it is kept for; per warehouse its region and
priority (allocation order, domain/booking.py). Balances move only through the ledger.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import StockLevel
from chalicelib.domain.ports import Warehouse

MAX_QUANTITY = 10_000_000
MAX_CHANNELS = 50
_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
BUCKETS = ("on_hand", "locked", "reserved", "available")


def is_limited(levels: Sequence[StockLevel]) -> bool:
    safety = sum(lvl.safety_stock for lvl in levels)
    return safety > 0 and sum(lvl.available for lvl in levels) <= safety


def is_low(level: StockLevel) -> bool:
    """Sold out, or at or below its safety stock."""
    return level.available <= 0 or (
        level.safety_stock > 0 and level.available <= level.safety_stock
    )


def sku_views(
    levels: Sequence[StockLevel], pushed: Mapping[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """One entry per SKU (in order of first appearance) with its warehouses and channels."""
    by_sku: dict[str, list[StockLevel]] = {}
    for level in levels:
        by_sku.setdefault(level.sku, []).append(level)
    views = []
    for sku, items in by_sku.items():
        items = sorted(items, key=lambda lvl: lvl.warehouse)
        views.append(
            {
                "sku": sku,
                "warehouses": [
                    {
                        "warehouse": lvl.warehouse,
                        **{b: getattr(lvl, b) for b in BUCKETS},
                        "safety_stock": lvl.safety_stock,
                        "holdback": lvl.holdback,
                        "holdback_channels": list(lvl.holdback_channels),
                        "low": is_low(lvl),
                    }
                    for lvl in items
                ],
                "total": {b: sum(getattr(lvl, b) for lvl in items) for b in BUCKETS},
                "safety_stock": sum(lvl.safety_stock for lvl in items),
                "low": any(is_low(lvl) for lvl in items),
                "limited_sale": is_limited(items),
                "channels": pushed.get(sku, []),
            }
        )
    return views


def _quantity(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_QUANTITY:
        raise InvalidPayload(f"{name} must be a whole number 0..{MAX_QUANTITY}")
    return value


@dataclass(frozen=True)
class StockPolicy:
    safety_stock: int
    holdback: int
    holdback_channels: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "safety_stock": self.safety_stock,
            "holdback": self.holdback,
            "holdback_channels": list(self.holdback_channels),
        }


def parse_policy(body: Any, current: StockLevel) -> StockPolicy:
    """`{"safety_stock", "holdback", "holdback_channels"}`: each optional (kept as it is when
    absent), at least one given; InvalidPayload naming the field."""
    if not isinstance(body, Mapping):
        raise InvalidPayload("the body must be a JSON object")
    known = {"safety_stock", "holdback", "holdback_channels"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidPayload(f"unknown field '{unknown[0]}'; use {', '.join(sorted(known))}")
    if not set(body) & known:
        raise InvalidPayload("give at least one of safety_stock, holdback, holdback_channels")
    safety = _quantity(body, "safety_stock") if "safety_stock" in body else current.safety_stock
    holdback = _quantity(body, "holdback") if "holdback" in body else current.holdback
    channels = current.holdback_channels
    if "holdback_channels" in body:
        raw = body["holdback_channels"]
        if not isinstance(raw, list) or len(raw) > MAX_CHANNELS:
            raise InvalidPayload(f"holdback_channels must be a list of up to {MAX_CHANNELS}")
        for item in raw:
            if not isinstance(item, str) or not _NAME.match(item):
                raise InvalidPayload('holdback_channels must name platforms, e.g. ["tiktok"]')
        channels = tuple(dict.fromkeys(raw))
    if holdback and not channels:
        raise InvalidPayload("a holdback needs holdback_channels: the platforms it is kept for")
    return StockPolicy(safety, holdback, channels)


def parse_warehouse(warehouse_id: str, body: Any, current: Warehouse | None) -> Warehouse:
    """`{"region", "priority"}` for a warehouse (either may be absent on an existing one)."""
    if not _NAME.match(warehouse_id):
        raise InvalidPayload("warehouse id: 1-64 letters, digits, '-', '_', '.', ':'")
    if not isinstance(body, Mapping):
        raise InvalidPayload("the body must be a JSON object")
    unknown = sorted(set(body) - {"region", "priority"})
    if unknown:
        raise InvalidPayload(f"unknown field '{unknown[0]}'; use region, priority")
    if current is None and not {"region", "priority"} <= set(body):
        raise InvalidPayload("a new warehouse needs region and priority")
    region = body.get("region", current.region if current else "")
    if not isinstance(region, str) or not 1 <= len(region) <= 64:
        raise InvalidPayload("region must be text of 1-64 characters (e.g. east)")
    priority = body.get("priority", current.priority if current else 0)
    if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 1000:
        raise InvalidPayload("priority must be a whole number 1..1000 (1 is tried first)")
    return Warehouse(warehouse_id, region, priority)
