"""The pull pollers' rules, with fakes for the platform, the queue and the cursor table:
windows tile time with no gap, a re-read never books twice (same keys), the cursor never
passes what was fully queued, two runs cannot both advance it, pages are read newest first,
and a TMC message is confirmed only after its events are queued."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.polling import (
    Batch,
    Cursor,
    CursorConflict,
    IncrementalResult,
    Page,
    PlatformCredentialsRejected,
    PlatformUnavailable,
    Rejected,
    TmcMessage,
    TmcResult,
    Window,
    WindowPolicy,
    drain_tmc,
    initial_position,
    next_window,
    pages_newest_first,
    poll_increments,
)

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
POLICY = WindowPolicy()  # 3 min settle lag, 30 min windows, 1 s overlap, 1 h first lookback


class FakeCursors:
    """Same contract as DynamoCursorStore (tests/integration/test_pull_pollers.py)."""

    def __init__(self) -> None:
        self.stored: dict[str, Cursor] = {}

    def load(self, cursor_id: str) -> Cursor | None:
        return self.stored.get(cursor_id)

    def advance(self, cursor: Cursor, position: datetime, now: datetime) -> Cursor:
        current = self.stored.get(cursor.cursor_id)
        if (current.version if current else 0) != cursor.version:
            raise CursorConflict(f"{cursor.cursor_id} moved")
        self.stored[cursor.cursor_id] = Cursor(cursor.cursor_id, position, cursor.version + 1)
        return self.stored[cursor.cursor_id]


def event(order_id: str, updated_at: datetime, status: str = "paid") -> OrderEvent:
    """An event keyed by the order's state, as the Pinduoduo and JD channels key them."""
    return OrderEvent(
        event_key=f"pdd#s#{order_id}:{status}:{updated_at.isoformat()}",
        platform="pinduoduo",
        store="s",
        order_id=order_id,
        event_type=status,
        status=PlatformStatus(status),
        updated_at=updated_at,
        updated_at_raw=updated_at.isoformat(),
        currency="CNY",
        lines=(OrderLine("SKU-A", 1, Decimal("1.00")),),
        buyer=None,
        received_at=updated_at,
    )


@dataclass
class FakePlatform:
    """Orders by update time; a query returns those inside the window. `bounds` says how the
    platform treats the window's ends (which no platform documents)."""

    orders: dict[str, datetime] = field(default_factory=dict)
    bounds: str = "[]"  # "[]", "[)", "(]" or "()"
    page_size: int = 3
    fail_on_window: int | None = None
    windows: list[Window] = field(default_factory=list)

    def _inside(self, moment: datetime, window: Window) -> bool:
        after = moment >= window.start if self.bounds[0] == "[" else moment > window.start
        before = moment <= window.end if self.bounds[1] == "]" else moment < window.end
        return after and before

    def batches(self, window: Window) -> Iterator[Batch]:
        self.windows.append(window)
        if self.fail_on_window == len(self.windows):
            raise PlatformUnavailable("rate limited")
        rows = sorted((t, o) for o, t in self.orders.items() if self._inside(t, window))

        def fetch(number: int) -> Page:
            chunk = rows[(number - 1) * self.page_size : number * self.page_size]
            return Page(Batch(tuple(event(o, t) for t, o in chunk), "raw"), len(rows))

        return pages_newest_first(fetch, self.page_size)


@dataclass
class FakeSink:
    queued: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    fail_after: int | None = None

    def queue(self, events: Sequence[OrderEvent], raw: str) -> None:
        if self.fail_after is not None and len(self.queued) >= self.fail_after:
            raise TransientFailure("SQS unavailable")
        self.queued.extend(e.event_key for e in events)
        self.log.extend(f"queue {e.order_id}" for e in events)

    def reject(self, rejected: Rejected) -> None:
        self.rejected.append(rejected.key)
        self.log.append(f"reject {rejected.key}")


# ---- windows -----------------------------------------------------------------------------------


def test_first_window_starts_an_hour_back_and_stays_behind_the_clock():
    position = initial_position(T0, POLICY)
    assert position == T0 - timedelta(minutes=63)
    window = next_window(position, T0, POLICY)
    assert window == Window(
        position - timedelta(seconds=1), position + timedelta(minutes=29, seconds=59)
    )
    assert next_window(T0 - timedelta(minutes=3), T0, POLICY) is None  # caught up
    last = next_window(T0 - timedelta(minutes=10), T0, POLICY)
    assert last is not None and last.end == T0 - timedelta(minutes=3)  # never past now - lag


