"""Carrier tracks in DynamoDB (`orderhub-tracks`), one item per parcel.

Hash `track_key` (`carrier#NUMBER`). Two indexes:
- `moving` (sparse): hash `moving` (`moving#k`, write-sharded by track key, see
  domain/index_shards.py; "1" on tracks written before; present while the parcel is on its
  way: not delivered, not returned), range `quiet_since` (the last checkpoint's time, or
  the subscription's while there is none), projecting `order_key`, `carrier`, `number`,
  `provider`, `state`. The anomaly scan and the poll job query it for tracks silent since a
  moment.
- `by_order`: hash `order_key`, range `track_key`: the timeline's tracks of one order.

An update is one conditional write: applied only if its `version` (last checkpoint time,
count, state) is greater than the stored one, so redeliveries and out-of-order pushes change
nothing. `unsubscribed` (sparse, "1" until the provider accepted the subscription) is found
through the `moving` index's items, filtered: a handful at a time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.domain.anomalies import parse_time_key, time_key
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.index_shards import (
    DEFAULT_INDEX_SHARDS,
    merge_sorted,
    shard_value,
    shard_values,
)
from chalicelib.domain.tracking import (
    FINISHED,
    PENDING,
    Checkpoint,
    Subscription,
    Track,
    TrackUpdate,
)

MOVING = "1"
CONDITION_FAILED = "ConditionalCheckFailedException"


def build_tracks_model(table_name: str, region: str, endpoint_url: str | None = None) -> Any:
    table, aws_region, endpoint = table_name, region, endpoint_url

    class MovingIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "moving"
            projection = IncludeProjection(
                ["order_key", "carrier", "number", "provider", "state", "subscribed"]
            )

        moving = UnicodeAttribute(hash_key=True)
        quiet_since = UnicodeAttribute(range_key=True)

    class ByOrderIndex(GlobalSecondaryIndex[Any]):
        class Meta:
            index_name = "by_order"
            projection = KeysOnlyProjection()

        order_key = UnicodeAttribute(hash_key=True)
        track_key = UnicodeAttribute(range_key=True)

    class TrackItem(Model):
        class Meta:
            table_name = table
            region = aws_region
            host = endpoint

        track_key = UnicodeAttribute(hash_key=True)
        order_key = UnicodeAttribute(null=True)
        carrier = UnicodeAttribute(null=True)
        number = UnicodeAttribute(null=True)
        provider = UnicodeAttribute(null=True)
        state = UnicodeAttribute(null=True)
        subscribed = UnicodeAttribute(null=True)  # "1" | "0"
        subscribed_at = UnicodeAttribute(null=True)
        confirmation_id = UnicodeAttribute(null=True)
        checkpoints = UnicodeAttribute(null=True)  # JSON list, oldest first
        last_event_at = UnicodeAttribute(null=True)
        version = UnicodeAttribute(null=True)
        updated_at = UnicodeAttribute(null=True)
        provider_status = UnicodeAttribute(null=True)
        moving = UnicodeAttribute(null=True)
        quiet_since = UnicodeAttribute(null=True)
        moving_index = MovingIndex()
        by_order = ByOrderIndex()

    return TrackItem


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == CONDITION_FAILED


def _track(item: Any) -> Track:
    def when(value: str | None) -> datetime | None:
        return parse_time_key(value) if value else None

    checkpoints = tuple(Checkpoint.from_dict(c) for c in json.loads(item.checkpoints or "[]"))
    return Track(
        key=item.track_key,
        order_key=item.order_key or "",
        carrier=item.carrier or "",
        number=item.number or "",
        provider=item.provider or "",
        state=item.state or PENDING,
        subscribed_at=when(item.subscribed_at) or datetime.now(UTC),
        subscribed=item.subscribed == "1",
        checkpoints=checkpoints,
        last_event_at=when(item.last_event_at),
        updated_at=when(item.updated_at),
        confirmation_id=item.confirmation_id or "",
        provider_status=item.provider_status or "",
    )


class DynamoTracks:
    """`tracking.TrackStore` on `orderhub-tracks`."""

    def __init__(self, model: Any, shards: int = DEFAULT_INDEX_SHARDS) -> None:
        self._m = model
        self._shards = shards  # `moving` is write-sharded by track key: `moving#k`

    def _moving(self, key: str) -> str:
        return shard_value("moving", key, self._shards)

    def _query_moving(self, *args: Any, limit: int, **kwargs: Any) -> list[Any]:
        """Every `moving` value (and the `1` written before sharding), merged by quiet time."""
        m = self._m
        streams = [
            m.moving_index.query(value, *args, limit=limit, **kwargs)
            for value in shard_values("moving", self._shards, legacy=MOVING)
        ]
        return list(islice(merge_sorted(streams, _by_quiet), limit))

    def subscribe(self, subscription: Subscription, now: datetime) -> bool:
        m = self._m
        shipped = time_key(subscription.shipped_at)
        item = m(
            subscription.key,
            order_key=subscription.order_key,
            carrier=subscription.carrier,
            number=subscription.number,
            provider=subscription.provider,
            state=PENDING,
            subscribed="0",
            subscribed_at=shipped,
            confirmation_id=subscription.confirmation_id or None,
            checkpoints="[]",
            version="0",
            updated_at=time_key(now),
            moving=self._moving(subscription.key),
            quiet_since=shipped,
        )
        try:
            item.save(condition=m.track_key.does_not_exist())
        except PutError as exc:
            if _condition_failed(exc):
                return False
            raise TransientFailure(f"track write failed: {exc}") from exc
        return True

    def mark_subscribed(self, key: str, ok: bool, now: datetime) -> None:
        m = self._m
        try:
            m(key).update(
                actions=[m.subscribed.set("1" if ok else "0"), m.updated_at.set(time_key(now))],
                condition=m.track_key.exists(),
            )
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise TransientFailure(f"track write failed: {exc}") from exc

    def apply(self, update: TrackUpdate) -> bool:
        m = self._m
        last = update.last_at
        actions = [
            m.state.set(update.state),
            m.checkpoints.set(json.dumps([c.to_dict() for c in update.checkpoints])),
            m.version.set(update.version),
            m.updated_at.set(time_key(update.received_at)),
            m.provider_status.set(update.provider_status),
            m.subscribed.set("1"),  # it pushes or answers: the provider knows the parcel
        ]
        if last is not None:
            actions.append(m.last_event_at.set(time_key(last)))
        if update.state in FINISHED:
            actions += [m.moving.remove(), m.quiet_since.remove()]
        else:
            quiet = time_key(last) if last is not None else None
            actions.append(m.moving.set(self._moving(update.key)))
            if quiet is not None:
                actions.append(m.quiet_since.set(quiet))
        try:
            m(update.key).update(
                actions=actions,
                condition=m.track_key.exists() & (m.version < update.version),
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                return False  # not ours, or not newer than what is stored
            raise TransientFailure(f"track write failed: {exc}") from exc
        return True

    def get(self, key: str) -> Track | None:
        try:
            return _track(self._m.get(key, consistent_read=True))
        except self._m.DoesNotExist:
            return None

    def for_order(self, order_key: str) -> list[Track]:
        keys = [i.track_key for i in self._m.by_order.query(order_key, limit=20)]
        return sorted((_track(i) for i in self._m.batch_get(keys)), key=lambda t: t.subscribed_at)

    def silent(self, before: datetime, limit: int = 500) -> list[Track]:
        m = self._m
        items = self._query_moving(m.quiet_since <= time_key(before), limit=limit)
        tracks = []
        for item in items:
            track = _track(item)
            quiet = parse_time_key(item.quiet_since)
            # the index projects no checkpoints: carry the quiet time as the last news
            tracks.append(
                Track(
                    track.key,
                    track.order_key,
                    track.carrier,
                    track.number,
                    track.provider,
                    track.state,
                    quiet,
                    track.subscribed,
                    (),
                    quiet if track.state != PENDING else None,
                )
            )
        return tracks

    def unsubscribed(self, limit: int = 100) -> list[Track]:
        m = self._m
        items = self._query_moving(filter_condition=m.subscribed == "0", limit=limit)
        return [_track(i) for i in items]


def _by_quiet(item: Any) -> str:
    return str(item.quiet_since)
