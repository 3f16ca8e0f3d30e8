"""The reconciliation's pure core: Beijing days, the streamed merge, reasons, exact totals,
the external sort and statement parsing."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import PlatformStatus as S
from chalicelib.domain.ports import Store
from chalicelib.domain.reconcile import (
    DIFFERENCE_COLUMNS,
    FAILED,
    NO_PLATFORM_DATA,
    Kind,
    LedgerRow,
    Problems,
    StatementUnreadable,
    StoreSummary,
    UnsortedInput,
    compare,
    day_window,
    parse_status,
    placed_day_of,
    previous_day,
    read_statement_csv,
    reconcile_store,
    report_day,
    sorted_rows,
)
from tests.report_fakes import FakeOrderDays, FakeStatements

DAY = date(2026, 11, 24)


def row(order_id: str, status: S = S.PAID, amount: str = "10.00", currency: str = "CNY"):
    return LedgerRow(order_id, status, Decimal(amount), currency)


def run(theirs, ours, locate=None):
    summary = StoreSummary("jd", "demo-jd", DAY)
    return list(compare(theirs, ours, summary, locate)), summary


class Sink:
    def __init__(self) -> None:
        self.rows: list[list[str]] = []

    def add(self, cells) -> None:
        self.rows.append(list(cells))


# ---- Beijing days ------------------------------------------------------------------------


def test_the_beijing_day_runs_from_16_00_utc_the_day_before():
    start, end = day_window(DAY)
    assert start == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert report_day(datetime(2026, 11, 23, 15, 59, 59, tzinfo=UTC)) == date(2026, 11, 23)
    assert report_day(datetime(2026, 11, 23, 16, 0, tzinfo=UTC)) == DAY
    assert report_day(datetime(2026, 11, 24, 15, 59, 59, tzinfo=UTC)) == DAY


def test_the_0100_beijing_run_reconciles_the_beijing_day_before():
    # cron(0 17 * * ? *): 17:00 UTC on the 24th is 01:00 Beijing on the 25th
    assert previous_day(datetime(2026, 11, 24, 17, 0, tzinfo=UTC)) == DAY
    # a late run, still before Beijing midnight, reconciles the same day
    assert previous_day(datetime(2026, 11, 25, 15, 59, tzinfo=UTC)) == DAY


def test_an_order_is_dated_by_beijing_time_of_its_first_event():
    late_utc = datetime(2026, 11, 24, 16, 30, tzinfo=UTC)  # 00:30 on the 25th in Beijing
    assert placed_day_of("jd", "s", late_utc) == "jd#s#2026-11-25"


# ---- the merge -----------------------------------------------------------------------------


def test_matching_sides_have_no_differences_and_equal_totals():
    rows = [row("A1", amount="0.10"), row("A2", amount="0.20"), row("A3", S.SHIPPED, "0.30")]
    diffs, summary = run(
        rows, [row("A1", amount="0.1"), row("A2", amount="0.2"), row("A3", amount="0.30")]
    )
    assert diffs == []
    assert summary.theirs.count == summary.ours.count == 3
    # Decimal, exact: 0.1 + 0.2 + 0.3 is 0.60, not 0.6000000000000001
    assert summary.theirs.amounts == {"CNY": Decimal("0.60")}
    assert summary.ours.amounts["CNY"] == Decimal("0.6")


def test_missing_extra_and_mismatched_orders_are_listed_in_order_id_order():
    theirs = [
        row("A1"),
        row("A2", S.CANCELLED),  # voided, OrderHub still paid
        row("A3", amount="8.00"),  # partial refund
        row("A4"),  # never received
        row("A6", S.CANCELLED),  # voided, never received
    ]
    ours = [row("A1"), row("A2"), row("A3"), row("A5")]
    diffs, summary = run(theirs, ours)
    assert [(d.order_id, d.kind) for d in diffs] == [
        ("A2", Kind.MISMATCH),
        ("A3", Kind.MISMATCH),
        ("A4", Kind.MISSING),
        ("A5", Kind.EXTRA),
        ("A6", Kind.MISSING),
    ]
    reasons = {d.order_id: d.reason for d in diffs}
    assert reasons["A2"].startswith("cancel not synced")
    assert "partial refund" in reasons["A3"] and "2.00 lower" in reasons["A3"]
    assert reasons["A4"].startswith("sale outside the standard interface")
    assert reasons["A5"].startswith("in OrderHub only")
    assert reasons["A6"].startswith("cancel not synced")
    assert summary.kinds == {"mismatch": 2, "missing": 2, "extra": 1}
    assert (summary.theirs.count, summary.ours.count) == (5, 4)
    assert summary.theirs.amounts["CNY"] == Decimal("48.00")
    assert summary.ours.amounts["CNY"] == Decimal("40.00")


@pytest.mark.parametrize(
    ("platform", "ours", "expected"),
    [
        (S.REFUNDED, S.PAID, "refund not synced"),
        (S.PAID, S.CANCELLED, "cancelled in OrderHub but paid on the platform"),
        (S.PAID, S.UNPAID, "payment not synced"),
        (S.UNPAID, S.PAID, "paid in OrderHub, unpaid on the platform"),
    ],
)
def test_status_mismatches_say_what_was_not_synced(platform, ours, expected):
    diffs, _ = run([row("A1", platform)], [row("A1", ours)])
    assert diffs[0].kind is Kind.MISMATCH
    assert diffs[0].reason.startswith(expected)


def test_lifecycle_lag_within_the_same_money_state_is_not_a_difference():
    diffs, _ = run(
        [row("A1", S.SHIPPED), row("A2", S.REFUNDED)], [row("A1", S.PAID), row("A2", S.CANCELLED)]
    )
    assert diffs == []


def test_amount_reasons():
    higher, _ = run([row("A1", amount="12.00")], [row("A1", amount="10.00")])
    assert "price changed after booking" in higher[0].reason
    nothing, _ = run([row("A1")], [row("A1", amount="0")])
    assert "no amount" in nothing[0].reason
    currency, _ = run([row("A1", currency="USD")], [row("A1")])
    assert currency[0].reason == "currency differs: platform USD, OrderHub CNY"
    both, _ = run([row("A1", S.CANCELLED, "5.00")], [row("A1", amount="10.00")])
    assert both[0].reason.count(";") == 1  # status and amount, one row


def test_a_missing_order_dated_on_another_day_says_day_boundary():
    diffs, _ = run([row("A1")], [], locate=lambda oid: date(2026, 11, 25))
    assert "dated 2026-11-25 (day boundary" in diffs[0].reason


def test_the_platform_listing_an_order_twice_counts_it_once_as_its_last_row_says():
    diffs, summary = run([row("A1"), row("A1", S.CANCELLED)], [row("A1", S.CANCELLED)])
    assert diffs == []
    assert summary.repeated == 1
    assert summary.theirs.count == 1


def test_unsorted_input_is_refused_rather_than_merged_wrongly():
    with pytest.raises(UnsortedInput):
        run([row("B"), row("A")], [])
    with pytest.raises(UnsortedInput):
        run([], [row("B"), row("A")])


def test_difference_rows_follow_the_columns():
    diffs, _ = run([row("A1", S.CANCELLED)], [row("A1")])
    cells = dict(zip(DIFFERENCE_COLUMNS, diffs[0].cells(), strict=True))
    assert cells["date"] == "2026-11-24"
    assert (cells["platform_status"], cells["orderhub_status"]) == ("cancelled", "paid")
    assert cells["kind"] == "mismatch"


def test_the_merge_is_one_pass_over_iterators():
    consumed = []

    def stream(n):
        for i in range(n):
            consumed.append(i)
            yield row(f"A{i:06d}")

    summary = StoreSummary("jd", "demo-jd", DAY)
    differences = compare(stream(5), iter([]), summary)
    first = next(differences)
    assert first.order_id == "A000000"
    assert consumed == [0, 1]  # read as it goes, never the whole side


# ---- external sort -----------------------------------------------------------------------


def test_external_sort_spills_chunks_and_merges_stably(tmp_path):
    rng = random.Random(7)
    rows = [row(f"{rng.randrange(500):04d}", amount=str(i)) for i in range(2_000)]
    merged = list(sorted_rows(rows, chunk=97, spill_dir=str(tmp_path)))
    assert merged == sorted(rows, key=lambda r: r.order_id)  # stable: equal ids keep order
    assert list(tmp_path.iterdir()) == []  # spill files are gone


def test_external_sort_keeps_every_field_exact():
    rows = [LedgerRow('Z,"1"', S.REFUNDED, Decimal("0.10"), "CNY", "released"), row("A")]
    assert list(sorted_rows(rows, chunk=1)) == [rows[1], rows[0]]


# ---- statements ----------------------------------------------------------------------------


def test_statement_csv_rows_with_aliases_bom_and_default_currency():
    text = "\ufefforder_id,status,amount,currency\nJ1,paid,63.50,\nJ2,VOIDED,10,CNY\n"
    problems = Problems()
    rows = list(read_statement_csv(text.splitlines(keepends=True), "CNY", problems))
    assert rows == [row("J1", amount="63.50"), row("J2", S.CANCELLED, "10")]
    assert problems.count == 0


def test_unreadable_statement_rows_are_counted_not_fatal():
    text = "order_id,status,amount\n,paid,1\nJ2,lost,1\nJ3,paid,abc\nJ4,paid,2\n"
    problems = Problems()
    rows = list(read_statement_csv(text.splitlines(keepends=True), "CNY", problems))
    assert [r.order_id for r in rows] == ["J4"]
    assert problems.count == 3
    assert problems.kept[0] == "line 2: order_id is empty"
    assert "status 'lost'" in problems.kept[1]
    assert "amount 'abc'" in problems.kept[2]


def test_a_statement_without_the_columns_is_unreadable():
    with pytest.raises(StatementUnreadable, match="missing amount"):
        list(read_statement_csv(["order_id,status\n", "J1,paid\n"], "CNY", Problems()))


def test_parse_status_names_what_it_accepts():
    assert parse_status(" Shipped ") is S.SHIPPED
    with pytest.raises(ValueError, match="unpaid, paid"):
        parse_status("lost")


# ---- one store ----------------------------------------------------------------------------


def test_reconcile_store_without_platform_data_counts_ours_only():
    days = FakeOrderDays()
    summary = reconcile_store(Store("mall", "demo-shop", "s"), DAY, FakeStatements(), days, Sink())
    assert summary.status == NO_PLATFORM_DATA


def test_a_platform_that_refuses_fails_that_store_only():
    statements = FakeStatements()
    statements.errors[("jd", "demo-jd")] = InvalidPayload("JD answered error 19: token")
    sink = Sink()
    summary = reconcile_store(Store("jd", "demo-jd", "s"), DAY, statements, FakeOrderDays(), sink)
    assert (summary.status, summary.note) == (FAILED, "JD answered error 19: token")
    assert sink.rows == []
