"""The nightly reports (Beijing 01:00, for the day before): the order reconciliation of every
store and the inventory difference report of every warehouse, each published to S3 and
announced to finance. Pure Python over ports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from chalicelib.domain.inventory_diff import (
    INVENTORY_COLUMNS,
    NUMERIC_COLUMNS,
    WAREHOUSE_COLUMNS,
    SnapshotSource,
    WarehouseSummary,
    reconcile_warehouse,
)
from chalicelib.domain.model import StockLevel
from chalicelib.domain.notices import Notifier
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import (
    DIFFERENCE_COLUMNS,
    RECONCILED,
    SORT_CHUNK_ROWS,
    SUMMARY_COLUMNS,
    OrderDays,
    StatementSource,
    StoreSummary,
    reconcile_store,
    summary_cells,
)
from chalicelib.domain.reports import (
    INVENTORY,
    RECONCILIATION,
    Chart,
    PublishedReport,
    ReportStore,
    ReportSummary,
    report_notice,
)


@dataclass
class ReportRun:
    """What one report run did, for the job's answer and its log."""

    kind: str
    day: date
    rows: int = 0
    published: PublishedReport | None = None
    notified: bool = False
    notify_error: str = ""
    details: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "date": self.day.isoformat(),
            "rows": self.rows,
            "files": [f.key for f in self.published.files] if self.published else [],
            "link": self.published.link if self.published else "",
            "notified": self.notified,
            "notify_error": self.notify_error,
            "details": self.details,
        }


class _Counting:
    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.rows = 0

    def add(self, cells: Sequence[str]) -> None:
        self.rows += 1
        self._sink.add(cells)


def reconciliation_summary(day: date, stores: Sequence[StoreSummary]) -> ReportSummary:
    reconciled = [s for s in stores if s.status == RECONCILED]
    differing = [s for s in reconciled if s.differences]
    total = sum(s.differences for s in stores)
    lines = [
        f"{len(reconciled)} of {len(stores)} stores reconciled for {day.isoformat()} "
        "(Beijing day); "
        f"{len(differing)} with differences, {total} orders listed",
        *(
            f"{s.platform}/{s.store}: platform {s.theirs.count} orders ({s.theirs.amount_text()})"
            f" vs OrderHub {s.ours.count} ({s.ours.amount_text()}): "
            + ", ".join(f"{n} {k}" for k, n in sorted(s.kinds.items()) if n)
            for s in differing
        ),
        *(f"{s.platform}/{s.store}: {s.status}: {s.note}" for s in stores if s.status == "failed"),
    ]
    without = [f"{s.platform}/{s.store}" for s in stores if s.status == "no platform data"]
    if without:
        lines.append(f"no platform data (no statement file, no API): {', '.join(without)}")
    chart = Chart(
        "Orders per store: platform vs OrderHub",
        ("platform", "OrderHub"),
        tuple(
            (f"{s.platform}/{s.store}", (float(s.theirs.count), float(s.ours.count)))
            for s in reconciled
        ),
        "orders",
    )
    title = f"Reconciliation {day.isoformat()}: " + (
        f"{len(differing)} stores with differences" if differing else "no differences"
    )
    return ReportSummary(
        title,
        tuple(lines),
        SUMMARY_COLUMNS,
        tuple(tuple(summary_cells(s)) for s in stores),
        chart,
    )


def inventory_summary(day: date, warehouses: Sequence[WarehouseSummary]) -> ReportSummary:
    compared = [w for w in warehouses if w.status == RECONCILED]
    differing = [w for w in compared if w.differences]
    lines = [
        f"{len(compared)} of {len(warehouses)} warehouses compared with their WMS snapshot of "
        f"{day.isoformat()}; {len(differing)} with differences, "
        f"{sum(w.differences for w in warehouses)} SKUs listed",
        *(
            f"{w.warehouse}: OrderHub {w.orderhub_units} units vs WMS {w.wms_units}"
            for w in differing
        ),
        *(f"{w.warehouse}: {w.status} {w.note}".rstrip() for w in warehouses if w not in compared),
    ]
    chart = Chart(
        "Units on hand per warehouse: OrderHub vs WMS",
        ("OrderHub", "WMS"),
        tuple((w.warehouse, (float(w.orderhub_units), float(w.wms_units))) for w in compared),
        "units",
    )
    title = f"Inventory differences {day.isoformat()}: " + (
        f"{len(differing)} warehouses differ" if differing else "none"
    )
    return ReportSummary(
        title,
        tuple(lines),
        WAREHOUSE_COLUMNS,
        tuple(tuple(w.cells()) for w in warehouses),
        chart,
    )


def announce_report(
    run: ReportRun, summary: ReportSummary, notifier: Notifier, at: datetime
) -> None:
    """Tell finance; a notice no route takes is recorded, the report stands regardless."""
    assert run.published is not None
    try:
        notifier.notify(report_notice(run.published, summary, at))
        run.notified = True
    except Exception as exc:  # the notifier's own failure: the job still reports
        run.notify_error = f"{type(exc).__name__}: {exc}"


def run_reconciliation(
    day: date,
    stores: Sequence[Store],
    statements: StatementSource,
    orders: OrderDays,
    reports: ReportStore,
    notifier: Notifier,
    now: Callable[[], datetime],
    sort_chunk: int = SORT_CHUNK_ROWS,
) -> ReportRun:
    """Every store's day, into one report (`reports/reconciliation/<day>/`), then a notice."""
    run = ReportRun(RECONCILIATION, day)
    draft = reports.draft(
        RECONCILIATION,
        day,
        "differences",
        DIFFERENCE_COLUMNS,
        numeric=("platform_amount", "orderhub_amount"),
    )
    sink = _Counting(draft)
    try:
        summaries = [
            reconcile_store(store, day, statements, orders, sink, sort_chunk) for store in stores
        ]
    except BaseException:
        draft.discard()
        raise
    summary = reconciliation_summary(day, summaries)
    run.rows = sink.rows
    run.details = [s.to_dict() for s in summaries]
    run.published = draft.publish(summary)
    announce_report(run, summary, notifier, now())
    return run


def run_inventory_report(
    day: date,
    warehouses: Sequence[str],
    stock: Sequence[StockLevel],
    snapshots: SnapshotSource,
    reports: ReportStore,
    notifier: Notifier,
    now: Callable[[], datetime],
) -> ReportRun:
    """Every warehouse against its WMS snapshot (`reports/inventory/<day>/`), then a notice."""
    run = ReportRun(INVENTORY, day)
    draft = reports.draft(INVENTORY, day, "differences", INVENTORY_COLUMNS, NUMERIC_COLUMNS)
    sink = _Counting(draft)
    names = sorted({*warehouses, *(s.warehouse for s in stock)})
    try:
        summaries = [reconcile_warehouse(w, day, stock, snapshots, sink) for w in names]
    except BaseException:
        draft.discard()
        raise
    summary = inventory_summary(day, summaries)
    run.rows = sink.rows
    run.details = [dict(zip(WAREHOUSE_COLUMNS, w.cells(), strict=True)) for w in summaries]
    run.published = draft.publish(summary)
    announce_report(run, summary, notifier, now())
    return run
