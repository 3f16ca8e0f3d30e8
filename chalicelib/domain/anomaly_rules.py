"""The anomaly rules as data, and the pure evaluators of the rules OrderHub checks itself.

Each rule names what it means, its priority, its SLA (how long until it must be acknowledged,
and resolved, before it escalates), the role that owns it (who is told, and who may
acknowledge and resolve it besides admin), where it is evaluated and from which signal. The
anomaly engine (`domain/anomalies.py`) reads the table; docs/operations.md's table is this one.

Rules evaluated elsewhere keep their code where the signal is (booking, the processor's skew
check, the nightly audit, `check_pending_events`, the stock pusher, the key review, the
channel health checks): they open anomalies by name, and only their SLA and owner live here.
The evaluators below are the ones that need a clock or a configuration: `scan_anomalies`
calls the time-based ones every 5 minutes over indexes, booking calls the address check.

Personal data: the address check says which check failed, never the address, nor which
configured pattern matched (a blocklist entry may itself be someone's address).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.domain.model import Anomaly, Order, PlatformStatus, Priority

OWNER_ROLES = ("ops", "cs", "warehouse", "finance", "admin")


class Evaluator(StrEnum):
    """Where a rule is evaluated."""

    SCAN = "scan_anomalies (every 5 minutes)"
    BOOKING = "booking (each order event, in its transaction)"
    PROCESSOR = "order processor (after each booking)"
    PENDING_CHECK = "check_pending_events (every minute)"
    AUDIT = "audit_inventory (nightly, 00:30 Beijing)"
    STOCK_PUSH = "push_stock (every minute)"
    KEY_REVIEW = "review_api_keys (daily, 09:00 Beijing)"
    HEALTH = "channel health checks (every 5 minutes)"
    REVEAL = "personal-data reveal (each request)"


@dataclass(frozen=True)
class Sla:
    """How long an anomaly may stay unacknowledged, and unresolved, from when it opened."""

    acknowledge: timedelta
    resolve: timedelta

    def __post_init__(self) -> None:
        if self.acknowledge <= timedelta(0) or self.resolve < self.acknowledge:
            raise ValueError("an SLA needs 0 < acknowledge <= resolve")


@dataclass(frozen=True)
class AnomalyRule:
    name: str
    priority: Priority
    owner: str  # the role told first, and allowed (besides admin) to acknowledge and resolve
    sla: Sla
    condition: str  # what it means, for people
    evaluator: Evaluator
    signal: str  # what it reads, and through which index
    trigger_after: timedelta | None = None  # time-based rules: how long the condition held
    subject: str = "order"  # what the subject names: order (platform#store#id), store, ...
    escalate_to: tuple[str, ...] = ("admin",)  # level n goes to escalate_to[min(n, len) - 1]

    def __post_init__(self) -> None:
        roles = (self.owner, *self.escalate_to)
        if not self.escalate_to or any(r not in OWNER_ROLES for r in roles):
            raise ValueError(f"rule {self.name}: roles must be among {', '.join(OWNER_ROLES)}")

    def escalation_audience(self, level: int) -> str:
        return self.escalate_to[min(max(level, 1), len(self.escalate_to)) - 1]


def _h(hours: float) -> timedelta:
    return timedelta(hours=hours)


def _m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


P0, P1, P2 = Priority.P0, Priority.P1, Priority.P2
E = Evaluator

PAID_NOT_PICKED = "paid_not_picked"
LOGISTICS_STALLED = "logistics_stalled"
SUSPICIOUS_ADDRESS = "suspicious_address"
AFTER_SALES_UNANSWERED = "after_sales_unanswered"
DLQ_NOT_EMPTY = "dlq_not_empty"
CHANNEL_HEALTH = "channel_health"

RULES: Mapping[str, AnomalyRule] = {
    rule.name: rule
    for rule in (
        AnomalyRule(
            PAID_NOT_PICKED,
            P0,
            "warehouse",
            Sla(_m(30), _h(4)),
            "paid, stock locked, no pick list printed and nothing shipped 6 h after payment",
            E.SCAN,
            "orders GSI `awaiting_shipment` (awaiting = paid, since = paid time), less the "
            "orders a WMS pick list named (order-activity table, `POST /wms/pick-lists`)",
            trigger_after=_h(6),
        ),
        AnomalyRule(
            LOGISTICS_STALLED,
            P1,
            "cs",
            Sla(_h(4), _h(24)),
            "the parcel's carrier track has had no checkpoint for 48 h "
            "(ORDERHUB_TRACK_STALL_HOURS) while not delivered; or the platform shows the order "
            "shipped, no update for 48 h, and the warehouse has not confirmed the goods left",
            E.SCAN,
            "tracks table's sparse index `moving` (快递100 / AfterShip pushes, polled as a "
            "backup); orders GSI `awaiting_shipment` (awaiting = shipped)",
            trigger_after=_h(48),
        ),
        AnomalyRule(
            SUSPICIOUS_ADDRESS,
            P1,
            "cs",
            Sla(_h(2), _h(8)),
            "a new or changed shipping address fails a check: empty or very short, a PO box "
            "for a store that forbids them, or a known-bad pattern",
            E.BOOKING,
            "the order event's address against the store's rules (never stored in the anomaly)",
        ),
        AnomalyRule(
            AFTER_SALES_UNANSWERED,
            P1,
            "cs",
            Sla(_h(2), _h(24)),
            "a buyer's after-sales request unanswered for 24 h",
            E.SCAN,
            "after-sales table's sparse index `unanswered` (every platform's requests; "
            "domain/after_sales.py)",
            trigger_after=_h(24),
        ),
        AnomalyRule(
            "event_pending",
            P0,
            "ops",
            Sla(_m(15), _h(2)),
            "an accepted event not final after ORDERHUB_PENDING_ALERT_SECONDS (300 s)",
            E.PENDING_CHECK,
            "trail GSI `pending`",
            subject="event",
        ),
        AnomalyRule(
            "out_of_stock",
            P0,
            "ops",
            Sla(_m(30), _h(4)),
            "an order rejected (or held) because no warehouse could fill it",
            E.BOOKING,
            "the stock read for the booking",
        ),
        AnomalyRule(
            "backorder",
            P1,
            "ops",
            Sla(_h(4), _h(48)),
            "an order accepted without stock (stores set to backorder)",
            E.BOOKING,
            "the stock read for the booking",
        ),
        AnomalyRule(
            "unknown_sku",
            P1,
            "ops",
            Sla(_h(2), _h(24)),
            "an order naming a SKU with no stock record (or an unmapped channel SKU)",
            E.BOOKING,
            "the stock read for the booking",
        ),
        AnomalyRule(
            "order_details_missing",
            P1,
            "ops",
            Sla(_h(2), _h(24)),
            "a thin event (status without lines) for an order OrderHub does not hold",
            E.BOOKING,
            "the order event",
        ),
        AnomalyRule(
            "clock_skew",
            P2,
            "ops",
            Sla(_h(24), _h(72)),
            "a store's send time more than 5 min from our receipt, either way (no send time: "
            "an event time over 5 min ahead)",
            E.PROCESSOR,
            "the platform's send time (or the event's time) against its receipt",
            subject="store",
        ),
        AnomalyRule(
            DLQ_NOT_EMPTY,
            P0,
            "ops",
            Sla(_m(15), _h(2)),
            "order events parked in the dead-letter queue",
            E.SCAN,
            "SQS GetQueueAttributes on the DLQ (visible + in flight)",
            subject="queue",
        ),
        AnomalyRule(
            "inventory_drift",
            P0,
            "warehouse",
            Sla(_h(1), _h(8)),
            "a stock balance differs from the ledger or from the open orders",
            E.AUDIT,
            "the events ledger and the orders GSI `open_orders`",
            subject="sku#warehouse",
        ),
        AnomalyRule(
            CHANNEL_HEALTH,
            P1,
            "ops",
            Sla(_h(1), _h(8)),
            "a store's platform API check fails (credentials, latency, rate limit, webhook "
            "subscription)",
            E.HEALTH,
            "the channel health checks' results",
            subject="store",
        ),
        AnomalyRule(
            "stock_push_rejected",
            P2,
            "ops",
            Sla(_h(24), _h(72)),
            "a channel refused a stock push for good (e.g. SKU not listed there)",
            E.STOCK_PUSH,
            "the channel's answer",
            subject="sku#platform#store",
        ),
        AnomalyRule(
            "api_key_expiring",
            P2,
            "admin",
            Sla(_h(24), timedelta(days=7)),
            "an API key expires within 14 days",
            E.KEY_REVIEW,
            "the API key records",
            subject="api key",
        ),
        AnomalyRule(
            "store_secret_aging",
            P2,
            "admin",
            Sla(_h(24), timedelta(days=10)),
            "a store's signing secret is 80 days old or more (rotate quarterly)",
            E.KEY_REVIEW,
            "the store secrets' set dates",
            subject="store",
        ),
        AnomalyRule(
            "store_unused",
            P2,
            "admin",
            Sla(_h(24), timedelta(days=7)),
            "a store received nothing for 90 days and was disabled",
            E.KEY_REVIEW,
            "the trail's receipts per store and day",
            subject="store",
        ),
        AnomalyRule(
            "bulk_decrypt",
            P1,
            "admin",
            Sla(_h(1), _h(24)),
            "one API key asked for more than 20 reveals of buyers' data in an hour",
            E.REVEAL,
            "the hourly reveal count per key",
            subject="api key",
        ),
    )
}

# A name opened by code this table does not know yet still gets an owner and an SLA.
_FALLBACK_SLA = {P0: Sla(_m(30), _h(4)), P1: Sla(_h(4), _h(24)), P2: Sla(_h(24), _h(72))}


def rule_for(name: str, priority: Priority | str = Priority.P1) -> AnomalyRule:
    """The rule named `name`; an unknown name gets ops as owner and its priority's SLA."""
    if name in RULES:
        return RULES[name]
    p = Priority(priority)
    return AnomalyRule(
        name, p, "ops", _FALLBACK_SLA[p], "(not in the rules table)", E.SCAN, "unknown"
    )


