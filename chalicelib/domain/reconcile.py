"""Daily reconciliation: the platform's own list of a store's orders for a Beijing day against
what OrderHub recorded. Pure Python (stdlib only).

Both sides are streams of `LedgerRow`s sorted by order id; `compare` merges them in one pass
and yields every difference with a likely reason, keeping only the totals in memory, so a day
of a million orders costs the same memory as a day of ten. The platform's side rarely comes
sorted (statement exports, API pages by time): `sorted_rows` sorts it in chunks spilled to
temporary files and merged (an external merge sort: memory bounded by the chunk).

The day is Beijing's (00:00-24:00 Asia/Shanghai) for every store: the job runs at Beijing
01:00 for the day before. OrderHub dates an order by the time of the first event it received
for it (`Order.placed_at`), which for webhook platforms is the order's creation; see
docs/architecture.md "Reconciliation" for the boundary cases.

Statuses compare by what they mean for money, not by lifecycle step: `open` (unpaid), `live`
(paid, shipped: money taken) and `void` (cancelled, refunded). A paid order the platform
already shows shipped is lag, not a discrepancy; a cancelled one OrderHub still holds as paid
is ("cancel not synced").
"""

from __future__ import annotations

import csv
import heapq
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import IO, Protocol, TypeVar
from zoneinfo import ZoneInfo

from chalicelib.domain.errors import OrderHubError
from chalicelib.domain.model import OrderLine, PlatformStatus
from chalicelib.domain.ports import Store

REPORT_ZONE = ZoneInfo("Asia/Shanghai")
SORT_CHUNK_ROWS = 100_000  # rows held in memory while sorting the platform's side
LOCATE_LIMIT = 1_000  # missing orders per store looked up in OrderHub by key (one read each)
STATUS_ALIASES = {
    # platform export words seen in statements, to OrderHub's canonical statuses
    "void": PlatformStatus.CANCELLED,
    "voided": PlatformStatus.CANCELLED,
    "canceled": PlatformStatus.CANCELLED,
    "closed": PlatformStatus.CANCELLED,
    "completed": PlatformStatus.SHIPPED,
    "finished": PlatformStatus.SHIPPED,
    "delivered": PlatformStatus.SHIPPED,
    "pending": PlatformStatus.UNPAID,
}
OPEN, LIVE, VOID = "open", "live", "void"
MONEY_CLASS = {
    PlatformStatus.UNPAID: OPEN,
    PlatformStatus.PAID: LIVE,
    PlatformStatus.SHIPPED: LIVE,
    PlatformStatus.CANCELLED: VOID,
    PlatformStatus.REFUNDED: VOID,
}


class StatementUnreadable(OrderHubError):
    """The platform's statement cannot be read at all (missing columns, not CSV)."""

    code = "statement_unreadable"


class UnsortedInput(OrderHubError):
    """A side that must come sorted by order id did not: the merge would be wrong."""

    code = "unsorted_input"


# ---- days ------------------------------------------------------------------------------


def report_day(moment: datetime) -> date:
    """The Beijing day `moment` falls on."""
    return moment.astimezone(REPORT_ZONE).date()


def previous_day(now: datetime) -> date:
    """The Beijing day before the one `now` falls on: what the 01:00 run reconciles."""
    return report_day(now) - timedelta(days=1)


def day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of the Beijing day, in UTC."""
    start = datetime.combine(day, time(0), REPORT_ZONE)
    end = datetime.combine(day + timedelta(days=1), time(0), REPORT_ZONE)
    return start.astimezone(UTC), end.astimezone(UTC)


def placed_day_key(platform: str, store: str, day: date) -> str:
    """The orders table's `placed_day` index key: the store and the Beijing day."""
    return f"{platform}#{store}#{day.isoformat()}"


def placed_day_of(platform: str, store: str, placed_at: datetime) -> str:
    return placed_day_key(platform, store, report_day(placed_at))


def order_amount(lines: Iterable[OrderLine]) -> Decimal:
    """What OrderHub records as an order's amount: quantity x unit price over its lines."""
    return sum((line.unit_price * line.quantity for line in lines), Decimal(0))


