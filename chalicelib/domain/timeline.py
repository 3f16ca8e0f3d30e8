"""The one-click order view: everything OrderHub knows about one order, in time order. Pure.

`order_timeline` reads through the `OrderHistory` port, by keys and indexes only:

Entry kinds and their sources:
- `receipt`: the event arrived (time, ack latency, how it was authenticated, where its raw
  payload is) and `attempt`: one processing attempt, its outcome or the error class that
  failed it. Source: the trail (`orderhub-trail`), batch get by event key.
- `dead_letter`: the event is parked in the DLQ now. Source: the DLQ, browsed (bounded, only
  when not empty) for messages whose correlation id is the order key.
- `booking` (what an order event did: outcome, reason, stock movements per SKU/warehouse),
  `shipment` (a WMS outbound confirmation, `wms#id`) and `reservation_expired`. Source: the
  event records (the ledger), found through the events GSI `by_order`.
- `allocation`: what the order holds now, per SKU and warehouse. Source: the order.
- `anomaly` (opened, acknowledged, resolved) and `notification` (the anomaly engine announced
  or escalated it). Source: the anomalies table, batch get by `rule#order key` for every rule
  about orders and `event_pending#event key` for each of its events.

Order: by time; within one event, by cause (receipt, attempts, the record its attempt
committed, the DLQ). An attempt is stamped when it ends, a few milliseconds after the record
it committed was planned (`processed_at`), so a record is listed right after the attempt that
committed it: the one place where `at` may step back (by those milliseconds).

What the response cannot show is listed in `not_covered`: refused deliveries (never stored:
a delivery that fails its signature is answered 401 and logged, and recording every
unauthenticated request would let anyone write to our tables), events still queued or
retrying before their first record (the trail is keyed by event, and an order's events are
found through its records), notifications beyond the anomaly engine's announcements, and
reconciliation lines (they live in daily report files, not by order).

Personal data: nothing here carries it. The caller adds the masked order view; the raw
payload (which does) only with `include_raw`, which the route grants with `decrypt` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.domain.anomaly_rules import RULES
from chalicelib.domain.archive import raw_location
from chalicelib.domain.dlq import ParkedMessage
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.domain.model import Hold, Order
from chalicelib.domain.personal_data import (
    MAX_REASON,
    MIN_REASON,
    PersonalDataVault,
    open_raw_document,
)
from chalicelib.domain.timeutil import parse_aware

RAW_HINT = "add ?include=raw&reason=<why> (needs the decrypt permission; audited)"
MAX_RECORDS = 200  # event records read per order (an order has a handful)
MAX_RAW = 20  # raw payloads fetched per request with include=raw
DLQ_SCAN_LIMIT = 100  # DLQ messages looked at per request (only when the DLQ is not empty)

PULL_PLATFORMS = frozenset({"taobao", "pinduoduo", "jd"})
QUEUE_PLATFORMS = frozenset({"amazon"})

# Within one moment (and one event), the causal order of kinds.
_RANK = {
    "receipt": 0,
    "attempt": 1,
    "booking": 2,
    "shipment": 2,
    "reservation_expired": 2,
    "allocation": 3,
    "dead_letter": 4,
    "anomaly": 5,
    "notification": 6,
}

NOT_STORED_REFUSALS = (
    "refused deliveries (bad signature, unknown store, invalid payload) are not stored: they "
    "are answered 4xx and logged, never linked to an order"
)
NOT_FOUND_IN_FLIGHT = (
    "an event still queued or retrying before its first record shows here only once it is "
    "recorded or parked in the dead-letter queue"
)
NO_NOTIFICATION_LOG = (
    "notifications: only the anomaly engine's announcements and escalations of this order's "
    "anomalies; what each channel (SNS, robots, email) delivered is not recorded"
)
NO_RECONCILIATION_LINES = (
    "reconciliation lines are not linked to orders (they live in the daily report files, "
    "GET /reports)"
)


@dataclass(frozen=True)
class DlqSearch:
    """The parked messages of one order found in a bounded look at the DLQ."""

    parked: tuple[ParkedMessage, ...]
    depth: int  # messages in the DLQ when looked at
    searched: int  # how many of them were looked at


class OrderHistory(Protocol):
    """The reads the timeline needs; every one by key or index (adapters/history.py)."""

    def event_records(self, order_key: str, limit: int) -> list[Mapping[str, Any]]:
        """The order's event records (ledger entries), oldest first, at most `limit`."""
        ...

    def trails(self, event_keys: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """The trails of these events, by event key (missing ones left out)."""
        ...

    def anomalies(self, anomaly_keys: Sequence[str]) -> list[Mapping[str, Any]]:
        """The anomaly items with these keys that exist."""
        ...

    def parked(self, order_key: str, limit: int) -> DlqSearch:
        """The order's messages in the DLQ, looking at `limit` messages at most."""
        ...

    def raw_payload(self, key: str) -> Mapping[str, Any] | None:
        """The raw payload document under this key in the raw bucket, or None."""
        ...


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str
    summary: str
    details: Mapping[str, Any]
    sort_at: datetime | None = None  # where it is listed, if not at `at` (see module doc)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.astimezone(UTC).isoformat(),
            "kind": self.kind,
            "summary": self.summary,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Timeline:
    order_key: str
    entries: tuple[Entry, ...]
    not_covered: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_key": self.order_key,
            "entries": [e.to_dict() for e in self.entries],
            "not_covered": list(self.not_covered),
        }