def test_windows_end_on_whole_seconds():
    window = next_window(T0 - timedelta(minutes=5), T0 + timedelta(microseconds=999_999), POLICY)
    assert window is not None and window.end.microsecond == 0


def test_policy_refuses_an_overlap_as_long_as_a_window():
    with pytest.raises(ValueError):
        WindowPolicy(overlap=timedelta(minutes=30))


@pytest.mark.parametrize("bounds", ["[]", "[)", "(]", "()"])
def test_no_update_is_skipped_whatever_the_platform_does_with_the_bounds(bounds):
    """Orders stamped at random whole seconds over 3 hours, some exactly on window edges;
    polls at irregular moments. Every order is queued, none more than twice (the shared
    boundary second), and the keys make the second copy a duplicate."""
    rng = random.Random(20261125)
    start = initial_position(T0, POLICY)
    platform = FakePlatform(bounds=bounds)
    for i in range(300):
        platform.orders[f"o{i}"] = start + timedelta(seconds=rng.randrange(0, 3 * 3600))
    cursors, sink = FakeCursors(), FakeSink()
    now = T0
    while now < T0 + timedelta(hours=4):
        poll_increments("pdd#s", cursors, platform, sink, now, POLICY)
        now += timedelta(seconds=rng.randrange(20, 900))
        # an edge case on purpose: an order stamped exactly at the cursor's current position
        edge = cursors.stored["pdd#s"].position
        if edge < now - POLICY.settle_lag:
            platform.orders.setdefault(f"edge-{edge.isoformat()}", edge)
    poll_increments("pdd#s", cursors, platform, sink, now + timedelta(hours=1), POLICY)
    expected = {event(o, t).event_key for o, t in platform.orders.items()}
    assert set(sink.queued) == expected
    assert max(sink.queued.count(key) for key in expected) <= 2
    windows = platform.windows
    assert all(b.start < a.end for a, b in itertools.pairwise(windows))  # no gap


def test_a_rerun_with_nothing_new_queues_nothing():
    platform = FakePlatform(orders={"o1": T0 - timedelta(minutes=30)})
    cursors, sink = FakeCursors(), FakeSink()
    first = poll_increments("pdd#s", cursors, platform, sink, T0, POLICY)
    assert sink.queued == [event("o1", T0 - timedelta(minutes=30)).event_key]
    assert first.caught_up and first.position == T0 - POLICY.settle_lag
    again = poll_increments("pdd#s", cursors, platform, sink, T0 + timedelta(seconds=30), POLICY)
    assert len(sink.queued) == 1 and again.queued == 0


def test_cursor_stays_at_the_last_window_fully_queued_when_the_platform_fails():
    platform = FakePlatform(
        orders={"early": T0 - timedelta(minutes=50), "late": T0 - timedelta(minutes=10)},
        fail_on_window=2,
    )
    cursors, sink = FakeCursors(), FakeSink()
    progress = IncrementalResult()
    with pytest.raises(PlatformUnavailable):
        poll_increments("pdd#s", cursors, platform, sink, T0, POLICY, progress)
    first_window = platform.windows[0]
    assert cursors.stored["pdd#s"].position == first_window.end
    assert progress.position == first_window.end and len(progress.windows) == 1
    assert [k.split("#")[2].split(":")[0] for k in sink.queued] == ["early"]
    platform.fail_on_window = None  # the next run reads the failed window again
    poll_increments("pdd#s", cursors, platform, sink, T0 + timedelta(minutes=1), POLICY)
    assert {k.split("#")[2].split(":")[0] for k in sink.queued} == {"early", "late"}


def test_cursor_is_not_advanced_when_queuing_fails():
    platform = FakePlatform(orders={"o1": T0 - timedelta(minutes=50)})
    cursors, sink = FakeCursors(), FakeSink(fail_after=0)
    with pytest.raises(TransientFailure):
        poll_increments("pdd#s", cursors, platform, sink, T0, POLICY)
    assert "pdd#s" not in cursors.stored
    sink.fail_after = None
    poll_increments("pdd#s", cursors, platform, sink, T0, POLICY)
    assert len(sink.queued) == 1
    assert cursors.stored["pdd#s"].position == T0 - POLICY.settle_lag