# ---- rows ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One order as one side lists it. `booking` is OrderHub's only."""

    order_id: str
    status: PlatformStatus
    amount: Decimal
    currency: str
    booking: str = ""

    def cells(self) -> list[str]:
        return [self.order_id, self.status.value, str(self.amount), self.currency, self.booking]

    @classmethod
    def from_cells(cls, cells: Sequence[str]) -> LedgerRow:
        return cls(cells[0], PlatformStatus(cells[1]), Decimal(cells[2]), cells[3], cells[4])


def parse_status(text: str) -> PlatformStatus:
    """A statement's status: OrderHub's own words or a common alias; ValueError otherwise."""
    word = text.strip().lower()
    try:
        return PlatformStatus(word)
    except ValueError:
        if word in STATUS_ALIASES:
            return STATUS_ALIASES[word]
    allowed = ", ".join([*(s.value for s in PlatformStatus), *STATUS_ALIASES])
    raise ValueError(f"status '{text}' is not one of {allowed}")


def parse_amount(text: str) -> Decimal:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"amount '{text}' is not a decimal number") from None
    if not amount.is_finite():
        raise ValueError(f"amount '{text}' is not a finite number")
    return amount


STATEMENT_COLUMNS = ("order_id", "status", "amount", "currency")


@dataclass
class Problems:
    """Rows of a statement that could not be read: every one counted, the first kept."""

    keep: int = 200
    count: int = 0
    kept: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.kept) < self.keep:
            self.kept.append(text)


def read_statement_csv(
    lines: Iterable[str], default_currency: str, problems: Problems
) -> Iterator[LedgerRow]:
    """A statement file (CSV with a header: order_id,status,amount,currency; currency may be
    left out or empty) read row by row. A row that cannot be read is counted in `problems`
    and skipped; a file without the columns raises StatementUnreadable."""
    reader = csv.DictReader(lines)
    header = [(name or "").strip().lower().lstrip("\ufeff") for name in reader.fieldnames or []]
    missing = [c for c in STATEMENT_COLUMNS[:3] if c not in header]
    if missing:
        raise StatementUnreadable(
            f"statement needs the columns {','.join(STATEMENT_COLUMNS)}; "
            f"missing {', '.join(missing)}"
        )
    reader.fieldnames = header
    for number, record in enumerate(reader, start=2):
        order_id = (record.get("order_id") or "").strip()
        try:
            if not order_id:
                raise ValueError("order_id is empty")
            yield LedgerRow(
                order_id,
                parse_status(record.get("status") or ""),
                parse_amount(record.get("amount") or ""),
                (record.get("currency") or "").strip().upper() or default_currency,
            )
        except ValueError as exc:
            problems.add(f"line {number}: {exc}")


# ---- sorting the platform's side --------------------------------------------------------

T = TypeVar("T")


def sorted_external(
    items: Iterable[T],
    key: Callable[[T], str],
    dump: Callable[[T], list[str]],
    load: Callable[[list[str]], T],
    chunk: int = SORT_CHUNK_ROWS,
    spill_dir: str | None = None,
) -> Iterator[T]:
    """`items` sorted by `key`, holding at most `chunk` of them in memory: full chunks are
    sorted and spilled to temporary CSV files, then merged. Stable: items with equal keys
    come out in input order. The whole input is read before the first item is yielded."""
    pending: list[T] = []
    spills: list[IO[str]] = []
    try:
        for item in items:
            pending.append(item)
            if len(pending) >= chunk:
                spills.append(_spill(sorted(pending, key=key), dump, spill_dir))
                pending = []
        if not spills:
            yield from sorted(pending, key=key)
            return
        if pending:
            spills.append(_spill(sorted(pending, key=key), dump, spill_dir))
            pending = []
        streams = [(load(cells) for cells in csv.reader(f)) for f in spills]
        yield from heapq.merge(*streams, key=key)
    finally:
        for f in spills:
            f.close()


