"""The ports the domain talks through. Adapters implement them against AWS; tests use fakes.

Each is a small Protocol so a fake is a few lines and the contract tests can run one suite
against both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from chalicelib.domain.model import Anomaly, BookingPlan, Order, Receipt, StockChange, StockLevel
from chalicelib.domain.principal import Principal

# The API key and audit ports live beside their types (domain/api_keys.py, domain/audit.py),
# so this module imports neither and they need nothing of it: no import circle.
__all__ = ["Principal"]


@dataclass(frozen=True)
class Store:
    """A seller's shop on one platform, as configured in OrderHub."""

    platform: str
    store_id: str
    secret_name: str  # where its signing credentials live
    timezone: str = "UTC"
    name: str = ""
    rules: StoreRules = field(default_factory=lambda: StoreRules())
    # unused for 90 days (domain/store_review.py): deliveries refused until re-enabled
    disabled: bool = False
    disabled_reason: str = ""


@dataclass(frozen=True)
class StoreRules:
    """How a store wants its orders booked."""

    reservation_minutes: int = 30  # unpaid orders release their stock after this long
    out_of_stock: str = "reject"  # or "backorder": accept without stock, a person follows up
    allow_split: bool = False  # may one order be filled from several warehouses
    sku_mapping: str = "identity"  # or "table": channel SKUs map through catalog items
    # the suspicious-address rule (domain/anomaly_rules.py): PO boxes refused, and the store's
    # own known-bad address patterns (case-insensitive substrings) on top of the defaults
    forbid_po_box: bool = False
    address_blocklist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        blocklist = self.address_blocklist
        if isinstance(blocklist, str) or not all(isinstance(p, str) for p in blocklist):
            raise ValueError("address_blocklist must be a list of strings")
        object.__setattr__(self, "address_blocklist", tuple(blocklist))  # stored as a list
        if self.out_of_stock not in ("reject", "backorder"):
            raise ValueError("out_of_stock must be 'reject' or 'backorder'")
        if self.sku_mapping not in ("identity", "table"):
            raise ValueError("sku_mapping must be 'identity' or 'table'")
        if self.reservation_minutes <= 0:
            raise ValueError("reservation_minutes must be positive")


@dataclass(frozen=True)
class Warehouse:
    warehouse_id: str
    region: str = ""
    priority: int = 1000


class OrderRepository(Protocol):
    """Orders, stock and event records: the booking's persistence."""

    def get_order(self, key: str) -> Order | None: ...

    def get_stock(self, skus: Iterable[str]) -> dict[tuple[str, str], StockLevel]: ...

    def read_booking(
        self, order_key: str, skus: Sequence[str], warehouses: Sequence[str]
    ) -> tuple[Order | None, dict[tuple[str, str], StockLevel]]:
        """The order and the stock items of `skus` in `warehouses` (those that exist), read
        consistently in one round trip where the store allows it."""
        ...

    def get_event_outcome(self, event_key: str) -> Mapping[str, Any] | None: ...

    def roll_back_part(self, event_key: str, reverse: Sequence[StockChange]) -> None:
        """Delete a staged part's record and apply its reversed movements, atomically; a part
        already rolled back is left alone."""
        ...

    def commit(self, plan: BookingPlan) -> None:
        """Apply the plan all or nothing.

        Raises AlreadyProcessed if the event's record exists, ConcurrentUpdate if the order's
        version moved or a stock condition no longer holds.
        """
        ...


