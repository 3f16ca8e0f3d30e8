"""The canonical shapes every channel is normalized to, and the stock and order state they move.

Money is Decimal, times are timezone-aware UTC datetimes kept next to the text they came from.
Everything here serializes to plain JSON types (`to_dict`/`from_dict`) for queues and storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from chalicelib.domain.sealed import Sealed, sealed_or_none


class PlatformStatus(StrEnum):
    """What the platform says about the order."""

    UNPAID = "unpaid"
    PAID = "paid"
    SHIPPED = "shipped"  # the platform shows it shipped; stock leaves on the WMS confirmation
    CANCELLED = "cancelled"
    REFUNDED = (
        "refunded"  # refunded or returned: nothing held; returned goods come back as receipts
    )

    @property
    def rank(self) -> int:
        """Lifecycle position, to order two events stamped with the same time."""
        return _STATUS_RANK[self]


_STATUS_RANK = {
    PlatformStatus.UNPAID: 0,
    PlatformStatus.PAID: 1,
    PlatformStatus.SHIPPED: 2,
    PlatformStatus.CANCELLED: 3,
    PlatformStatus.REFUNDED: 3,
}
FINAL_STATUSES = frozenset({PlatformStatus.CANCELLED, PlatformStatus.REFUNDED})


class Booking(StrEnum):
    """What OrderHub did with the order's stock."""

    RESERVED = "reserved"  # unpaid: quantities held in `reserved` until the reservation expires
    LOCKED = "locked"  # paid: quantities held in `locked` until the WMS ships them
    SHIPPED = "shipped"  # everything shipped: on_hand and locked went down together
    RELEASED = "released"  # cancelled or refunded: nothing held
    EXPIRED = "expired"  # unpaid past the store's reservation timeout: released; a payment re-books
    REJECTED_OUT_OF_STOCK = "rejected_out_of_stock"  # never held: no warehouse could fill it
    BACKORDERED = "backordered"  # store accepts it without stock: nothing held, a person follows up
    NEEDS_ATTENTION = "needs_attention"  # held as before; a person must look (reason says why)


class Outcome(StrEnum):
    """How one event ended."""

    BOOKED = "booked"
    REJECTED_OUT_OF_STOCK = "rejected_out_of_stock"
    NEEDS_ATTENTION = "needs_attention"
    BACKORDERED = "backordered"
    REJECTED_INVALID = "rejected_invalid"  # a permanent failure: recorded, never retried
    STALE = "stale"  # older than what the order already reflects: recorded, nothing moved
    IGNORED = "ignored"  # the order is final (cancelled or rejected): recorded, nothing moved
    DUPLICATE = "duplicate"  # this delivery was processed before
    STAGING = "staging"  # a large plan's parts are being applied (see domain/staged.py)


def order_key(platform: str, store: str, order_id: str) -> str:
    """The one key an order is stored under."""
    return f"{platform}#{store}#{order_id}"


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {"sku": self.sku, "quantity": self.quantity, "unit_price": str(self.unit_price)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderLine:
        return cls(data["sku"], int(data["quantity"]), Decimal(data["unit_price"]))


@dataclass(frozen=True)
class Buyer:
    """Personal data: never logged. Two forms (domain/personal_data.py):

    - plain (`sealed` None): the fields as the platform sent them. Only in memory, between a
      channel's parser and the sealing at intake (or in the processor, for fetched details);
    - sealed: the fields hold masked views (domain/privacy.py: `138****5678`) and the
      plaintext is only in `sealed`, encrypted under the order's KMS data key. The form that
      is queued, stored and shown.
    """

    name: str
    phone: str
    address: str
    email: str = ""
    id_number: str = ""
    sealed: Sealed | None = None
    # what the address checks (domain/anomaly_rules.py) found on the plaintext address before
    # it was sealed, so booking can judge an address it can no longer read; None: not checked
    address_findings: tuple[str, ...] | None = None
    # the phone's keyed blind index (domain/blind_index.py), computed at sealing: "" unknown
    phone_index: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "phone": self.phone, "address": self.address}
        if self.email:
            data["email"] = self.email
        if self.id_number:
            data["id_number"] = self.id_number
        if self.sealed is not None:
            data["sealed"] = self.sealed.to_dict()
        if self.address_findings is not None:
            data["address_findings"] = list(self.address_findings)
        if self.phone_index:
            data["phone_index"] = self.phone_index
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Buyer:
        findings = data.get("address_findings")
        return cls(
            data["name"],
            data["phone"],
            data["address"],
            email=data.get("email", ""),
            id_number=data.get("id_number", ""),
            sealed=sealed_or_none(data.get("sealed")),
            address_findings=None if findings is None else tuple(str(f) for f in findings),
            phone_index=str(data.get("phone_index") or ""),
        )