def _spill(items: Iterable[T], dump: Callable[[T], list[str]], spill_dir: str | None) -> IO[str]:
    # closed by sorted_external once merged
    f = tempfile.TemporaryFile("w+", encoding="utf-8", newline="", dir=spill_dir)  # noqa: SIM115
    csv.writer(f).writerows(dump(item) for item in items)
    f.seek(0)
    return f


def sorted_rows(
    rows: Iterable[LedgerRow], chunk: int = SORT_CHUNK_ROWS, spill_dir: str | None = None
) -> Iterator[LedgerRow]:
    """Ledger rows sorted by order id (see `sorted_external`)."""
    return sorted_external(
        rows, lambda r: r.order_id, LedgerRow.cells, LedgerRow.from_cells, chunk, spill_dir
    )


# ---- the merge ---------------------------------------------------------------------------


class Kind(StrEnum):
    MISSING = "missing"  # on the platform, not in OrderHub
    EXTRA = "extra"  # in OrderHub, not on the platform
    MISMATCH = "mismatch"  # on both; status or amount differ
    UNREADABLE = "unreadable"  # a statement row that could not be read


DIFFERENCE_COLUMNS = (
    "date",
    "platform",
    "store",
    "order_id",
    "kind",
    "platform_status",
    "orderhub_status",
    "orderhub_booking",
    "platform_amount",
    "orderhub_amount",
    "currency",
    "reason",
)


@dataclass(frozen=True, slots=True)
class Difference:
    day: date
    platform: str
    store: str
    order_id: str
    kind: Kind
    reason: str
    theirs: LedgerRow | None = None
    ours: LedgerRow | None = None

    def cells(self) -> list[str]:
        p, o = self.theirs, self.ours
        return [
            self.day.isoformat(),
            self.platform,
            self.store,
            self.order_id,
            self.kind.value,
            p.status.value if p else "",
            o.status.value if o else "",
            o.booking if o else "",
            str(p.amount) if p else "",
            str(o.amount) if o else "",
            (p.currency if p else "") or (o.currency if o else ""),
            self.reason,
        ]


@dataclass
class Totals:
    """Order count and amount per currency, exact (Decimal)."""

    count: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)

    def add(self, row: LedgerRow) -> None:
        self.count += 1
        self.amounts[row.currency] = self.amounts.get(row.currency, Decimal(0)) + row.amount

    def amount_text(self) -> str:
        return "; ".join(f"{c or '?'} {a}" for c, a in sorted(self.amounts.items())) or "0"


RECONCILED, NO_PLATFORM_DATA, FAILED = "reconciled", "no platform data", "failed"


@dataclass
class StoreSummary:
    """One store's day: where the platform's side came from, both totals, difference counts."""

    platform: str
    store: str
    day: date
    source: str = ""
    status: str = RECONCILED
    note: str = ""
    theirs: Totals = field(default_factory=Totals)
    ours: Totals = field(default_factory=Totals)
    kinds: Counter[str] = field(default_factory=Counter)
    repeated: int = 0  # rows the platform listed more than once (the last one counts)

    @property
    def differences(self) -> int:
        return sum(self.kinds.values())

    def to_dict(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "store": self.store,
            "date": self.day.isoformat(),
            "status": self.status,
            "source": self.source,
            "note": self.note,
            "platform_count": self.theirs.count,
            "orderhub_count": self.ours.count,
            "platform_amount": self.theirs.amount_text(),
            "orderhub_amount": self.ours.amount_text(),
            **{kind.value: self.kinds.get(kind.value, 0) for kind in Kind},
        }


SUMMARY_COLUMNS = (
    "date",
    "platform",
    "store",
    "status",
    "platform_count",
    "orderhub_count",
    "platform_amount",
    "orderhub_amount",
    *(k.value for k in Kind),
    "source",
    "note",
)


def summary_cells(summary: StoreSummary) -> list[str]:
    values = summary.to_dict()
    return [str(values[c]) for c in SUMMARY_COLUMNS]


def _ascending(rows: Iterable[LedgerRow], side: str) -> Iterator[LedgerRow]:
    last = ""
    for row in rows:
        if row.order_id < last:
            raise UnsortedInput(f"{side} rows are not sorted by order id ('{row.order_id}')")
        last = row.order_id
        yield row


