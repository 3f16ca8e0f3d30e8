"""Carrier tracks: what a tracking aggregator tells OrderHub about a shipped parcel, and when
its silence is an anomaly. Pure Python.

A shipment's tracking number is subscribed with an aggregator when the warehouse confirms it
left (`POST /wms/outbound-confirmations` with `tracking: {carrier, number}`): 快递100
(Kuaidi100) for carriers it knows by its company codes, AfterShip for the others (a
`provider` field overrides). The aggregator then pushes the whole track (every checkpoint,
newest first in its payload) to `POST /tracking/{provider}/callback` whenever it changes;
the callback is verified (channels/tracking_*.py), queued and recorded by the order
processor like any event, and a poll job asks the aggregator directly for tracks that have
been quiet for a while (a lost push, a failed subscription).

One record per (carrier, number): the checkpoints (texts scrubbed of personal data: couriers
write their phone numbers in them), the last checkpoint's time, and whether the parcel has
arrived. An update is applied only when it is newer than what is stored (by its last
checkpoint's time, then its checkpoint count), so redeliveries and out-of-order pushes change
nothing.

`logistics_stalled` (domain/anomaly_rules.py) fires when a track still moving (not delivered,
not returned) has had no checkpoint for 48 h (`ORDERHUB_TRACK_STALL_HOURS`): silence counted
from its last checkpoint, or from its subscription when the carrier has reported nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.anomaly_rules import LOGISTICS_STALLED, PAID_NOT_PICKED, Waiting, anomaly
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import Anomaly

KUAIDI100 = "kuaidi100"
AFTERSHIP = "aftership"
PROVIDERS = (KUAIDI100, AFTERSHIP)
DEFAULT_STALL_HOURS = 48.0
MAX_CHECKPOINTS = 100  # kept per track (newest); a parcel has a few dozen
MAX_CHECKPOINT_TEXT = 300

# 快递100 company codes of the carriers Chinese shops ship with (its 快递公司编码 table);
# any other carrier code goes to the international aggregator.
KUAIDI100_CARRIERS = frozenset(
    {
        "shunfeng",
        "yuantong",
        "zhongtong",
        "shentong",
        "yunda",
        "jtexpress",
        "jd",
        "ems",
        "youzhengguonei",
        "debangwuliu",
        "debangkuaidi",
        "huitongkuaidi",
        "jingdongkuaiyun",
        "zhaijisong",
        "fengwang",
    }
)
_NUMBER = re.compile(r"^[A-Za-z0-9-]{4,40}$")
_CARRIER = re.compile(r"^[a-z0-9-]{2,40}$")

# What the track says overall (the providers' states mapped, channels/tracking_*.py).
IN_TRANSIT, DELIVERED, RETURNED, EXCEPTION, PENDING = (
    "in_transit",
    "delivered",
    "returned",
    "exception",
    "pending",
)
FINISHED = frozenset({DELIVERED, RETURNED})


@dataclass(frozen=True)
class Checkpoint:
    at: datetime  # aware, UTC
    text: str  # scrubbed
    status: str = ""  # the provider's own label for it (在途, 签收, InTransit, ...)
    location: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "at": self.at.astimezone(UTC).isoformat(),
            "text": self.text,
            "status": self.status,
            "location": self.location,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Checkpoint:
        return cls(
            datetime.fromisoformat(str(raw["at"])).astimezone(UTC),
            str(raw.get("text") or ""),
            str(raw.get("status") or ""),
            str(raw.get("location") or ""),
        )


@dataclass(frozen=True)
class TrackUpdate:
    """One push (or poll answer) about one parcel: the whole track as the provider has it."""

    provider: str
    carrier: str
    number: str
    state: str  # IN_TRANSIT | DELIVERED | RETURNED | EXCEPTION | PENDING
    checkpoints: tuple[Checkpoint, ...]  # oldest first
    received_at: datetime
    provider_status: str = ""  # e.g. 快递100 polling/shutdown/abort, AfterShip tag
    via: str = "push"  # push | poll

    @property
    def key(self) -> str:
        return track_key(self.carrier, self.number)

    @property
    def last_at(self) -> datetime | None:
        return self.checkpoints[-1].at if self.checkpoints else None

    @property
    def version(self) -> str:
        """Orders updates: the last checkpoint's time, then how many checkpoints."""
        last = self.last_at
        stamp = last.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if last else "0"
        return f"{stamp}#{len(self.checkpoints):04d}#{self.state}"

    @property
    def event_key(self) -> str:
        """The dedupe key of this content: the same track pushed twice is one event."""
        return f"track#{self.provider}#{self.key}#{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "carrier": self.carrier,
            "number": self.number,
            "state": self.state,
            "checkpoints": [c.to_dict() for c in self.checkpoints],
            "received_at": self.received_at.astimezone(UTC).isoformat(),
            "provider_status": self.provider_status,
            "via": self.via,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrackUpdate:
        return cls(
            str(raw["provider"]),
            str(raw["carrier"]),
            str(raw["number"]),
            str(raw["state"]),
            tuple(Checkpoint.from_dict(c) for c in raw.get("checkpoints") or []),
            datetime.fromisoformat(str(raw["received_at"])).astimezone(UTC),
            str(raw.get("provider_status") or ""),
            str(raw.get("via") or "push"),
        )


@dataclass(frozen=True)
class Subscription:
    """A parcel OrderHub follows: which order shipped it, with which provider, since when."""

    order_key: str
    carrier: str
    number: str
    provider: str
    shipped_at: datetime
    confirmation_id: str = ""

    @property
    def key(self) -> str:
        return track_key(self.carrier, self.number)


