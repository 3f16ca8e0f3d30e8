"""The order timeline's entries from what people and carriers add: notes, pick lists and the
carrier track (domain/order_notes.py, domain/tracking.py). Pure Python.

Entry kinds (the timeline lists every kind generically: kind, time, summary, details):
- `note`: a note by customer service or ops (author, role; the text scrubbed when written);
- `pick_list`: the warehouse printed a pick list naming the order;
- `track`: the parcel was handed to a tracking aggregator (its subscription), and each of the
  carrier's checkpoints, at the carrier's time;
- `after_sales`: a buyer's after-sales request (refund, return, cancellation) opened, and
  answered, from any platform (domain/after_sales.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.domain.timeline import Entry, Timeline
from chalicelib.domain.tracking import Track


def _time(text: Any) -> datetime:
    return datetime.fromisoformat(str(text)).astimezone(UTC)


def activity_entries(rows: Iterable[Mapping[str, Any]]) -> list[Entry]:
    entries = []
    for row in rows:
        if row.get("kind") == "note":
            entries.append(
                Entry(
                    _time(row["at"]),
                    "note",
                    f"note by {row.get('author', '?')} ({row.get('role', '?')}): "
                    f"{row.get('text', '')}",
                    {k: row.get(k) for k in ("note_id", "author", "role", "text")},
                )
            )
        elif row.get("kind") == "pick_list":
            where = f" at {row['warehouse']}" if row.get("warehouse") else ""
            entries.append(
                Entry(
                    _time(row["at"]),
                    "pick_list",
                    f"pick list {row.get('pick_list_id')} printed{where}",
                    {"pick_list_id": row.get("pick_list_id"), "warehouse": row.get("warehouse")},
                )
            )
    return entries


def _stamp(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def after_sales_entries(rows: Iterable[Mapping[str, Any]]) -> list[Entry]:
    entries = []
    for row in rows:
        request = str(row.get("request_key") or "").split("#", 2)[-1]
        base = {"request_key": row.get("request_key"), "detail": row.get("detail") or ""}
        if row.get("requested_at"):
            waiting = " (waiting for an answer)" if row.get("waiting") else ""
            entries.append(
                Entry(
                    _stamp(str(row["requested_at"])),
                    "after_sales",
                    f"after-sales request {request} opened by the buyer{waiting}",
                    {**base, "event": "requested"},
                )
            )
        if row.get("answered_at"):
            entries.append(
                Entry(
                    _stamp(str(row["answered_at"])),
                    "after_sales",
                    f"after-sales request {request} answered ({row.get('detail') or 'seller'})",
                    {**base, "event": "answered"},
                )
            )
    return entries


def track_entries(tracks: Iterable[Track]) -> list[Entry]:
    entries = []
    for track in tracks:
        base = {"carrier": track.carrier, "number": track.number, "provider": track.provider}
        accepted = "" if track.subscribed else " (subscription not accepted yet: retried)"
        entries.append(
            Entry(
                track.subscribed_at,
                "track",
                f"parcel {track.carrier} {track.number} followed via {track.provider}{accepted}",
                {**base, "event": "subscribed", "state": track.state},
            )
        )
        for checkpoint in track.checkpoints:
            entries.append(
                Entry(
                    checkpoint.at,
                    "track",
                    f"{track.carrier} {track.number}: {checkpoint.text}",
                    {**base, "event": "checkpoint", **checkpoint.to_dict()},
                )
            )
    return entries


def track_view(track: Track, now: datetime) -> dict[str, Any]:
    """Where the parcel is, for the order's panel: state, last checkpoint, how long quiet."""
    last = track.checkpoints[-1] if track.checkpoints else None
    return {
        "carrier": track.carrier,
        "number": track.number,
        "provider": track.provider,
        "state": track.state,
        "subscribed": track.subscribed,
        "followed_since": track.subscribed_at.isoformat(),
        "last_checkpoint": None if last is None else last.to_dict(),
        "quiet_hours": round((now - track.quiet_since).total_seconds() / 3600, 1),
    }


def with_entries(timeline: Timeline, extra: Sequence[Entry]) -> Timeline:
    """The timeline with `extra` merged in time order; at the same moment the existing
    entries (already in causal order) come first."""
    if not extra:
        return timeline
    tagged = [(e.sort_at or e.at, 0, i, e) for i, e in enumerate(timeline.entries)]
    tagged += [(e.sort_at or e.at, 1, i, e) for i, e in enumerate(extra)]
    tagged.sort(key=lambda t: (t[0], t[1], t[2]))
    return replace(timeline, entries=tuple(t[3] for t in tagged))