def _last_of_each(rows: Iterator[LedgerRow], summary: StoreSummary) -> Iterator[LedgerRow]:
    """One row per order id: a platform listing an order twice (pages that shifted while
    read) counts it once, as its last row says."""
    held: LedgerRow | None = None
    for row in rows:
        if held is not None and row.order_id != held.order_id:
            yield held
        elif held is not None:
            summary.repeated += 1
        held = row
    if held is not None:
        yield held


def compare(
    theirs: Iterable[LedgerRow],
    ours: Iterable[LedgerRow],
    summary: StoreSummary,
    locate: Callable[[str], date | None] | None = None,
    locate_limit: int = LOCATE_LIMIT,
) -> Iterator[Difference]:
    """Merge both sides (each sorted by order id) in one pass; yield every difference in order
    id order and add both sides to `summary`'s totals. `locate(order_id)` (optional) finds
    the day OrderHub dates an order on, to explain an order missing from this day's side."""
    p_rows = _last_of_each(_ascending(theirs, "platform"), summary)
    o_rows = _last_of_each(_ascending(ours, "OrderHub"), summary)
    p, o = next(p_rows, None), next(o_rows, None)
    located = 0

    def diff(
        kind: Kind, order_id: str, reason: str, pr: LedgerRow | None, orow: LedgerRow | None
    ) -> Difference:
        summary.kinds[kind.value] += 1
        return Difference(
            summary.day, summary.platform, summary.store, order_id, kind, reason, pr, orow
        )

    while p is not None or o is not None:
        if o is None or (p is not None and p.order_id < o.order_id):
            assert p is not None
            summary.theirs.add(p)
            elsewhere = None
            if locate is not None and located < locate_limit:
                located += 1
                elsewhere = locate(p.order_id)
            yield diff(Kind.MISSING, p.order_id, missing_reason(p, elsewhere), p, None)
            p = next(p_rows, None)
        elif p is None or o.order_id < p.order_id:
            summary.ours.add(o)
            yield diff(Kind.EXTRA, o.order_id, extra_reason(o), None, o)
            o = next(o_rows, None)
        else:
            summary.theirs.add(p)
            summary.ours.add(o)
            reasons = mismatch_reasons(p, o)
            if reasons:
                yield diff(Kind.MISMATCH, p.order_id, "; ".join(reasons), p, o)
            p, o = next(p_rows, None), next(o_rows, None)


# ---- likely reasons ------------------------------------------------------------------------


def missing_reason(theirs: LedgerRow, elsewhere: date | None) -> str:
    if elsewhere is not None:
        return (
            f"OrderHub has it, dated {elsewhere.isoformat()} (day boundary: OrderHub dates an "
            "order by the first event it received)"
        )
    state = MONEY_CLASS[theirs.status]
    if state == VOID:
        return (
            f"cancel not synced: {theirs.status.value} (voided) on the platform and never "
            "received by OrderHub"
        )
    if state == OPEN:
        return "unpaid on the platform and never received by OrderHub"
    return (
        "sale outside the standard interface (e.g. a flash-sale tool): the platform lists it, "
        "no channel ever delivered it to OrderHub"
    )


def extra_reason(ours: LedgerRow) -> str:
    state = MONEY_CLASS[ours.status]
    if state != LIVE:
        return (
            f"{ours.status.value} in OrderHub and not on the platform's list (platforms often "
            "leave out orders closed before payment)"
        )
    return (
        "in OrderHub only: not on the platform's list for this day (a test or deleted order, "
        "or the platform dates it on another day)"
    )


