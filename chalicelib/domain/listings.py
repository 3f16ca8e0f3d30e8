"""The listing map: which listing on a platform holds each of our SKUs in each store.

Marketplaces take a stock quantity by their own ids (Shopify's inventory item and location,
Taobao's num_iid and sku_id, ...), never by our SKU. The map is discovered from the
platform's catalog by SKU (each platform's lookup call, chalicelib/channels/<p>_stock.py),
kept per store and SKU, refreshed on a schedule and on demand. A SKU the platform does not
list is recorded as unmapped (so pushes do not look it up again on every change) and
reported as a P2 `listing_unmapped` anomaly for that store: never guessed.

Pure Python: the refresh run works through ports (`ListingMap`, `ListingLookup`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.errors import ChannelRejected, ChannelUnavailable, OrderHubError
from chalicelib.domain.model import Anomaly, Priority
from chalicelib.domain.ports import Store

UNMAPPED_RULE = "stock_push_rejected"  # the rule of a channel that cannot take the SKU
RECHECK_UNMAPPED = timedelta(hours=1)  # an unmapped SKU is looked up again after this


@dataclass(frozen=True)
class Listing:
    """Where one SKU is listed in one store: the platform's ids (empty when unmapped)."""

    platform: str
    store_id: str
    sku: str
    ids: Mapping[str, str] = field(default_factory=dict)
    checked_at: datetime | None = None
    note: str = ""  # why unmapped, or which listing was picked

    @property
    def mapped(self) -> bool:
        return bool(self.ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "store": self.store_id,
            "sku": self.sku,
            "mapped": self.mapped,
            "ids": dict(self.ids),
            "checked_at": self.checked_at.isoformat() if self.checked_at else None,
            "note": self.note,
        }


class ListingUnmapped(ChannelRejected):
    """The platform lists no listing for the SKU in this store: nothing to push to."""

    code = "listing_unmapped"  # opens the store's P2 `stock_push_rejected` anomaly


class ListingMap(Protocol):
    """Where the map is kept (DynamoDB: `orderhub-listings`)."""

    def get(self, platform: str, store_id: str, sku: str) -> Listing | None: ...

    def put(self, listing: Listing) -> None: ...

    def for_store(self, platform: str, store_id: str) -> list[Listing]: ...


class ListingLookup(Protocol):
    """A platform's catalog search by seller SKU, for one store: the listing, or None.
    Raises ChannelUnavailable (try later) or ChannelRejected (credentials refused)."""

    def lookup(self, store: Store, sku: str) -> Listing | None: ...


def unmapped_anomaly(platform: str, store_id: str, sku: str, why: str) -> Anomaly:
    return Anomaly(
        UNMAPPED_RULE,
        f"{sku}#{platform}#{store_id}",
        Priority.P2,
        f"{platform} store {store_id} lists no listing for SKU {sku} ({why}), so it is not "
        f"told this SKU's stock. Fix: give the listing (or its variant) the seller SKU / "
        f"merchant code '{sku}' on {platform}, then refresh the store's listing map "
        f"(POST /channels/{platform}/{store_id}/listings/refresh); if the store does not "
        "sell it, resolve this anomaly.",
    )


def needs_lookup(found: Listing | None, now: datetime) -> bool:
    """Mapped: never (a refresh or a refusal replaces it). Unmapped: once it is stale."""
    if found is None:
        return True
    if found.mapped:
        return False
    return found.checked_at is None or now - found.checked_at >= RECHECK_UNMAPPED


@dataclass
class RefreshSummary:
    stores: int = 0
    mapped: int = 0
    unmapped: list[str] = field(default_factory=list)  # "platform/store: sku"
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stores": self.stores,
            "mapped": self.mapped,
            "unmapped": self.unmapped,
            "errors": self.errors,
        }


def refresh_listings(
    stores: Sequence[Store],
    skus: Iterable[str],
    lookups: Mapping[str, ListingLookup],
    listing_map: ListingMap,
    open_anomaly: Callable[[Anomaly, datetime], None],
    now: Callable[[], datetime],
    has_time: Callable[[], bool] = lambda: True,
) -> RefreshSummary:
    """Look every SKU up in every store of a platform that needs a map, and keep the answer.
    One store's failure (credentials refused, platform down) never stops the others; a
    failed lookup keeps what the map held."""
    summary = RefreshSummary()
    wanted = sorted(set(skus))
    for store in stores:
        lookup = lookups.get(store.platform)
        if lookup is None:
            continue
        summary.stores += 1
        for sku in wanted:
            if not has_time():
                summary.errors.append(f"{store.platform}/{store.store_id}: out of time")
                break
            try:
                found = lookup.lookup(store, sku)
            except (ChannelUnavailable, ChannelRejected) as exc:
                summary.errors.append(f"{store.platform}/{store.store_id} {sku}: {exc.message}")
                if isinstance(exc, ChannelRejected):
                    break  # credentials refused: every SKU would be refused the same way
                continue
            except OrderHubError as exc:
                summary.errors.append(f"{store.platform}/{store.store_id} {sku}: {exc.message}")
                continue
            except Exception as exc:  # one store's trouble must not stop the others
                summary.errors.append(
                    f"{store.platform}/{store.store_id} {sku}: {type(exc).__name__}: {exc}"
                )
                break
            at = now()
            if found is None:
                listing_map.put(Listing(store.platform, store.store_id, sku, {}, at, "not listed"))
                open_anomaly(
                    unmapped_anomaly(store.platform, store.store_id, sku, "catalog search"), at
                )
                summary.unmapped.append(f"{store.platform}/{store.store_id}: {sku}")
            else:
                listing_map.put(
                    Listing(store.platform, store.store_id, sku, found.ids, at, found.note)
                )
                summary.mapped += 1
    return summary
