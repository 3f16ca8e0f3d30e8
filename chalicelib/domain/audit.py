"""The audit trail of privileged actions: who, what, when, from where, before and after. Pure.

Entries are appended, never changed (the table's writes are conditional on the entry not
existing, and the functions' IAM policy denies updates and deletes on it). Each carries its
expiry for DynamoDB's TTL: kept `retention_days` (default 400, never under 180).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.bounds import check_text, check_time
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.principal import Principal
from chalicelib.domain.scrub import scrub_free_text_fields
from chalicelib.domain.timeutil import parse_aware

MIN_RETENTION_DAYS = 180
DEFAULT_RETENTION_DAYS = 400
DEFAULT_PAGE = 100
MAX_PAGE = 1000
DEFAULT_WINDOW = timedelta(days=1)  # GET /admin/audit without `from`: the last day


class Action:
    """Audited action names: `<object>.<verb>`. Later endpoints add theirs here."""

    API_KEY_ISSUE = "api_key.issue"
    API_KEY_ROTATE = "api_key.rotate"
    API_KEY_REVOKE = "api_key.revoke"
    API_KEY_DISABLE = "api_key.disable"  # the review job: unused for 90 days
    STOCK_ADJUST = "stock.adjust"
    WMS_CONFIRM = "wms.confirm"
    DLQ_REPLAY = "dlq.replay"
    STORE_SAVE = "store.save"
    STORE_SECRET_ROTATE = "store_secret.rotate"
    STORE_DISABLE = "store.disable"  # the daily review: unused for 90 days
    STORE_ENABLE = "store.enable"  # bin/orderhub stores enable
    ANOMALY_ACKNOWLEDGE = "anomaly.acknowledge"
    ANOMALY_RESOLVE = "anomaly.resolve"
    ORDER_RAW_READ = "order.raw_read"  # the timeline's raw payloads (buyer data in clear)
    PERSONAL_DATA_DECRYPT = "personal_data.decrypt"  # a buyer's data shown in clear, with why
    PERSONAL_DATA_REQUEST = "personal_data.request"  # two-person rule: asked, with a reason
    PERSONAL_DATA_APPROVE = "personal_data.approve"  # two-person rule: approved by another
    PERSONAL_DATA_BULK_REFUSED = "personal_data.bulk_refused"  # over 20 reveals an hour
    ORDER_VOID = "order.void"  # cancelled by a person, with a reason (api/order_actions.py)
    ORDER_EDIT_ADDRESS = "order.edit_address"  # a suspicious address corrected
    ORDERS_EXPORT = "orders.export"  # a CSV of a date range
    ORDER_NOTE = "order.note"  # a note added to an order (its text is in the order's activity)
    WMS_PICK_LIST = "wms.pick_list"  # the WMS printed a pick list naming orders
    REVIEW_NOTE = "review.note"  # a monthly review's root cause and action for an anomaly type
    STOCK_POLICY = "stock.policy"  # safety stock, holdback (the console's stock policy)
    WAREHOUSE_SAVE = "warehouse.save"  # a warehouse's region and priority


SYSTEM = Principal(key_id="system", owner="system", role="system")  # scheduled jobs


def retention(days: int) -> timedelta:
    if days < MIN_RETENTION_DAYS:
        raise ValueError(f"audit retention must be at least {MIN_RETENTION_DAYS} days")
    return timedelta(days=days)


def stamp(moment: datetime) -> str:
    """Fixed-width UTC text, so text order is time order (the table's range key)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    at: datetime
    actor: Principal
    action: str
    target: str
    expires_at: datetime  # the TTL: DynamoDB deletes the entry some time after this
    source_ip: str = ""
    user_agent: str = ""
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None

    @property
    def day(self) -> str:
        return self.at.astimezone(UTC).strftime("%Y-%m-%d")

    @property
    def at_id(self) -> str:
        return f"{stamp(self.at)}#{self.entry_id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "at": self.at.astimezone(UTC).isoformat(),
            "key_id": self.actor.key_id,
            "actor": self.actor.owner,
            "role": self.actor.role,
            "action": self.action,
            "target": self.target,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "before": self.before,
            "after": self.after,
            "expires_at": self.expires_at.astimezone(UTC).isoformat(),
        }


