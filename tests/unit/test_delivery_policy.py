"""Which failures are retried and how long each retry waits."""

from __future__ import annotations

from chalicelib.domain.delivery import InvalidMessage, backoff_seconds, is_permanent
from chalicelib.domain.errors import ConcurrentUpdate, TransientFailure, UnknownStore


def test_backoff_doubles_from_the_base_and_is_capped():
    assert [backoff_seconds(n) for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff_seconds(20) == 900
    assert backoff_seconds(3, base=1) == 4


def test_unreadable_messages_and_vanished_stores_are_permanent_everything_else_retries():
    assert is_permanent(InvalidMessage("x")) and is_permanent(UnknownStore("x"))
    for transient in (
        TransientFailure("x"),
        ConcurrentUpdate("x"),
        ConnectionError(),
        TimeoutError(),
        RuntimeError("throttled"),
    ):
        assert not is_permanent(transient)