def mismatch_reasons(theirs: LedgerRow, ours: LedgerRow) -> list[str]:
    reasons = []
    p_state, o_state = MONEY_CLASS[theirs.status], MONEY_CLASS[ours.status]
    if p_state != o_state:
        if p_state == VOID:
            word = "refund" if theirs.status is PlatformStatus.REFUNDED else "cancel"
            reasons.append(
                f"{word} not synced: {theirs.status.value} on the platform, "
                f"still {ours.status.value} in OrderHub"
            )
        elif o_state == VOID:
            reasons.append(
                f"{ours.status.value} in OrderHub but {theirs.status.value} on the platform "
                "(a wrong or reverted cancellation)"
            )
        elif p_state == LIVE:
            reasons.append("payment not synced: paid on the platform, unpaid in OrderHub")
        else:
            reasons.append("paid in OrderHub, unpaid on the platform (payment reversed?)")
    if theirs.currency and ours.currency and theirs.currency != ours.currency:
        reasons.append(f"currency differs: platform {theirs.currency}, OrderHub {ours.currency}")
    elif theirs.amount != ours.amount:
        if ours.amount == 0:
            reasons.append(
                "OrderHub recorded no amount (no lines or prices: order details never fetched)"
            )
        elif theirs.amount < ours.amount:
            reasons.append(
                f"platform amount {ours.amount - theirs.amount} lower: partial refund or "
                "discount after booking"
            )
        else:
            reasons.append(
                f"platform amount {theirs.amount - ours.amount} higher: price changed after booking"
            )
    return reasons


# ---- ports and the run ---------------------------------------------------------------------


@dataclass
class Statement:
    """A platform's own list of a store's orders for a day, in any order."""

    source: str  # where it came from, for people: an S3 URI, "JD order search ..."
    rows: Iterable[LedgerRow]
    problems: Problems = field(default_factory=Problems)


class StatementSource(Protocol):
    def statement(self, store: Store, day: date) -> Statement | None:
        """The platform's list for the store's Beijing day, or None when there is none (no
        statement file and no API to ask). Errors are OrderHubErrors."""
        ...


class OrderDays(Protocol):
    def orders_of_day(self, platform: str, store: str, day: date) -> Iterable[LedgerRow]:
        """OrderHub's orders of the store dated on `day`, sorted by order id (an index)."""
        ...

    def placed_day(self, platform: str, store: str, order_id: str) -> date | None:
        """The day OrderHub dates the order on; None when OrderHub has no such order."""
        ...


class RowSink(Protocol):
    def add(self, cells: Sequence[str]) -> None: ...


def reconcile_store(
    store: Store,
    day: date,
    statements: StatementSource,
    orders: OrderDays,
    sink: RowSink,
    sort_chunk: int = SORT_CHUNK_ROWS,
) -> StoreSummary:
    """One store's day: every difference written to `sink` as it is found; the summary
    returned. A platform that cannot be read fails this store only."""
    summary = StoreSummary(store.platform, store.store_id, day)
    try:
        statement = statements.statement(store, day)
        if statement is None:
            summary.status = NO_PLATFORM_DATA
            summary.note = "no statement file and no platform API to ask"
            summary.ours = _count_only(orders.orders_of_day(store.platform, store.store_id, day))
            return summary
        summary.source = statement.source
        theirs = sorted_rows(statement.rows, chunk=sort_chunk)  # reads the platform side first
        ours = orders.orders_of_day(store.platform, store.store_id, day)

        def locate(order_id: str) -> date | None:
            return orders.placed_day(store.platform, store.store_id, order_id)

        for difference in compare(theirs, ours, summary, locate):
            sink.add(difference.cells())
    except OrderHubError as exc:
        summary.status, summary.note = FAILED, exc.message
        return summary
    for problem in statement.problems.kept:
        summary.kinds[Kind.UNREADABLE.value] += 1
        unreadable = Difference(day, store.platform, store.store_id, "", Kind.UNREADABLE, problem)
        sink.add(unreadable.cells())
    if statement.problems.count > len(statement.problems.kept):
        kept = len(statement.problems.kept)
        summary.note = f"{statement.problems.count} unreadable rows, the first {kept} listed"
        summary.kinds[Kind.UNREADABLE.value] = statement.problems.count
    return summary


def _count_only(rows: Iterable[LedgerRow]) -> Totals:
    totals = Totals()
    for row in rows:
        totals.add(row)
    return totals
