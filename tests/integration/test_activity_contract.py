"""One contract for the carrier-track store and the order-activity store, run against the
in-memory fakes and DynamoDB under moto (tables and indexes from infra/resources.json): a
track is created once, updated only by newer content, found silent through its index until
it is delivered; notes and pick lists are written once; review notes replace each other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.domain.order_notes import OrderNote, PickList, ReviewNote
from chalicelib.domain.tracking import (
    DELIVERED,
    IN_TRANSIT,
    Checkpoint,
    Subscription,
    TrackUpdate,
)
from tests.activity_fakes import FakeOrderActivity, FakeTracks

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ORDER = "mall#demo-shop#o-1"


@dataclass
class World:
    tracks: Any
    activity: Any


@pytest.fixture(params=["fake", "dynamodb"])
def world(request) -> World:
    if request.param == "fake":
        return World(FakeTracks(), FakeOrderActivity())
    c = request.getfixturevalue("container")
    return World(c.tracks, c.order_activity)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def update(hours: list[float], state: str = IN_TRANSIT) -> TrackUpdate:
    points = tuple(Checkpoint(at(h), f"at {h}", "在途", "深圳") for h in hours)
    return TrackUpdate("kuaidi100", "yuantong", "YT1", state, points, at(max(hours or [0])))


def test_a_track_is_followed_once_and_silent_since_its_subscription(world):
    sub = Subscription(ORDER, "yuantong", "YT1", "kuaidi100", at(0), "c-1")
    assert world.tracks.subscribe(sub, at(0)) is True
    assert world.tracks.subscribe(sub, at(1)) is False
    assert [t.key for t in world.tracks.unsubscribed()] == ["yuantong#YT1"]
    world.tracks.mark_subscribed("yuantong#YT1", True, at(0))
    assert world.tracks.unsubscribed() == []
    [silent] = world.tracks.silent(at(48))
    assert (silent.order_key, silent.quiet_since) == (ORDER, at(0))
    assert world.tracks.silent(at(-1)) == []


def test_only_newer_content_changes_a_track_and_delivery_ends_its_silence(world):
    world.tracks.subscribe(Subscription(ORDER, "yuantong", "YT1", "kuaidi100", at(0)), at(0))
    assert world.tracks.apply(update([1, 5])) is True
    assert world.tracks.apply(update([1, 5])) is False  # redelivered
    assert world.tracks.apply(update([1])) is False  # older, late
    track = world.tracks.get("yuantong#YT1")
    assert [c.text for c in track.checkpoints] == ["at 1", "at 5"]
    assert track.last_event_at == at(5)
    assert [t.quiet_since for t in world.tracks.silent(at(60))] == [at(5)]
    assert world.tracks.silent(at(4)) == []
    assert world.tracks.apply(update([1, 5, 9], DELIVERED)) is True
    assert world.tracks.silent(at(500)) == []
    assert [t.key for t in world.tracks.for_order(ORDER)] == ["yuantong#YT1"]


def test_an_update_for_a_parcel_nobody_follows_is_not_stored(world):
    assert world.tracks.apply(update([1])) is False
    assert world.tracks.get("yuantong#YT1") is None


def test_notes_and_pick_lists_are_written_once_and_listed_in_time_order(world):
    note = OrderNote(ORDER, "n-1", at(2), "cs-team", "cs", "called the buyer")
    assert world.activity.add_note(note) is True
    assert world.activity.add_note(note) is False
    pick = PickList("pl-1", at(1), (ORDER,), "w1")
    assert world.activity.record_pick(pick, ORDER) is True
    assert world.activity.record_pick(pick, ORDER) is False
    assert world.activity.record_pick(PickList("pl-2", at(3), (ORDER,)), ORDER) is True
    assert world.activity.picked([ORDER, "mall#demo-shop#o-2"]) == {ORDER}
    rows = world.activity.entries(ORDER)
    assert [(r["kind"], r.get("pick_list_id") or r.get("note_id")) for r in rows] == [
        ("pick_list", "pl-1"),
        ("note", "n-1"),
        ("pick_list", "pl-2"),
    ]
    assert rows[0]["warehouse"] == "w1"


def test_a_review_note_per_rule_and_month_replaces_the_earlier_one(world):
    first = ReviewNote("2026-11", "logistics_stalled", "hub", "switch", "ops", at(0))
    world.activity.save_review_note(first)
    world.activity.save_review_note(
        ReviewNote("2026-11", "logistics_stalled", "hub backlog", "switch to SF", "ops", at(1))
    )
    world.activity.save_review_note(
        ReviewNote("2026-11", "paid_not_picked", "short staff", "second shift", "ops", at(1))
    )
    notes = sorted(world.activity.review_notes("2026-11"), key=lambda n: n.rule)
    assert [(n.rule, n.root_cause) for n in notes] == [
        ("logistics_stalled", "hub backlog"),
        ("paid_not_picked", "short staff"),
    ]
    assert world.activity.review_notes("2026-10") == []