def new_entry(
    actor: Principal,
    action: str,
    target: str,
    at: datetime,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    source_ip: str = "",
    user_agent: str = "",
    entry_id: str | None = None,
) -> AuditEntry:
    # before/after must survive JSON as stored: fail here, not after the action is stored
    for part in (before, after):
        json.dumps(part, default=str)
    return AuditEntry(
        entry_id=entry_id or uuid.uuid4().hex,
        at=at.astimezone(UTC),
        actor=actor,
        action=action,
        target=target,
        expires_at=at.astimezone(UTC) + retention(retention_days),
        source_ip=source_ip[:64],
        user_agent=user_agent[:256],
        # a reason or note a person typed loses any phone, ID number or email before it is kept
        before=scrub_free_text_fields(before) if before is not None else None,
        after=scrub_free_text_fields(after) if after is not None else None,
    )


@dataclass(frozen=True)
class AuditQuery:
    """Entries with start <= at <= end, newest first, optionally one actor (owner) and/or one
    action; `token` continues a previous page of the same query."""

    start: datetime
    end: datetime
    actor: str | None = None
    action: str | None = None
    limit: int = DEFAULT_PAGE
    token: str | None = None

    def matches(self, entry: AuditEntry) -> bool:
        return (
            self.start <= entry.at <= self.end
            and (self.actor is None or entry.actor.owner == self.actor)
            and (self.action is None or entry.action == self.action)
        )

    @property
    def fingerprint(self) -> str:
        """Ties a paging token to the query it came from."""
        return "|".join((stamp(self.start), stamp(self.end), self.actor or "", self.action or ""))


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry] = field(default_factory=list)
    next_token: str | None = None  # absent: nothing more


def parse_audit_query(params: Mapping[str, str], now: datetime) -> AuditQuery:
    """`from`, `to` (ISO-8601 with offset; default the last day), `actor`, `action`, `limit`
    (1..1000, default 100), `next` (the token of the previous page)."""
    try:
        end = parse_aware(params["to"]) if params.get("to") else now
        start = parse_aware(params["from"]) if params.get("from") else end - DEFAULT_WINDOW
    except ValueError as exc:
        raise InvalidPayload(f"from/to: {exc}") from None
    check_time(start, "from")
    check_time(end, "to")
    for name, longest in (("actor", 256), ("action", 64), ("next", 4096)):
        check_text(params.get(name) or "", name, longest, allow_empty=True)
    if start > end:
        raise InvalidPayload("'from' must not be after 'to'")
    try:
        limit = int(params.get("limit") or DEFAULT_PAGE)
    except ValueError:
        raise InvalidPayload(f"limit must be a whole number from 1 to {MAX_PAGE}") from None
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidPayload(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return AuditQuery(
        start=start,
        end=end,
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        limit=limit,
        token=params.get("next") or None,
    )


def days_newest_first(start: datetime, end: datetime) -> list[str]:
    """The UTC days the range touches, newest first (the table's partitions)."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    count = (last - first).days + 1
    return [(last - timedelta(days=i)).isoformat() for i in range(count)]


class AuditLog(Protocol):
    """Append-only audit entries (chalicelib/domain/audit.py)."""

    def append(self, entry: AuditEntry) -> None:
        """Store a new entry; raises AlreadyProcessed if one with its id exists (never
        overwrites)."""
        ...

    def query(self, query: AuditQuery) -> AuditPage:
        """Entries matching the query, newest first; raises InvalidPayload for a token that is
        not this query's."""
        ...