@dataclass(frozen=True)
class Facts:
    """What the reads found, as `assemble` takes it (built by `order_timeline`)."""

    order_key: str
    order: Order | None
    records: Sequence[Mapping[str, Any]]
    trails: Mapping[str, Mapping[str, Any]]
    parked: Sequence[ParkedMessage] = ()
    anomalies: Sequence[Mapping[str, Any]] = ()
    raw: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by event key


def order_anomaly_keys(order_key: str, event_keys: Iterable[str]) -> list[str]:
    """Every anomaly key that can be about this order: each rule whose subject is an order
    (from the rule table, so a new order rule is covered) and `event_pending` per event."""
    keys = [f"{name}#{order_key}" for name, rule in RULES.items() if rule.subject == "order"]
    keys += [f"event_pending#{key}" for key in event_keys]
    return list(dict.fromkeys(keys))


def authenticity(platform: str) -> str:
    """How a receipt was authenticated: only verified deliveries get a receipt."""
    if platform in PULL_PLATFORMS:
        return "pulled from the platform's API with signed requests"
    if platform in QUEUE_PLATFORMS:
        return "delivered into our SQS queue (queue policy)"
    return "signature verified"


def order_timeline(
    order_key: str,
    order: Order | None,
    history: OrderHistory,
    *,
    include_raw: bool = False,
    vault: PersonalDataVault | None = None,
) -> Timeline:
    """Gather what is known about the order and assemble it; NotFound if nothing is. With
    `include_raw`, each receipt carries its raw payload, opened with `vault` (raw payloads
    are kept sealed under the order's key): the caller must hold `decrypt` and audit it."""
    if include_raw and vault is None:
        raise ValueError("include_raw needs the personal-data vault to open the payloads")
    records = history.event_records(order_key, MAX_RECORDS + 1)
    truncated = len(records) > MAX_RECORDS
    records = records[:MAX_RECORDS]
    search = history.parked(order_key, DLQ_SCAN_LIMIT)
    event_keys = list(
        dict.fromkeys([str(r["event_key"]) for r in records] + [p.event_key for p in search.parked])
    )
    event_keys = [k for k in event_keys if k]
    trails = history.trails(event_keys) if event_keys else {}
    if order is None and not records and not trails and not search.parked:
        platform, store, order_id = [*order_key.split("#", 2), "", ""][:3]
        raise NotFound(
            f"nothing is known of order '{order_id}' from {platform}/{store}: no record, no "
            "receipt, nothing parked; if its webhook was accepted moments ago it may still be "
            "queued"
        )
    anomalies = history.anomalies(order_anomaly_keys(order_key, event_keys))
    raw: dict[str, dict[str, Any]] = {}
    fetched = 0
    for key, trail in trails.items():
        link = raw_link(trail)
        if link is None:
            continue
        if include_raw and vault is not None and fetched < MAX_RAW:
            document = history.raw_payload(link["key"])
            link["payload"] = open_raw_document(document, order_key, vault)
            link["found"] = document is not None
            fetched += 1
        raw[key] = link
    not_covered = [
        NOT_STORED_REFUSALS,
        NOT_FOUND_IN_FLIGHT,
        NO_NOTIFICATION_LOG,
        NO_RECONCILIATION_LINES,
    ]
    if truncated:
        not_covered.append(f"only the first {MAX_RECORDS} event records are shown")
    if search.searched < search.depth:
        not_covered.append(
            f"the dead-letter queue holds {search.depth} messages; {search.searched} were "
            "searched for this order (bin/orderhub dlq list --store ... lists them all)"
        )
    if include_raw and fetched < len(raw):
        not_covered.append(f"raw payloads: only the first {MAX_RAW} are included")
    facts = Facts(order_key, order, records, trails, search.parked, anomalies, raw)
    return Timeline(order_key, tuple(assemble(facts)), tuple(not_covered))