class Catalog(Protocol):
    """Stores, warehouses and API keys: configuration data."""

    def get_store(self, platform: str, store_id: str) -> Store | None: ...

    def list_warehouses(self) -> list[Warehouse]: ...

    def list_stores(self) -> list[Store]: ...

    def resolve_sku(self, platform: str, store_id: str, channel_sku: str) -> str | None: ...

    def channel_skus(self, platform: str, store_id: str, sku: str) -> list[str]:
        """The store's channel SKUs mapped to `sku` (reverse of `resolve_sku`)."""
        ...

    def get_api_key(self, key_hash: str) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class SkuPushState:
    """One SKU's stock items as the stock pusher reads them: the levels, each item's
    `stock_version` (bumped by every change to its `available`), the items whose change is
    not pushed yet, and whether a limited sale was last announced for the SKU."""

    sku: str
    levels: tuple[StockLevel, ...]
    versions: Mapping[str, int]  # warehouse -> stock_version
    pending: frozenset[str]  # warehouses flagged push_pending
    limited_sale: bool = False


class StockOutbox(Protocol):
    """The stock items whose change channels have not been told yet (the outbox): every
    committed change to `available` flags its item; the pusher clears the flag only if the
    item did not change again meanwhile."""

    def pending_skus(self, limit: int = 100) -> list[str]: ...

    def read_push_state(self, sku: str) -> SkuPushState: ...

    def clear_push_pending(self, sku: str, versions: Mapping[str, int]) -> list[str]:
        """Clear the flag of each item still at the version given; return the warehouses
        that changed since (they stay pending)."""
        ...

    def record_limited_sale(self, sku: str, limited: bool) -> None: ...

    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None: ...


class StockPushClient(Protocol):
    """Tells one channel (platform + store) how many units of a SKU it may sell.

    Raises ChannelUnavailable (retry later) or ChannelRejected (retrying cannot help)."""

    def push(self, platform: str, store_id: str, sku: str, quantity: int) -> None: ...


class EventPublisher(Protocol):
    """Publishes a domain event (EventBridge in AWS). Raises TransientFailure."""

    def publish(self, detail_type: str, detail: Mapping[str, Any]) -> None: ...


class SecretSource(Protocol):
    def get_secret(self, name: str) -> Mapping[str, Any]: ...


class EventQueue(Protocol):
    def send(self, body: Mapping[str, Any], correlation_id: str) -> str:
        """Queue one message; returns the message id."""
        ...

    def send_many(self, messages: Sequence[tuple[Mapping[str, Any], str]]) -> list[str]:
        """Queue (body, correlation id) messages in as few requests as the queue allows;
        returns their ids in order; raises if any was refused (some may have gone)."""
        ...


class Clock(Protocol):
    def now(self) -> Any: ...


class Trail(Protocol):
    """Each accepted event's trail: its receipt (with ack latency), every processing attempt,
    and its final outcome. Events not final carry a `pending` flag (a sparse index) so a job can
    find the ones waiting too long; receipts are indexed by store and UTC day for conservation."""

    def record_receipt(
        self,
        event_key: str,
        platform: str,
        store: str,
        received_at: datetime,
        ack_ms: int,
        message_id: str,
    ) -> None:
        """Record the receipt and mark the event pending, unless it is already final (then the
        receipt's details are recorded without the flag)."""
        ...

    def record_attempt(
        self,
        event_key: str,
        at: datetime,
        attempt: int,
        outcome: str | None = None,
        error_class: str | None = None,
        final: bool = False,
        error: str | None = None,
        receipt: Receipt | None = None,
    ) -> None:
        """Append an attempt (its outcome, or the error class and message of a failed one);
        when `final`, set the final outcome and clear pending in the same write. With
        `receipt`, record it too (a redelivery keeps the first time) and, when not final,
        mark the event pending unless it is final already."""
        ...

    def finalize(self, event_key: str, outcome: str) -> None:
        """Set the final outcome and clear pending (repairing a trail the processor missed)."""
        ...

    def pending_before(self, before: datetime, limit: int = 500) -> list[Mapping[str, Any]]:
        """Pending events received before `before`, oldest first."""
        ...

    def receipts(self, platform: str, store: str, day: str) -> list[Mapping[str, Any]]:
        """The trails of the events a store received on a UTC day (YYYY-MM-DD)."""
        ...

    def get(self, event_key: str) -> Mapping[str, Any] | None: ...