def anomaly(rule: str, subject: str, detail: str) -> Anomaly:
    """An anomaly of a known rule, at the rule's priority."""
    return Anomaly(rule, subject, RULES[rule].priority, detail)


# ---- time-based rules (scan_anomalies) ----------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """Something waiting since a moment: an order awaiting shipment, an after-sales request."""

    subject: str
    since: datetime


def awaiting_shipment(order: Order) -> tuple[str, datetime] | None:
    """Which clock of the awaiting_shipment index an order is on, and since when; None when
    it is on none. Only orders still holding locked units are:
    - `paid`: the platform says paid and nothing has shipped; since its payment;
    - `shipped`: the platform says shipped but units are still locked (the warehouse has not
      confirmed they left); since the platform's last update."""
    if not any(h.locked for h in order.holds):
        return None
    if order.status is PlatformStatus.PAID and not any(h.shipped for h in order.holds):
        return "paid", order.paid_at or order.updated_at
    if order.status is PlatformStatus.SHIPPED:
        return "shipped", order.updated_at
    return None


def due_since(rule: str, now: datetime) -> datetime:
    """The latest start of the wait that breaks a time-based rule at `now`."""
    after = RULES[rule].trigger_after
    if after is None:
        raise ValueError(f"{rule} is not time-based")
    return now - after


