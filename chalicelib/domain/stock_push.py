"""What each sales channel is told it may sell, and when a SKU enters or leaves a limited sale.

Pure rules (`plan_stock_push`) plus the run that applies them through ports
(`push_stock_changes`): read each SKU whose stock changed since its last push (the outbox),
push one absolute quantity per channel, announce a limited-sale transition, then clear the
outbox flags only of items that did not change meanwhile.

The rules, per SKU, on its totals across warehouses (a channel sells the SKU, not a warehouse):
- A channel's sellable quantity is the sum over warehouses of `available` less the holdback
  kept for other channels (`StockLevel.sellable_by`), never below 0.
- The SKU is in a limited sale while it has a safety stock (> 0) and its total `available` is
  at or below the total safety stock. Outside a limited sale every channel is shown its whole
  sellable quantity (channels share one pool; OrderHub refuses what the pool cannot cover).
- In a limited sale the channels are shown shares of `available` instead: one unit at a time
  in priority order (channels the holdback is kept for first, then by platform and store),
  each capped at its own sellable quantity. The shares add up to at most `available`, so
  channels selling at the same moment cannot together sell units that do not exist, which
  a shared pool allows between two pushes. At zero available every channel is shown 0.
- Entering a limited sale emits `LimitedSale`; leaving it (stock received, orders released,
  safety stock lowered) emits `LimitedSaleLifted`. Each is emitted once per transition: the
  announced state is stored with the stock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from chalicelib.domain.errors import (
    ChannelCredentialsRejected,
    ChannelRejected,
    ChannelUnavailable,
    OrderHubError,
)
from chalicelib.domain.model import Anomaly, Priority, StockLevel
from chalicelib.domain.ports import (
    EventPublisher,
    SkuPushState,
    StockOutbox,
    StockPushClient,
    Store,
)

EVENT_SOURCE = "orderhub.inventory"
REJECTED_RULE = "stock_push_rejected"  # refused for good, or no listing in the store


class Transition(StrEnum):
    """The events a SKU's limited sale emits (their EventBridge detail-type)."""

    LIMITED_SALE = "LimitedSale"
    LIMITED_SALE_LIFTED = "LimitedSaleLifted"


@dataclass(frozen=True)
class ChannelPush:
    platform: str
    store_id: str
    sku: str
    quantity: int


@dataclass(frozen=True)
class StockPushPlan:
    """What one SKU's push run does: a quantity per channel, and a transition if any."""

    sku: str
    available: int
    safety_stock: int
    limited: bool
    pushes: tuple[ChannelPush, ...]
    transition: Transition | None = None


def is_limited(available: int, safety_stock: int) -> bool:
    return safety_stock > 0 and available <= safety_stock


def _channel_order(stores: Iterable[Store], levels: Sequence[StockLevel]) -> list[tuple[str, str]]:
    favoured = {p for level in levels if level.holdback for p in level.holdback_channels}
    channels = {(s.platform, s.store_id) for s in stores}
    return sorted(channels, key=lambda c: (c[0] not in favoured, c))


def _shares(
    order: Sequence[tuple[str, str]], sellable: Mapping[tuple[str, str], int], available: int
) -> dict[tuple[str, str], int]:
    """`available` handed out one unit at a time in `order`, each channel capped at what it
    may sell: the total never exceeds `available`."""
    shares = dict.fromkeys(order, 0)
    left = max(0, available)
    while left > 0:
        handed = False
        for channel in order:
            if left and shares[channel] < sellable[channel]:
                shares[channel] += 1
                left -= 1
                handed = True
        if not handed:
            break
    return shares


def plan_stock_push(
    sku: str, levels: Sequence[StockLevel], stores: Iterable[Store], announced_limited: bool
) -> StockPushPlan:
    """The quantity each channel is told, and the limited-sale transition since the state
    last announced."""
    available = sum(level.available for level in levels)
    safety = sum(level.safety_stock for level in levels)
    limited = is_limited(available, safety)
    order = _channel_order(stores, levels)
    sellable = {
        channel: max(0, sum(level.sellable_by(channel[0]) for level in levels)) for channel in order
    }
    quantities = _shares(order, sellable, available) if limited else sellable
    transition = None
    if limited and not announced_limited:
        transition = Transition.LIMITED_SALE
    elif announced_limited and not limited:
        transition = Transition.LIMITED_SALE_LIFTED
    pushes = tuple(ChannelPush(p, s, sku, quantities[(p, s)]) for p, s in order)
    return StockPushPlan(sku, available, safety, limited, pushes, transition)


