"""process_order_event books each real change once, whatever the delivery order or count."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.booking import BookingContext
from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.model import Outcome
from chalicelib.domain.processing import process_order_event
from tests.builders import event
from tests.fakes import FakeOrderRepository, FixedClock, with_stock

CLOCK = FixedClock()


def CONTEXT() -> BookingContext:
    return BookingContext(CLOCK())


def repo_with(*levels: tuple[str, str, int]) -> FakeOrderRepository:
    repo = FakeOrderRepository()
    for sku, wh, q in levels:
        with_stock(repo, sku, wh, q)
    return repo


def test_redelivery_is_recognised_and_books_nothing_more():
    repo = repo_with(("A", "w1", 5))
    first = process_order_event(event(lines=(("A", 2),), delivery="d1"), repo, CONTEXT)
    again = process_order_event(event(lines=(("A", 2),), delivery="d1"), repo, CONTEXT)
    assert first.outcome is Outcome.BOOKED and again.outcome is Outcome.DUPLICATE
    assert repo.stock[("A", "w1")].reserved == 2 and repo.commits == 1


def test_same_change_sent_under_a_new_delivery_id_is_stale():
    repo = repo_with(("A", "w1", 5))
    process_order_event(event(lines=(("A", 2),), delivery="d1"), repo, CONTEXT)
    second = process_order_event(event(lines=(("A", 2),), delivery="d2"), repo, CONTEXT)
    assert second.outcome is Outcome.STALE
    assert repo.stock[("A", "w1")].reserved == 2


class ConflictOnce(FakeOrderRepository):
    """Another writer commits between our read and our write, once."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def commit(self, plan):
        if not self.raced:
            self.raced = True
            raise ConcurrentUpdate("someone else got there first")
        super().commit(plan)


def test_conflict_is_replanned_not_lost():
    repo = ConflictOnce()
    with_stock(repo, "A", "w1", 5)
    result = process_order_event(event(lines=(("A", 1),)), repo, CONTEXT)
    assert result.outcome is Outcome.BOOKED and result.attempts == 2
    assert repo.stock[("A", "w1")].reserved == 1


LIFECYCLE = [
    ("unpaid", "2026-11-25T16:00:00+08:00"),
    ("paid", "2026-11-25T16:02:00+08:00"),
    ("cancelled", "2026-11-25T16:30:00+08:00"),
]


@settings(max_examples=200, deadline=None)
@given(
    steps=st.integers(min_value=1, max_value=3),
    deliveries=st.lists(st.integers(min_value=0, max_value=2), min_size=1, max_size=9),
)
def test_any_delivery_order_converges_to_the_latest_state(steps, deliveries):
    """Deliver a prefix of an order's lifecycle in any order, with repeats: the stock ends as
    the latest delivered event says, and every bucket stays non-negative and balanced."""
    repo = repo_with(("A", "w1", 10))
    delivered = [i for i in deliveries if i < steps] or [0]
    for i in delivered:
        status, when = LIFECYCLE[i]
        process_order_event(
            event(status=status, updated_at=when, lines=(("A", 3),), delivery=f"d{i}"),
            repo,
            CONTEXT,
        )
        level = repo.stock[("A", "w1")]
        assert level.is_consistent()
    latest_status = LIFECYCLE[max(delivered)][0]
    level = repo.stock[("A", "w1")]
    expected = {"unpaid": (3, 0), "paid": (0, 3), "cancelled": (0, 0)}[latest_status]
    assert (level.reserved, level.locked) == expected
    assert level.on_hand == 10