def test_two_runs_from_the_same_cursor_cannot_both_advance_it():
    cursors = FakeCursors()
    seen = Cursor("pdd#s", T0 - timedelta(hours=1), 0)
    cursors.advance(seen, T0 - timedelta(minutes=30), T0)
    with pytest.raises(CursorConflict):
        cursors.advance(seen, T0 - timedelta(minutes=29), T0)
    assert cursors.stored["pdd#s"].position == T0 - timedelta(minutes=30)


def test_a_store_far_behind_catches_up_over_several_runs():
    cursors = FakeCursors()
    cursors.stored["pdd#s"] = Cursor("pdd#s", T0 - timedelta(days=1), 7)
    platform, sink = FakePlatform(), FakeSink()
    result = poll_increments("pdd#s", cursors, platform, sink, T0, POLICY)
    assert len(result.windows) == POLICY.max_windows and not result.caught_up
    assert cursors.stored["pdd#s"].version == 7 + POLICY.max_windows


def test_orders_that_can_never_be_booked_are_recorded_and_do_not_hold_the_cursor():
    class Refusing:
        def batches(self, window: Window) -> Iterator[Batch]:
            yield Batch((), "raw", (Rejected("invalid#pdd#s#o9:t", "pdd#s#o9", "bad status"),))

    cursors, sink = FakeCursors(), FakeSink()
    result = poll_increments("pdd#s", cursors, Refusing(), sink, T0, POLICY)
    assert sink.rejected == ["invalid#pdd#s#o9:t"] * len(result.windows)
    assert result.caught_up and result.rejected == len(result.windows)


# ---- paging ------------------------------------------------------------------------------------


def test_pages_are_read_last_first_after_asking_page_one_for_the_total():
    asked: list[int] = []

    def fetch(number: int) -> Page:
        asked.append(number)
        return Page(Batch((), f"page {number}"), 250)

    raws = [b.raw for b in pages_newest_first(fetch, 100)]
    assert asked == [1, 3, 2, 1]
    assert raws == ["page 3", "page 2", "page 1"]
    asked.clear()
    assert len(list(pages_newest_first(lambda n: fetch(n) and Page(Batch((), ""), 7), 100))) == 1
    assert asked == [1]


def test_rows_leaving_the_window_while_paging_hide_nothing_when_paging_backwards():
    """After every page read, the oldest row is updated and leaves the window (the platform's
    list shifts by one). Read forwards, rows would be skipped; read newest first, every row
    still in the window at the end has been seen."""

    def run(order: str) -> tuple[set[int], set[int]]:
        rows = list(range(25))
        seen: set[int] = set()

        def fetch(number: int) -> Page:
            chunk = rows[(number - 1) * 5 : number * 5]
            seen.update(chunk)
            rows.pop(0)  # updated meanwhile: moves to a later window
            return Page(Batch((), ""), len(rows) + 1)

        if order == "newest first":
            list(pages_newest_first(fetch, 5))
        else:
            for number in range(1, 6):
                fetch(number)
        return seen, set(rows)

    seen, remaining = run("newest first")
    assert remaining <= seen
    seen, remaining = run("forwards")
    assert not remaining <= seen  # the hazard the platform's advice avoids


# ---- TMC ---------------------------------------------------------------------------------------


def message(n: int, topic: str = "taobao_trade_TradeBuyerPay") -> TmcMessage:
    return TmcMessage(str(7206000000000000000 + n), topic, {"tid": n}, "", "1", "seller", {})


@dataclass
class FakeTmc:
    """Hands out every unconfirmed message on each consume, as TMC redelivers."""

    messages: list[TmcMessage]
    log: list[str]
    confirmed: list[str] = field(default_factory=list)
    fail_confirm: bool = False

    def consume(self) -> list[TmcMessage]:
        self.log.append("consume")
        return [m for m in self.messages if m.message_id not in self.confirmed]

    def confirm(self, message_ids: Sequence[str]) -> None:
        self.log.append(f"confirm {','.join(i[-1] for i in message_ids)}")
        if self.fail_confirm:
            raise PlatformUnavailable("confirm failed")
        self.confirmed.extend(message_ids)


def tmc_event(m: TmcMessage) -> OrderEvent:
    return replace(event(str(m.content["tid"]), T0), event_key=f"taobao#s#tmc:{m.message_id}")


