"""The reveal store (two-person decrypt) as a contract: the moto-backed adapter and the fake
answer alike: requests saved and read back, a stale version refused, hourly counts exact."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.errors import ConcurrentUpdate
from chalicelib.domain.principal import Principal
from chalicelib.domain.reveal import approve, new_request
from tests.access_fakes import FakeRevealStore

NOW = datetime(2026, 12, 1, 8, tzinfo=UTC)


@pytest.fixture(params=["fake", "dynamodb"])
def store(request):
    if request.param == "fake":
        return FakeRevealStore()
    return request.getfixturevalue("container").reveals


def test_a_request_round_trips_and_two_approvals_cannot_both_win(store):
    asked = new_request("mall#s#o", Principal("k-cs", "li", "cs"), "buyer called us", NOW, "rv_1")
    store.save_request(asked)
    assert store.get_request("rv_1") == asked
    assert store.get_request("rv_2") is None
    with pytest.raises(ConcurrentUpdate):
        store.save_request(asked)  # created twice
    one = approve(asked, Principal("k-ops", "wang", "ops"), NOW)
    other = approve(asked, Principal("k-admin", "zhao", "admin"), NOW)
    store.save_request(one)
    with pytest.raises(ConcurrentUpdate):
        store.save_request(other)
    assert store.get_request("rv_1") == one


def test_hourly_counts_are_per_key_and_hour(store):
    assert [store.count_reveal("k-cs", "2026-12-01T08") for _ in range(3)] == [1, 2, 3]
    assert store.count_reveal("k-cs", "2026-12-01T09") == 1
    assert store.count_reveal("k-ops", "2026-12-01T08") == 1