def raw_link(trail: Mapping[str, Any]) -> dict[str, Any] | None:
    """Where the event's raw payload is kept (domain/archive.py), if the trail says enough."""
    received, platform, store = trail.get("received_at"), trail.get("platform"), trail.get("store")
    if not (received and platform and store):
        return None
    key = raw_location(trail, _time(received))
    return {"key": key, "fetch": RAW_HINT}


# ---- assembly (pure) ---------------------------------------------------------------------


def assemble(facts: Facts) -> list[Entry]:
    """Every entry, in the order described in the module doc."""
    entries: list[Entry] = []
    records = {str(r["event_key"]): r for r in facts.records}
    listed_at: dict[str, datetime] = {}  # event key -> where its record is listed
    for key, trail in facts.trails.items():
        entries += _trail_entries(trail, facts.raw.get(key))
    for key, record in records.items():
        entry = _record_entry(record, facts.trails.get(key))
        listed_at[key] = entry.sort_at or entry.at
        entries.append(entry)
    for parked in facts.parked:
        entries.append(_dead_letter_entry(parked, facts.trails.get(parked.event_key)))
    if facts.order is not None:
        entries.append(_allocation_entry(facts.order, records, listed_at))
    for anomaly in facts.anomalies:
        entries += _anomaly_entries(anomaly)
    indexed = list(enumerate(entries))
    indexed.sort(key=lambda pair: (pair[1].sort_at or pair[1].at, _RANK[pair[1].kind], pair[0]))
    return [entry for _, entry in indexed]


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return parse_aware(str(value))


def _trail_entries(trail: Mapping[str, Any], raw: Mapping[str, Any] | None) -> list[Entry]:
    key = str(trail["event_key"])
    platform, store = trail.get("platform") or "", trail.get("store") or ""
    found: list[Entry] = []
    if trail.get("received_at"):
        how = authenticity(str(platform))
        ack = trail.get("ack_ms")
        summary = f"received from {platform}/{store} ({how})"
        if ack is not None:
            summary += f", acknowledged in {ack} ms"
        details: dict[str, Any] = {
            "event_key": key,
            "ack_ms": ack,
            "message_id": trail.get("message_id"),
            "authenticity": how,
            "final_outcome": trail.get("final_outcome"),
        }
        if raw is not None:
            details["raw"] = dict(raw)
        found.append(Entry(_time(trail["received_at"]), "receipt", summary, details))
    for attempt in trail.get("attempts") or []:
        number = int(attempt.get("attempt") or 0)
        if attempt.get("error_class"):
            result = f"failed ({attempt['error_class']}), will be retried"
        else:
            result = str(attempt.get("outcome") or "?")
        found.append(
            Entry(
                _time(attempt["at"]),
                "attempt",
                f"processing attempt {number}: {result}",
                {
                    "event_key": key,
                    "attempt": number,
                    "outcome": attempt.get("outcome"),
                    "error_class": attempt.get("error_class"),
                },
            )
        )
    return found