def read_ok(m: TmcMessage) -> Batch | None:
    if not m.topic.startswith("taobao_trade_"):
        return Batch((), "raw")
    return Batch((tmc_event(m),), "raw")


def test_messages_are_confirmed_only_after_their_events_are_queued():
    sink = FakeSink()
    tmc = FakeTmc([message(1), message(2), message(3, "taobao_refund_RefundCreated")], sink.log)
    result = drain_tmc(tmc, read_ok, sink, 5)
    assert sink.log == ["consume", "queue 1", "queue 2", "confirm 1,2,3", "consume"]
    assert result == TmcResult(batches=1, queued=2, ignored=1, confirmed=3)


def test_confirm_is_not_sent_for_a_message_whose_queuing_failed():
    sink = FakeSink(fail_after=1)
    tmc = FakeTmc([message(1), message(2), message(3)], sink.log)
    with pytest.raises(TransientFailure):
        drain_tmc(tmc, read_ok, sink, 5)
    assert tmc.confirmed == [message(1).message_id]  # queued before the failure
    assert sink.log == ["consume", "queue 1", "confirm 1"]


def test_nothing_is_confirmed_when_the_first_queuing_fails():
    sink = FakeSink(fail_after=0)
    tmc = FakeTmc([message(1)], sink.log)
    with pytest.raises(TransientFailure):
        drain_tmc(tmc, read_ok, sink, 5)
    assert tmc.confirmed == [] and "confirm" not in " ".join(sink.log)


def test_a_message_whose_trade_could_not_be_fetched_stays_unconfirmed_and_the_drain_stops():
    sink = FakeSink()
    tmc = FakeTmc([message(1), message(2), message(3)], sink.log)

    def read(m: TmcMessage) -> Batch | None:
        if m.message_id.endswith("2"):
            raise PlatformUnavailable("App Call Limited")
        return read_ok(m)

    result = drain_tmc(tmc, read, sink, 5)
    assert sink.log == ["consume", "queue 1", "queue 3", "confirm 1,3"]  # no second consume
    assert result.unconfirmed == 1 and message(2).message_id not in tmc.confirmed


def test_redelivered_message_is_queued_again_under_the_same_key():
    sink = FakeSink()
    tmc = FakeTmc([message(1)], sink.log, fail_confirm=True)
    with pytest.raises(PlatformUnavailable):
        drain_tmc(tmc, read_ok, sink, 5)
    tmc.fail_confirm = False
    drain_tmc(tmc, read_ok, sink, 5)  # TMC hands it out again
    assert sink.queued == [f"taobao#s#tmc:{message(1).message_id}"] * 2  # booking: a duplicate
    assert tmc.confirmed == [message(1).message_id]


def test_rejected_message_is_recorded_then_confirmed_and_skipped_one_left_alone():
    sink = FakeSink()
    tmc = FakeTmc([message(1), message(2)], sink.log)

    def read(m: TmcMessage) -> Batch | None:
        if m.message_id.endswith("1"):
            return Batch((), "raw", (Rejected("invalid#taobao#s#tmc:1", "", "no tid"),))
        return None  # another seller's

    result = drain_tmc(tmc, read, sink, 5)
    assert sink.log == ["consume", "reject invalid#taobao#s#tmc:1", "confirm 1"]
    assert (result.rejected, result.unconfirmed, result.confirmed) == (1, 1, 1)


def test_bad_credentials_stop_the_drain_after_confirming_what_was_queued():
    sink = FakeSink()
    tmc = FakeTmc([message(1), message(2)], sink.log)

    def read(m: TmcMessage) -> Batch | None:
        if m.message_id.endswith("2"):
            raise PlatformCredentialsRejected("Invalid session")
        return read_ok(m)

    with pytest.raises(PlatformCredentialsRejected):
        drain_tmc(tmc, read, sink, 5)
    assert tmc.confirmed == [message(1).message_id]


def test_drain_stops_at_max_batches():
    sink = FakeSink()
    tmc = FakeTmc([message(1)], sink.log)
    tmc.consume = lambda: [message(len(sink.queued) + 1)]  # type: ignore[method-assign]
    result = drain_tmc(tmc, read_ok, sink, 3)
    assert result.batches == 3 and len(sink.queued) == 3
