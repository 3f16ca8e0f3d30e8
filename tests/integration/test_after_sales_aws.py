"""After-sales requests on moto, table from infra/resources.json: one conditional write per
event (requested creates it waiting, a repeat or a late request changes nothing, an answer
takes it off the sparse `unanswered` index), the scan's query by time, and the chase rate's
count per Beijing day through `opened_day`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from chalicelib.deps import Container
from chalicelib.domain.after_sales import ANSWERED, REQUESTED, AfterSalesEvent
from chalicelib.domain.anomaly_rules import Waiting

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 16:00 Beijing, 25 Nov


def ev(kind: str, request: str, at: datetime, order: str = "o-1", n: int = 0) -> AfterSalesEvent:
    return AfterSalesEvent(
        "tiktok", "tt-us", order, request, kind, at, str(int(at.timestamp())), f"k-{request}-{n}"
    )


def test_requests_are_recorded_once_and_answered(container: Container):
    log = container.after_sales
    assert log.record(ev(REQUESTED, "r-1", T0)) is True
    assert log.record(ev(REQUESTED, "r-1", T0)) is False  # the same delivery again
    assert log.record(ev(REQUESTED, "r-2", T0 + timedelta(hours=1), order="o-2")) is True
    assert log.unanswered(T0 + timedelta(hours=2)) == [
        Waiting("tiktok#tt-us#o-1", T0),
        Waiting("tiktok#tt-us#o-2", T0 + timedelta(hours=1)),
    ]
    assert log.unanswered(T0 + timedelta(minutes=30)) == [Waiting("tiktok#tt-us#o-1", T0)]
    assert log.record(ev(ANSWERED, "r-1", T0 + timedelta(hours=3), n=1)) is True
    assert log.record(ev(ANSWERED, "r-1", T0 + timedelta(hours=3), n=1)) is False  # repeat
    assert log.record(ev(REQUESTED, "r-1", T0, n=2)) is False  # late: not reopened
    assert log.unanswered(T0 + timedelta(days=2)) == [
        Waiting("tiktok#tt-us#o-2", T0 + timedelta(hours=1))
    ]


def test_an_answer_first_opens_the_request_answered(container: Container):
    log = container.after_sales
    assert log.record(ev(ANSWERED, "r-9", T0, order="")) is True  # e.g. a Shopify refund
    assert log.record(ev(REQUESTED, "r-9", T0 - timedelta(hours=1))) is False
    assert log.unanswered(T0 + timedelta(days=2)) == []
    assert log.opened_on(date(2026, 11, 25)) == 1


def test_the_chase_count_is_per_beijing_day(container: Container):
    log = container.after_sales
    log.record(ev(REQUESTED, "a", T0))  # 16:00 Beijing, the 25th
    log.record(ev(REQUESTED, "b", T0 + timedelta(hours=7, minutes=59)))  # 23:59 Beijing
    log.record(ev(REQUESTED, "c", T0 + timedelta(hours=8)))  # 00:00 Beijing, the 26th
    log.record(ev(ANSWERED, "a", T0 + timedelta(days=1), n=1))  # answered later: same day
    assert log.opened_on(date(2026, 11, 25)) == 2
    assert container.kpi_sources.after_sales_opened(date(2026, 11, 26)) == 1
    assert log.opened_on(date(2026, 11, 24)) == 0


def test_an_orders_requests_are_found_by_its_key(container):
    from chalicelib.domain.after_sales import ANSWERED, REQUESTED, AfterSalesEvent

    log = container.after_sales
    at = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    for kind, minutes in ((REQUESTED, 0), (ANSWERED, 30)):
        log.record(
            AfterSalesEvent(
                "mall",
                "demo-shop",
                "o-1",
                "r-1",
                kind,
                at + timedelta(minutes=minutes),
                "x",
                f"mall#demo-shop#{kind}",
                "refund.approved",
            )
        )
    [row] = log.for_order("mall#demo-shop#o-1")
    assert (row["request_key"], row["waiting"]) == ("mall#demo-shop#r-1", False)
    assert row["requested_at"] == "2026-11-25T08:00:00.000000Z"
    assert row["answered_at"] == "2026-11-25T08:30:00.000000Z"
    assert log.for_order("mall#demo-shop#o-2") == []