@dataclass(frozen=True)
class OrderEvent:
    """One platform event about one order, in OrderHub's canonical form."""

    event_key: str  # idempotency key: platform#store#delivery id
    platform: str
    store: str
    order_id: str
    event_type: str  # created | paid | cancelled | updated | shipped | refunded
    status: PlatformStatus
    updated_at: datetime  # UTC
    updated_at_raw: str
    currency: str
    lines: tuple[OrderLine, ...]
    buyer: Buyer | None
    received_at: datetime  # UTC, when our endpoint accepted it
    region: str = ""  # shipping region, matched against warehouse regions when allocating
    # False when the platform's message carried only ids and status (TikTok Shop, Douyin):
    # `lines`, `currency` and `buyer` are then empty and must be fetched from the platform's
    # order API before booking; planned as it stands, it would release what the order holds.
    complete: bool = True
    # The platform's own id for the event when it differs from the dedupe key (Shopify's
    # X-Shopify-Event-Id, WooCommerce's delivery id, Douyin's msg_id): for investigation.
    platform_event_id: str = ""
    # When the sender says it sent this delivery (UTC; Standard Webhooks `webhook-timestamp`,
    # Shopify `X-Shopify-Triggered-At`, Amazon `EventTime`, TMC `pub_time`, TikTok
    # `timestamp`): what clock skew is measured on (domain/skew.py). None: not given.
    sent_at: datetime | None = None

    @property
    def order_key(self) -> str:
        return order_key(self.platform, self.store, self.order_id)

    @property
    def correlation_id(self) -> str:
        return self.order_key

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_key": self.event_key,
            "platform": self.platform,
            "store": self.store,
            "order_id": self.order_id,
            "event_type": self.event_type,
            "status": self.status.value,
            "updated_at": self.updated_at.isoformat(),
            "updated_at_raw": self.updated_at_raw,
            "currency": self.currency,
            "lines": [line.to_dict() for line in self.lines],
            "buyer": self.buyer.to_dict() if self.buyer else None,
            "received_at": self.received_at.isoformat(),
            "region": self.region,
            "complete": self.complete,
            "platform_event_id": self.platform_event_id,
            **({"sent_at": self.sent_at.isoformat()} if self.sent_at else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OrderEvent:
        return cls(
            event_key=data["event_key"],
            platform=data["platform"],
            store=data["store"],
            order_id=data["order_id"],
            event_type=data["event_type"],
            status=PlatformStatus(data["status"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            updated_at_raw=data["updated_at_raw"],
            currency=data["currency"],
            lines=tuple(OrderLine.from_dict(line) for line in data["lines"]),
            buyer=Buyer.from_dict(data["buyer"]) if data.get("buyer") else None,
            received_at=datetime.fromisoformat(data["received_at"]),
            region=data.get("region", ""),
            complete=bool(data.get("complete", True)),
            platform_event_id=data.get("platform_event_id", ""),
            sent_at=datetime.fromisoformat(data["sent_at"]) if data.get("sent_at") else None,
        )


@dataclass(frozen=True)
class Hold:
    """Quantities of one SKU one order holds in one warehouse."""

    sku: str
    warehouse: str
    reserved: int = 0
    locked: int = 0
    shipped: int = 0  # already left the warehouse (WMS confirmed): never held again

    @property
    def held(self) -> int:
        return self.reserved + self.locked

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "warehouse": self.warehouse,
            "reserved": self.reserved,
            "locked": self.locked,
            "shipped": self.shipped,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hold:
        return cls(
            data["sku"],
            data["warehouse"],
            int(data["reserved"]),
            int(data["locked"]),
            int(data.get("shipped", 0)),
        )


@dataclass(frozen=True)
class Order:
    """An order as OrderHub knows it: the platform's latest word and what stock it holds."""

    platform: str
    store: str
    order_id: str
    status: PlatformStatus
    booking: Booking
    updated_at: datetime
    updated_at_raw: str
    currency: str
    lines: tuple[OrderLine, ...]
    buyer: Buyer | None
    holds: tuple[Hold, ...] = ()
    reason: str = ""
    version: int = 0  # bumped by every write; writes are conditioned on it
    last_event_key: str = ""
    created_at: datetime | None = None
    reserved_until: datetime | None = None  # set while anything is reserved
    region: str = ""
    paid_at: datetime | None = None  # the platform's time of the first paid (or later) event
    # the platform's time of the first event OrderHub received: dates the order for the
    # daily reconciliation (domain/reconcile.py); never changes
    placed_at: datetime | None = None

    @property
    def key(self) -> str:
        return order_key(self.platform, self.store, self.order_id)

    def held(self) -> int:
        return sum(h.held for h in self.holds)

    def shipped(self, sku: str) -> int:
        return sum(h.shipped for h in self.holds if h.sku == sku)

    def with_changes(self, **changes: Any) -> Order:
        return replace(self, **changes)


@dataclass(frozen=True)
class StockLevel:
    """One SKU in one warehouse. `available` is stored and always on_hand - locked - reserved.

    `holdback` units of `available` are kept for the channels in `holdback_channels`: any other
    channel can only sell `available - holdback`.
    """

    sku: str
    warehouse: str
    on_hand: int
    locked: int
    reserved: int
    available: int
    safety_stock: int = 0
    holdback: int = 0
    holdback_channels: tuple[str, ...] = ()

    @classmethod
    def new(cls, sku: str, warehouse: str, on_hand: int, safety_stock: int = 0) -> StockLevel:
        return cls(sku, warehouse, on_hand, 0, 0, on_hand, safety_stock)

    def holdback_for(self, platform: str) -> int:
        return 0 if platform in self.holdback_channels else self.holdback

    def sellable_by(self, platform: str) -> int:
        return max(0, self.available - self.holdback_for(platform))

    def apply(self, change: StockChange) -> StockLevel:
        return replace(
            self,
            on_hand=self.on_hand + change.on_hand,
            locked=self.locked + change.locked,
            reserved=self.reserved + change.reserved,
            available=self.available + change.available,
        )

    def admits(self, change: StockChange) -> bool:
        """Whether the adapter's conditions would let `change` through on this level."""
        after = self.apply(change)
        if min(after.on_hand, after.locked, after.reserved, after.available) < 0:
            return False
        if change.expect_on_hand is not None and self.on_hand != change.expect_on_hand:
            return False
        return self.available >= change.min_available

    def is_consistent(self) -> bool:
        buckets = (self.on_hand, self.locked, self.reserved, self.available)
        balanced = self.available == self.on_hand - self.locked - self.reserved
        return balanced and all(b >= 0 for b in buckets)


@dataclass(frozen=True)
class StockChange:
    """Deltas to one stock item, applied only if every condition holds at commit time:
    no bucket goes below zero, `available >= min_available` (set when the change takes stock,
    including any channel holdback), and `on_hand == expect_on_hand` when given (counts)."""

    sku: str
    warehouse: str
    reserved: int = 0
    locked: int = 0
    on_hand: int = 0
    min_available: int = 0
    expect_on_hand: int | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.locked - self.reserved

    def is_empty(self) -> bool:
        return self.reserved == 0 and self.locked == 0 and self.on_hand == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "warehouse": self.warehouse,
            "on_hand": self.on_hand,
            "locked": self.locked,
            "reserved": self.reserved,
            "available": self.available,
        }


class Priority(StrEnum):
    P0 = "P0"
    P1 = "P1"
    P2 = "P2"


@dataclass(frozen=True)
class Anomaly:
    """Something a person must look at; opened once per (rule, subject)."""

    rule: str
    subject: str
    priority: Priority
    detail: str

    @property
    def key(self) -> str:
        return f"{self.rule}#{self.subject}"


@dataclass(frozen=True)
class EventRecord:
    """The record that makes an event's processing happen once, written with its effects.

    Stored with the plan's stock changes, it is also the ledger: balances can be recomputed
    from the records alone.
    """

    event_key: str
    order_key: str
    outcome: Outcome
    reason: str
    processed_at: datetime
    cause: str = "order event"


@dataclass(frozen=True)
class Receipt:
    """An event's receipt as its trail keeps it. The queued message carries it (the event's
    platform, store and receipt time; SQS's message id and send time), so the processor
    records it with the booking instead of the intake writing it on the sender's clock."""

    event_key: str
    platform: str
    store: str
    received_at: datetime
    ack_ms: int | None  # receipt -> queued (SQS's SentTimestamp), when known
    message_id: str
    raw_key: str = ""  # where the processor archived its raw payload, if in a batch object


@dataclass(frozen=True)
class TrailEntry:
    """A processing attempt with its receipt: committed in the booking's own transaction."""

    receipt: Receipt
    attempt: int
    at: datetime


@dataclass(frozen=True)
class BookingPlan:
    """Everything one event changes, committed all or nothing."""

    record: EventRecord
    order: Order | None  # the order's new state; None when the order is not written
    expected_version: int  # the version the stored order must still have
    stock_changes: tuple[StockChange, ...] = field(default=())
    anomalies: tuple[Anomaly, ...] = ()
    creates_stock: bool = False  # a receipt may create the SKU's first stock item
    staged_final: bool = False  # completes a staged commit: the record exists, as `staging`
    trail: TrailEntry | None = None  # the event's trail, written final in the same transaction

    @property
    def outcome(self) -> Outcome:
        return self.record.outcome