def _waited(rule: str, waiting: Iterable[Waiting], now: datetime) -> list[tuple[Waiting, str]]:
    found = []
    for item in waiting:
        waited = now - item.since
        if waited >= RULES[rule].trigger_after:  # type: ignore[operator]
            found.append((item, f"{_hours(waited)} since {item.since.isoformat()}"))
    return found


def _hours(span: timedelta) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 72 else f"{hours / 24:.1f} days"


def paid_not_picked(waiting: Iterable[Waiting], now: datetime) -> list[Anomaly]:
    """Orders paid 6 h ago or more, stock locked, nothing shipped."""
    return [
        anomaly(PAID_NOT_PICKED, w.subject, f"paid, nothing shipped: {how}")
        for w, how in _waited(PAID_NOT_PICKED, waiting, now)
    ]


def logistics_stalled(waiting: Iterable[Waiting], now: datetime) -> list[Anomaly]:
    """Orders the platform shows shipped, untouched for 48 h, units still locked here."""
    return [
        anomaly(
            LOGISTICS_STALLED,
            w.subject,
            f"platform says shipped, no update and no warehouse confirmation: {how}",
        )
        for w, how in _waited(LOGISTICS_STALLED, waiting, now)
    ]


def after_sales_unanswered(requests: Iterable[Waiting], now: datetime) -> list[Anomaly]:
    """After-sales requests waiting 24 h or more for an answer."""
    return [
        anomaly(AFTER_SALES_UNANSWERED, w.subject, f"after-sales request unanswered: {how}")
        for w, how in _waited(AFTER_SALES_UNANSWERED, requests, now)
    ]