@dataclass
class PushRunSummary:
    """What one run did; returned by the scheduled job and logged."""

    skus: int = 0
    pushed: int = 0
    retry_later: list[str] = field(default_factory=list)  # "sku -> platform/store: why"
    rejected: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    still_pending: list[str] = field(default_factory=list)  # SKUs the next run takes again
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "skus": self.skus,
            "pushed": self.pushed,
            "retry_later": self.retry_later,
            "rejected": self.rejected,
            "events": self.events,
            "still_pending": self.still_pending,
            "errors": self.errors,
        }


def push_stock_changes(
    outbox: StockOutbox,
    stores: Sequence[Store],
    client: StockPushClient,
    publisher: EventPublisher,
    now: Callable[[], datetime],
    max_skus: int = 100,
    has_time: Callable[[], bool] = lambda: True,
    skus: Sequence[str] | None = None,
    warehouses: Sequence[str] | None = None,
    states: Mapping[str, SkuPushState] | None = None,
) -> PushRunSummary:
    """Push every pending SKU to every channel once, announce limited-sale transitions, and
    clear what was delivered. `skus` names the SKUs to look at (a nudge after a change);
    None takes them from the outbox (the minute sweeper).

    A burst of changes to one SKU is one flag, so one push per channel. The SKUs of a run go
    to each channel together (`push_many`, batched by the platform's adapter where its API
    allows). A channel that fails keeps the SKU pending (the next run pushes it again;
    quantities are absolute, so a repeat is harmless); a failure never stops the other SKUs.
    A change committed while we push moves the item's version, so its flag survives the
    clear and the next run pushes again. Given the catalog's `warehouses`, an outbox with
    `read_push_states` reads every SKU's state in one request; if that read fails, each SKU
    is read alone, as without it. `states` are states read already (with the run's
    listings: adapters/push_reads.py); a SKU without one is read here.
    """
    summary = PushRunSummary()
    candidates = list(dict.fromkeys(skus)) if skus is not None else outbox.pending_skus(max_skus)
    planned: list[tuple[SkuPushState, StockPushPlan]] = []
    read = states or _read_states(outbox, candidates, warehouses)
    for sku in candidates:
        if not has_time():
            summary.still_pending.append(sku)
            continue
        try:
            state: SkuPushState = read.get(sku) or outbox.read_push_state(sku)
            if not state.pending:  # the index lags the table: already pushed by an earlier run
                continue
            summary.skus += 1
            planned.append((state, plan_stock_push(sku, state.levels, stores, state.limited_sale)))
        except Exception as exc:  # one SKU's trouble must not stop the others
            _record_error(summary, sku, exc)
    results = _deliver(client, [plan for _, plan in planned])
    for state, plan in planned:
        try:
            if not _settle(state, plan, results, outbox, publisher, now, summary):
                summary.still_pending.append(plan.sku)
        except Exception as exc:  # one SKU's trouble must not stop the others
            _record_error(summary, plan.sku, exc)
            summary.still_pending.append(plan.sku)
    return summary


def _read_states(
    outbox: StockOutbox, skus: Sequence[str], warehouses: Sequence[str] | None
) -> Mapping[str, SkuPushState]:
    """The run's SKUs' states at once, when the outbox can (else, or on failure, none)."""
    read_many = getattr(outbox, "read_push_states", None)
    if not warehouses or not skus or not callable(read_many):
        return {}
    try:
        return dict(read_many(skus, warehouses))
    except Exception:  # each SKU is read alone instead: its own trouble is its own
        return {}


def _record_error(summary: PushRunSummary, sku: str, exc: Exception) -> None:
    if isinstance(exc, OrderHubError):
        summary.errors.append(f"{sku}: {exc.code}: {exc.message}")
    else:
        summary.errors.append(f"{sku}: {type(exc).__name__}: {exc}")


Outcomes = dict[tuple[str, str, str], Exception | None]  # (platform, store, sku) -> error


