"""In-memory fakes of the reports' ports (domain/reconcile.py, inventory_diff.py, reports.py,
monthly_review.py). The S3 and DynamoDB adapters are checked against the same behaviour in
tests/integration/test_reports_aws.py."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from chalicelib.domain.model import Order
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import (
    LedgerRow,
    Statement,
    order_amount,
    report_day,
)
from chalicelib.domain.reports import PublishedReport, ReportFile, ReportSummary, report_prefix


@dataclass
class FakeDraft:
    store: FakeReportStore
    kind: str
    day: date
    name: str
    columns: tuple[str, ...]
    rows: list[list[str]] = field(default_factory=list)
    summary: ReportSummary | None = None
    files: tuple[ReportFile, ...] = ()
    discarded: bool = False

    def add(self, cells: Sequence[str]) -> None:
        self.rows.append([str(c) for c in cells])

    def publish(self, summary: ReportSummary) -> PublishedReport:
        self.summary = summary
        prefix = report_prefix(self.kind, self.day)
        names = [f"{self.name}.csv", f"{self.name}.xlsx", "summary.csv", "summary.html"]
        self.files = tuple(
            ReportFile(
                self.kind, self.day.isoformat(), n, prefix + n, f"https://signed/{prefix}{n}"
            )
            for n in names
        )
        self.store.published.append(self)
        return PublishedReport(self.kind, self.day, self.files, self.store.expires_at())

    def discard(self) -> None:
        self.discarded = True


class FakeReportStore:
    def __init__(self, now: datetime | None = None) -> None:
        self.published: list[FakeDraft] = []
        self.drafts: list[FakeDraft] = []
        self.now = now or datetime(2026, 11, 25)

    def draft(
        self,
        kind: str,
        day: date,
        name: str,
        columns: Sequence[str],
        numeric: Sequence[str] = (),
    ) -> FakeDraft:
        draft = FakeDraft(self, kind, day, name, tuple(columns))
        self.drafts.append(draft)
        return draft

    def links(self, day: date, kind: str | None = None) -> list[ReportFile]:
        return [
            f
            for d in self.published
            if d.day == day and (kind is None or d.kind == kind)
            for f in d.files
        ]

    def expires_at(self) -> datetime:
        return self.now + timedelta(days=3)


class FakeStatements:
    """Statements by (platform, store); `errors` raise for a store."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], list[LedgerRow]] = {}
        self.errors: dict[tuple[str, str], Exception] = {}

    def statement(self, store: Store, day: date) -> Statement | None:
        key = (store.platform, store.store_id)
        if key in self.errors:
            raise self.errors[key]
        if key not in self.rows:
            return None
        return Statement(f"fake statement {key}", iter(self.rows[key]))


class FakeOrderDays:
    """OrderHub's orders, dated as the orders table's `placed_day` index dates them."""

    def __init__(self, orders: Iterable[Order] = ()) -> None:
        self.orders: dict[tuple[str, str, str], Order] = {}
        for order in orders:
            self.add(order)

    def add(self, order: Order) -> None:
        self.orders[(order.platform, order.store, order.order_id)] = order

    def _day(self, order: Order) -> date:
        placed = order.placed_at or order.created_at
        assert placed is not None
        return report_day(placed)

    def orders_of_day(self, platform: str, store: str, day: date) -> Iterator[LedgerRow]:
        found = [
            o
            for (p, s, _), o in self.orders.items()
            if (p, s) == (platform, store) and self._day(o) == day
        ]
        for o in sorted(found, key=lambda o: o.order_id):
            yield LedgerRow(
                o.order_id, o.status, order_amount(o.lines), o.currency, o.booking.value
            )

    def placed_day(self, platform: str, store: str, order_id: str) -> date | None:
        order = self.orders.get((platform, store, order_id))
        return None if order is None else self._day(order)


class FakeSnapshots:
    def __init__(self, files: dict[str, str] | None = None) -> None:
        self.files = dict(files or {})

    def snapshot(self, warehouse: str, day: date) -> tuple[str, Iterable[str]] | None:
        text = self.files.get(warehouse)
        if text is None:
            return None
        return f"fake://{warehouse}/{day}", text.splitlines(keepends=True)