def dlq_not_empty(queue: str, depth: Mapping[str, int]) -> Anomaly | None:
    """Any message parked in the dead-letter queue (visible, or being looked at)."""
    parked = int(depth.get("visible", 0)) + int(depth.get("in_flight", 0))
    if parked <= 0:
        return None
    return anomaly(
        DLQ_NOT_EMPTY,
        queue,
        f"{parked} message(s) parked; fix the cause, then `bin/orderhub dlq replay`",
    )


# ---- suspicious address (booking) ---------------------------------------------------------

MIN_ADDRESS_CHARS = 6  # non-blank characters; "上海市" alone (3) is too short, "1 Main St" is not
PO_BOX = re.compile(
    r"\b(p\.?\s*o\.?\s*box|post\s+office\s+box|postfach|apartado\s+postal)\b|邮政信箱",
    re.IGNORECASE,
)
# Patterns seen on fraud and test orders; a store adds its own (`address_blocklist`).
# Case-insensitive substrings, not regular expressions: a typo cannot match everything.
DEFAULT_ADDRESS_BLOCKLIST: tuple[str, ...] = (
    "test address",
    "do not ship",
    "asdf",
    "xxxxx",
    "测试地址",
    "请勿发货",
)


def address_findings(
    address: str | None,
    forbid_po_box: bool = False,
    blocklist: Iterable[str] = (),
) -> list[str]:
    """What is wrong with a shipping address, as names of checks (never the address)."""
    text = (address or "").strip()
    compact = re.sub(r"\s+", "", text)
    findings = []
    if not compact:
        return ["empty"]
    if len(compact) < MIN_ADDRESS_CHARS:
        findings.append(f"shorter than {MIN_ADDRESS_CHARS} characters")
    if forbid_po_box and PO_BOX.search(text):
        findings.append("a PO box, which the store does not ship to")
    lowered = text.casefold()
    for source, patterns in (("default", DEFAULT_ADDRESS_BLOCKLIST), ("store", blocklist)):
        for n, pattern in enumerate(patterns, 1):
            if pattern.strip() and pattern.strip().casefold() in lowered:
                findings.append(f"matches {source} blocklist entry #{n}")
    return findings


def suspicious_address(
    before: Order | None,
    after: Order,
    forbid_po_box: bool = False,
    blocklist: Iterable[str] = (),
) -> Anomaly | None:
    """A P1 when the order's shipping address is new or changed and fails a check. An address
    seen before is not checked again, so resolving it sticks until the address changes.
    Orders without buyer data (thin events, platforms that send none) are not judged.

    A sealed buyer's address is only its region here (domain/personal_data.py): its checks
    ran on the plaintext when it was sealed, with the store's rules, and come as
    `address_findings`; "the same address" is then the same region with the same findings."""
    if after.buyer is None:
        return None
    previous = before.buyer if before is not None else None
    if previous is not None and (previous.address, previous.address_findings) == (
        after.buyer.address,
        after.buyer.address_findings,
    ):
        return None
    findings = (
        list(after.buyer.address_findings)
        if after.buyer.address_findings is not None
        else address_findings(after.buyer.address, forbid_po_box, blocklist)
    )
    if not findings:
        return None
    return anomaly(SUSPICIOUS_ADDRESS, after.key, "shipping address: " + "; ".join(findings))


def render_rules_table() -> str:
    """docs/operations.md's rules table (a unit test keeps the two equal)."""

    def span(delta: timedelta) -> str:
        minutes = int(delta.total_seconds() // 60)
        if minutes < 60 or minutes % 60:
            return f"{minutes} min"
        if minutes < 72 * 60 or minutes % 1440:
            return f"{minutes // 60} h"
        return f"{minutes // 1440} days"

    lines = [
        "| rule | priority | owner | acknowledge / resolve within | means | evaluated by, from |",
        "|---|---|---|---|---|---|",
    ]
    for rule in RULES.values():
        lines.append(
            f"| `{rule.name}` | {rule.priority.value} | {rule.owner} | "
            f"{span(rule.sla.acknowledge)} / {span(rule.sla.resolve)} | {rule.condition} | "
            f"{rule.evaluator.value}: {rule.signal} |"
        )
    return "\n".join(lines) + "\n"