@dataclass(frozen=True)
class Track:
    """The stored track of one parcel."""

    key: str
    order_key: str
    carrier: str
    number: str
    provider: str
    state: str
    subscribed_at: datetime
    subscribed: bool  # the provider accepted the subscription
    checkpoints: tuple[Checkpoint, ...] = ()
    last_event_at: datetime | None = None
    updated_at: datetime | None = None
    confirmation_id: str = ""
    provider_status: str = ""

    @property
    def quiet_since(self) -> datetime:
        return self.last_event_at or self.subscribed_at


class TrackStore(Protocol):
    """Where tracks live (adapters/tracks.py)."""

    def subscribe(self, subscription: Subscription, now: datetime) -> bool:
        """Create the track unless it exists; False when it did."""
        ...

    def mark_subscribed(self, key: str, ok: bool, now: datetime) -> None: ...

    def apply(self, update: TrackUpdate) -> bool:
        """Store the update if newer than the stored track; False when it is not (or the
        parcel is not one OrderHub follows)."""
        ...

    def get(self, key: str) -> Track | None: ...

    def for_order(self, order_key: str) -> list[Track]: ...

    def silent(self, before: datetime, limit: int = 500) -> list[Track]:
        """Tracks still moving whose last news (or subscription) is at `before` or earlier."""
        ...

    def unsubscribed(self, limit: int = 100) -> list[Track]:
        """Tracks whose subscription the provider has not accepted yet."""
        ...


class TrackingProvider(Protocol):
    """One aggregator's API (adapters/tracking_clients.py)."""

    def subscribe(self, carrier: str, number: str) -> None:
        """Ask for pushes about this parcel; raises on failure (retried by the poll job)."""
        ...

    def query(self, carrier: str, number: str, now: datetime) -> TrackUpdate | None:
        """The track as the provider has it now (None: it knows nothing yet)."""
        ...


def track_key(carrier: str, number: str) -> str:
    return f"{carrier.strip().lower()}#{number.strip().upper()}"


def provider_for(carrier: str, requested: str = "") -> str:
    if requested:
        return requested
    return KUAIDI100 if carrier in KUAIDI100_CARRIERS else AFTERSHIP


def parse_tracking(body: Any) -> tuple[str, str, str] | None:
    """The optional `tracking: {carrier, number, provider?}` of an outbound confirmation:
    (carrier, number, provider); None when absent. Errors name the field."""
    if not isinstance(body, Mapping) or body.get("tracking") is None:
        return None
    raw = body["tracking"]
    if not isinstance(raw, Mapping):
        raise InvalidPayload("tracking must be an object: {carrier, number, provider?}")
    carrier, number = raw.get("carrier"), raw.get("number")
    if not isinstance(carrier, str) or not _CARRIER.match(carrier.strip().lower()):
        raise InvalidPayload(
            "tracking.carrier must be the carrier's code (2-40 of a-z 0-9 -), e.g. yuantong, ups"
        )
    if not isinstance(number, str) or not _NUMBER.match(number.strip()):
        raise InvalidPayload("tracking.number must be 4-40 letters, digits or dashes")
    provider = raw.get("provider") or ""
    if provider and provider not in PROVIDERS:
        raise InvalidPayload(f"tracking.provider must be one of {', '.join(PROVIDERS)}")
    return carrier.strip().lower(), number.strip().upper(), str(provider)


def newest_first_to_oldest(checkpoints: Iterable[Checkpoint]) -> tuple[Checkpoint, ...]:
    """Sorted oldest first, duplicates (same time and text) dropped, the newest kept."""
    unique = {(c.at, c.text): c for c in checkpoints}
    ordered = sorted(unique.values(), key=lambda c: c.at)
    return tuple(ordered[-MAX_CHECKPOINTS:])


def stall_after(hours: float) -> timedelta:
    if hours <= 0:
        raise ValueError("the stall threshold must be positive hours")
    return timedelta(hours=hours)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 72 else f"{hours / 24:.1f} days"


def tracks_stalled(tracks: Iterable[Track], now: datetime, after: timedelta) -> list[Anomaly]:
    """A `logistics_stalled` anomaly per order whose carrier track has been silent `after`
    or longer while the parcel is still on its way."""
    found: dict[str, Anomaly] = {}
    for track in tracks:
        if track.state in FINISHED or not track.order_key:
            continue
        quiet = now - track.quiet_since
        if quiet < after:
            continue
        what = "last checkpoint" if track.last_event_at else "subscribed, no checkpoint yet"
        found.setdefault(
            track.order_key,
            anomaly(
                LOGISTICS_STALLED,
                track.order_key,
                f"carrier track {track.carrier} {track.number} silent for {_span(quiet)} "
                f"({what} {track.quiet_since.astimezone(UTC).isoformat()}; via {track.provider})",
            ),
        )
    return list(found.values())


def silent_waiting(tracks: Sequence[Track]) -> list[Waiting]:
    return [Waiting(t.order_key, t.quiet_since) for t in tracks if t.state not in FINISHED]


@dataclass
class PollReport:
    polled: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    subscribed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "polled": self.polled,
            "updated": self.updated,
            "subscribed": self.subscribed,
            "failed": self.failed,
        }


def with_activity_signals(
    found: Sequence[Anomaly], picked: set[str], stalled: Sequence[Anomaly]
) -> list[Anomaly]:
    """The time rules' findings corrected by what the warehouse and the carriers said:
    `paid_not_picked` only for orders no pick list has named (the seed's meaning: no pick
    list printed 6 h after payment), and `logistics_stalled` also for silent carrier tracks
    (one per order: the platform-side finding, if any, is kept)."""
    kept = [a for a in found if not (a.rule == PAID_NOT_PICKED and a.subject in picked)]
    have = {(a.rule, a.subject) for a in kept}
    return kept + [a for a in stalled if (a.rule, a.subject) not in have]