def _deliver(client: StockPushClient, plans: Sequence[StockPushPlan]) -> Outcomes:
    """Every planned push, grouped per channel (in the plans' channel order): one
    `push_many` per channel when the client batches, else one `push` each. A client with a
    `run` sees the whole run first (its reads and records then go in batches)."""
    channels: dict[tuple[str, str], list[ChannelPush]] = {}
    for plan in plans:
        for push in plan.pushes:
            channels.setdefault((push.platform, push.store_id), []).append(push)
    run = getattr(client, "run", None)
    if not callable(run):
        return _deliver_channels(client, channels)
    with run([(p.platform, p.store_id, p.sku) for pushes in channels.values() for p in pushes]):
        return _deliver_channels(client, channels)


def _deliver_channels(
    client: StockPushClient, channels: Mapping[tuple[str, str], Sequence[ChannelPush]]
) -> Outcomes:
    outcomes: Outcomes = {}
    many = getattr(client, "push_many", None)
    for (platform, store_id), pushes in channels.items():
        if callable(many):
            try:
                answered = many(platform, store_id, [(p.sku, p.quantity) for p in pushes])
            except (ChannelUnavailable, ChannelRejected) as exc:
                answered = {p.sku: exc for p in pushes}
            except Exception as exc:  # the adapter itself failed: retry these later
                answered = {
                    p.sku: ChannelUnavailable(f"{type(exc).__name__}: {exc}") for p in pushes
                }
            for push in pushes:
                outcomes[(platform, store_id, push.sku)] = answered.get(
                    push.sku, ChannelUnavailable("the adapter gave no answer for this SKU")
                )
            continue
        for push in pushes:
            try:
                client.push(platform, store_id, push.sku, push.quantity)
                outcomes[(platform, store_id, push.sku)] = None
            except (ChannelUnavailable, ChannelRejected) as exc:
                outcomes[(platform, store_id, push.sku)] = exc
    return outcomes


def _settle(
    state: SkuPushState,
    plan: StockPushPlan,
    outcomes: Outcomes,
    outbox: StockOutbox,
    publisher: EventPublisher,
    now: Callable[[], datetime],
    summary: PushRunSummary,
) -> bool:
    """Record one SKU's push results; True when nothing about it is left pending."""
    sku = plan.sku
    delivered: list[ChannelPush] = []
    failed: list[ChannelPush] = []
    for push in plan.pushes:
        where = f"{sku} -> {push.platform}/{push.store_id}"
        error = outcomes.get((push.platform, push.store_id, sku))
        if isinstance(error, ChannelRejected):
            summary.rejected.append(f"{where}: {error.message}")
            # a refusal, or no listing for the SKU in that store (ListingUnmapped): one P2
            # anomaly per SKU and store, naming the fix; nothing is retried until it changes.
            # Credentials refused fail every SKU of the store alike: one anomaly, SKU `*`.
            what = "*" if isinstance(error, ChannelCredentialsRejected) else sku
            outbox.open_anomaly(
                Anomaly(
                    REJECTED_RULE,
                    f"{what}#{push.platform}#{push.store_id}",
                    Priority.P2,
                    error.message,
                ),
                now(),
            )
            continue
        if error is not None:
            message = error.message if isinstance(error, OrderHubError) else str(error)
            summary.retry_later.append(f"{where}: {message}")
            failed.append(push)
            continue
        delivered.append(push)
        summary.pushed += 1
    if plan.transition is not None:
        detail = {
            "sku": sku,
            "available": plan.available,
            "safety_stock": plan.safety_stock,
            "limited": plan.limited,
            "pushed": [_channel(p) for p in delivered],
            "not_yet_pushed": [_channel(p) for p in failed],
        }
        claim = getattr(outbox, "claim_limited_sale", None)
        if not callable(claim):  # record after publishing: a failure leaves it to announce
            publisher.publish(plan.transition.value, detail)  # raises: all stays pending
            outbox.record_limited_sale(sku, plan.limited)
            summary.events.append({"sku": sku, "type": plan.transition.value})
        elif claim(sku, plan.limited):  # this run won: two overlapping runs announce once
            try:
                publisher.publish(plan.transition.value, detail)
            except Exception:
                outbox.record_limited_sale(sku, not plan.limited)  # announce it next run
                raise
            summary.events.append({"sku": sku, "type": plan.transition.value})
    if failed:
        return False
    seen = {wh: v for wh, v in state.versions.items() if wh in state.pending}
    return not outbox.clear_push_pending(sku, seen)


def _channel(push: ChannelPush) -> dict[str, Any]:
    return {"platform": push.platform, "store": push.store_id, "quantity": push.quantity}