def _movement_text(movements: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for m in movements:
        deltas = ", ".join(
            f"{bucket} {int(m.get(bucket) or 0):+d}"
            for bucket in ("reserved", "locked", "on_hand", "available")
            if int(m.get(bucket) or 0)
        )
        parts.append(f"{m.get('sku')}@{m.get('warehouse')}: {deltas or 'no change'}")
    return "; ".join(parts)


def _record_entry(record: Mapping[str, Any], trail: Mapping[str, Any] | None) -> Entry:
    key = str(record["event_key"])
    outcome = str(record.get("outcome") or "")
    reason = str(record.get("reason") or "")
    cause = str(record.get("cause") or "")
    movements = list(record.get("movements") or [])
    moved = _movement_text(movements)
    details: dict[str, Any] = {
        "event_key": key,
        "outcome": outcome,
        "reason": reason,
        "cause": cause,
        "movements": movements,
    }
    if cause == "wms shipment":
        kind = "shipment"
        confirmation = key.removeprefix("wms#")
        details["confirmation_id"] = confirmation
        summary = f"shipped by the warehouse (WMS confirmation {confirmation})"
    elif cause == "reservation expired":
        kind = "reservation_expired"
        summary = "reservation expired unpaid: reserved units released"
    else:
        kind = "booking"
        summary = outcome if not reason else f"{outcome}: {reason}"
    if moved:
        summary += f"; {moved}"
    at = _time(record["processed_at"])
    # the attempt that committed it ends after `processed_at`: list the record after it
    committing = [
        _time(a["at"])
        for a in (trail or {}).get("attempts") or []
        if a.get("outcome") == outcome and outcome
    ]
    sort_at = max(at, committing[0]) if committing else None
    return Entry(at, kind, summary, details, sort_at)


def _dead_letter_entry(parked: ParkedMessage, trail: Mapping[str, Any] | None) -> Entry:
    """SQS keeps a message's first enqueue time when it moves to the DLQ, so the move itself
    is not timestamped: the stay is listed at the event's last recorded attempt."""
    attempts = [_time(a["at"]) for a in (trail or {}).get("attempts") or []]
    at = max(attempts) if attempts else parked.sent_at
    return Entry(
        at,
        "dead_letter",
        f"parked in the dead-letter queue after {parked.receive_count} receives; "
        "an operator can replay it (bin/orderhub dlq replay)",
        {
            "event_key": parked.event_key,
            "message_id": parked.message_id,
            "first_queued_at": parked.sent_at.astimezone(UTC).isoformat(),
            "receive_count": parked.receive_count,
        },
    )


def _hold_text(hold: Hold) -> str:
    parts = [
        f"{n} {bucket}"
        for bucket, n in (
            ("reserved", hold.reserved),
            ("locked", hold.locked),
            ("shipped", hold.shipped),
        )
        if n
    ]
    return f"{hold.sku}@{hold.warehouse}: {', '.join(parts) or 'nothing'}"


def _allocation_entry(
    order: Order, records: Mapping[str, Mapping[str, Any]], listed_at: Mapping[str, datetime]
) -> Entry:
    """What the order holds now, listed after the record that last wrote the order."""
    last = records.get(order.last_event_key)
    if last is not None:
        at = _time(last["processed_at"])
        sort_at = listed_at.get(order.last_event_key)
    else:
        at = order.created_at or order.updated_at
        sort_at = None
    holds = "; ".join(_hold_text(h) for h in order.holds) or "nothing held"
    return Entry(
        at,
        "allocation",
        f"now {order.booking.value}: {holds}",
        {
            "booking": order.booking.value,
            "status": order.status.value,
            "holds": [h.to_dict() for h in order.holds],
            "last_event_key": order.last_event_key,
        },
        sort_at,
    )


def _anomaly_entries(anomaly: Mapping[str, Any]) -> list[Entry]:
    rule, subject = str(anomaly.get("rule") or ""), str(anomaly.get("subject") or "")
    priority = str(anomaly.get("priority") or "")
    base = {"anomaly_key": f"{rule}#{subject}", "rule": rule, "priority": priority}
    found: list[Entry] = []
    opened = anomaly.get("opened_at") or anomaly.get("last_seen_at")
    if opened:
        found.append(
            Entry(
                _time(opened),
                "anomaly",
                f"{priority} {rule} opened: {anomaly.get('detail') or ''}".rstrip(": "),
                {
                    **base,
                    "status": anomaly.get("status"),
                    "occurrences": anomaly.get("occurrences"),
                    "last_seen_at": _iso(anomaly.get("last_seen_at")),
                    "detail": anomaly.get("detail") or "",
                },
            )
        )
    for field_name, verb in (("acknowledged_at", "acknowledged"), ("resolved_at", "resolved")):
        moment = anomaly.get(field_name)
        if moment:
            who = anomaly.get(f"{verb}_by") or ""
            found.append(
                Entry(
                    _time(moment),
                    "anomaly",
                    f"{rule} {verb}" + (f" by {who}" if who else ""),
                    {**base, "status": verb},
                )
            )
    if anomaly.get("announced_at"):
        found.append(
            Entry(
                _time(anomaly["announced_at"]),
                "notification",
                f"{rule} announced to its owners",
                {**base, "notice": "anomaly_opened"},
            )
        )
    if anomaly.get("escalated_at"):
        level = anomaly.get("escalation_level")
        found.append(
            Entry(
                _time(anomaly["escalated_at"]),
                "notification",
                f"{rule} escalated" + (f" (level {level})" if level else ""),
                {**base, "notice": "anomaly_escalated", "level": level},
            )
        )
    return found


def _iso(value: Any) -> str | None:
    return None if not value else _time(value).isoformat()


def parse_include(query: Mapping[str, str] | None) -> tuple[bool, str]:
    """`?include=raw&reason=...`: whether raw payloads are asked for, and why (required then:
    they carry personal data in clear, and the reason goes into the audit log)."""
    query = query or {}
    wanted = [part for part in str(query.get("include") or "").split(",") if part]
    unknown = sorted(set(wanted) - {"raw"})
    if unknown:
        raise InvalidPayload(f"include may only be 'raw', got {', '.join(unknown)}")
    include_raw = "raw" in wanted
    reason = str(query.get("reason") or "").strip()
    if include_raw and len(reason) < MIN_REASON:
        raise InvalidPayload(
            "include=raw shows the buyer's data in clear: say why with "
            f"reason=<at least {MIN_REASON} characters> (it is kept in the audit log)"
        )
    if len(reason) > MAX_REASON:
        raise InvalidPayload(f"reason must be at most {MAX_REASON} characters")
    return include_raw, reason
