"""Inventory difference report: OrderHub's `on_hand` per SKU and warehouse against the WMS's
own count (a snapshot file per warehouse and day). Pure Python.

Both sides are merged by SKU in one pass, like the order reconciliation. A SKU the snapshot
lists more than once (one row per bin location) is summed. OrderHub's side is its stock as
the job reads it (Beijing 01:00), the snapshot the WMS's at its own cut-off: movements in
between show as differences and say so in the reason.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from chalicelib.domain.errors import OrderHubError
from chalicelib.domain.model import StockLevel
from chalicelib.domain.reconcile import (
    SORT_CHUNK_ROWS,
    Problems,
    RowSink,
    StatementUnreadable,
    sorted_external,
)


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    sku: str
    on_hand: int


class StockKind(StrEnum):
    COUNT = "count_differs"
    ONLY_WMS = "only_in_wms"
    ONLY_ORDERHUB = "only_in_orderhub"
    UNREADABLE = "unreadable"


INVENTORY_COLUMNS = (
    "date",
    "warehouse",
    "sku",
    "kind",
    "orderhub_on_hand",
    "wms_on_hand",
    "difference",
    "orderhub_locked",
    "orderhub_reserved",
    "reason",
)
NUMERIC_COLUMNS = (
    "orderhub_on_hand",
    "wms_on_hand",
    "difference",
    "orderhub_locked",
    "orderhub_reserved",
)
SNAPSHOT_COLUMNS = ("sku", "on_hand")
RECONCILED, NO_SNAPSHOT, FAILED = "reconciled", "no WMS snapshot", "failed"


def read_snapshot_csv(lines: Iterable[str], problems: Problems) -> Iterator[SnapshotRow]:
    """`sku,on_hand` rows (a header first); unreadable rows counted in `problems`."""
    reader = csv.DictReader(lines)
    header = [(name or "").strip().lower().lstrip("\ufeff") for name in reader.fieldnames or []]
    missing = [c for c in SNAPSHOT_COLUMNS if c not in header]
    if missing:
        raise StatementUnreadable(
            f"WMS snapshot needs the columns sku,on_hand; missing {', '.join(missing)}"
        )
    reader.fieldnames = header
    for number, record in enumerate(reader, start=2):
        sku = (record.get("sku") or "").strip()
        count = (record.get("on_hand") or "").strip()
        if not sku or not count.lstrip("-").isdigit():
            problems.add(f"line {number}: needs a sku and a whole on_hand, got {sku!r}, {count!r}")
            continue
        yield SnapshotRow(sku, int(count))


@dataclass
class WarehouseSummary:
    warehouse: str
    day: date
    source: str = ""
    status: str = RECONCILED
    note: str = ""
    orderhub_units: int = 0
    wms_units: int = 0
    orderhub_skus: int = 0
    wms_skus: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def differences(self) -> int:
        return sum(self.kinds.values())

    def cells(self) -> list[str]:
        return [
            self.day.isoformat(),
            self.warehouse,
            self.status,
            str(self.orderhub_units),
            str(self.wms_units),
            str(self.orderhub_skus),
            str(self.wms_skus),
            *(str(self.kinds.get(k.value, 0)) for k in StockKind),
            self.source,
            self.note,
        ]


WAREHOUSE_COLUMNS = (
    "date",
    "warehouse",
    "status",
    "orderhub_units",
    "wms_units",
    "orderhub_skus",
    "wms_skus",
    *(k.value for k in StockKind),
    "source",
    "note",
)


def _summed(rows: Iterable[SnapshotRow]) -> Iterator[SnapshotRow]:
    held: SnapshotRow | None = None
    for row in rows:
        if held is not None and row.sku == held.sku:
            held = SnapshotRow(row.sku, held.on_hand + row.on_hand)
            continue
        if held is not None:
            yield held
        held = row
    if held is not None:
        yield held


def stock_reason(ours: StockLevel | None, wms: int | None) -> str:
    if ours is None:
        return (
            "in the WMS, unknown to OrderHub in this warehouse: a receipt never recorded, or "
            "the SKU not set up here"
        )
    if wms is None:
        return (
            f"OrderHub counts {ours.on_hand}, the WMS snapshot does not list the SKU: stock "
            "OrderHub believes is there"
        )
    gap = ours.on_hand - wms
    if gap > 0:
        held = f" (OrderHub still holds {ours.locked} locked)" if ours.locked else ""
        return (
            f"OrderHub counts {gap} more: a shipment the WMS has not confirmed to OrderHub"
            f"{held}, loss or damage not recorded, or a movement after the snapshot"
        )
    return (
        f"the WMS counts {-gap} more: a receipt or return not recorded in OrderHub, or a "
        "movement after the snapshot"
    )


def compare_stock(
    ours: Iterable[StockLevel], wms: Iterable[SnapshotRow], summary: WarehouseSummary
) -> Iterator[list[str]]:
    """Both sides sorted by SKU; one row per difference."""
    o_rows = iter(ours)
    w_rows = _summed(wms)
    o, w = next(o_rows, None), next(w_rows, None)
    day, warehouse = summary.day.isoformat(), summary.warehouse

    def row(kind: StockKind, sku: str, level: StockLevel | None, count: int | None) -> list[str]:
        summary.kinds[kind.value] += 1
        ours_on_hand = level.on_hand if level else 0
        return [
            day,
            warehouse,
            sku,
            kind.value,
            str(ours_on_hand) if level else "",
            "" if count is None else str(count),
            str(ours_on_hand - (count or 0)),
            str(level.locked) if level else "",
            str(level.reserved) if level else "",
            stock_reason(level, count),
        ]

    while o is not None or w is not None:
        if w is None or (o is not None and o.sku < w.sku):
            assert o is not None
            summary.orderhub_units += o.on_hand
            summary.orderhub_skus += 1
            if o.on_hand:
                yield row(StockKind.ONLY_ORDERHUB, o.sku, o, None)
            o = next(o_rows, None)
        elif o is None or w.sku < o.sku:
            summary.wms_units += w.on_hand
            summary.wms_skus += 1
            if w.on_hand:
                yield row(StockKind.ONLY_WMS, w.sku, None, w.on_hand)
            w = next(w_rows, None)
        else:
            summary.orderhub_units += o.on_hand
            summary.wms_units += w.on_hand
            summary.orderhub_skus += 1
            summary.wms_skus += 1
            if o.on_hand != w.on_hand:
                yield row(StockKind.COUNT, o.sku, o, w.on_hand)
            o, w = next(o_rows, None), next(w_rows, None)


class SnapshotSource(Protocol):
    def snapshot(self, warehouse: str, day: date) -> tuple[str, Iterable[str]] | None:
        """(where it came from, its text lines), or None when the WMS sent none."""
        ...


def reconcile_warehouse(
    warehouse: str,
    day: date,
    stock: Sequence[StockLevel],
    snapshots: SnapshotSource,
    sink: RowSink,
    sort_chunk: int = SORT_CHUNK_ROWS,
) -> WarehouseSummary:
    """One warehouse: every difference written to `sink`; the summary returned."""
    summary = WarehouseSummary(warehouse, day)
    ours = sorted((s for s in stock if s.warehouse == warehouse), key=lambda s: s.sku)
    try:
        found = snapshots.snapshot(warehouse, day)
        if found is None:
            summary.status = NO_SNAPSHOT
            summary.orderhub_units = sum(s.on_hand for s in ours)
            summary.orderhub_skus = len(ours)
            return summary
        summary.source, lines = found
        problems = Problems()
        wms = sorted_external(
            read_snapshot_csv(lines, problems),
            lambda r: r.sku,
            lambda r: [r.sku, str(r.on_hand)],
            lambda cells: SnapshotRow(cells[0], int(cells[1])),
            sort_chunk,
        )
        for cells in compare_stock(ours, wms, summary):
            sink.add(cells)
    except OrderHubError as exc:
        summary.status, summary.note = FAILED, exc.message
        return summary
    for problem in problems.kept:
        summary.kinds[StockKind.UNREADABLE.value] += 1
        sink.add([day.isoformat(), warehouse, "", StockKind.UNREADABLE.value, *[""] * 5, problem])
    return summary
