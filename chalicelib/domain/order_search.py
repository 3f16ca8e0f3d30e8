"""Order search and the buyer view: filters, index keys, opaque cursors, lifecycle tags.
Pure: the reads are the `OrderSearch` port (adapters/order_search.py, DynamoDB indexes).

Which index answers (every one is a Query, never a Scan), so a page is one Query in the
common cases:
- a phone (its blind index, domain/blind_index.py) -> the sparse `buyer` index (`buyer_index`,
  `created_sort` = placed time + order id), newest first;
- an order-id prefix (2+ characters) -> `order_id_prefix` (`id_bucket` = the id's first two
  characters, `order_id`), `begins_with`, ascending by id;
- one store -> `store_created` (`store_ref` = `platform#store`, `created_sort`), newest first;
- one platform and one or more statuses -> `platform_status` (`platform#status`,
  `created_sort`), newest first: one Query per status, merged by time (a page is one Query
  per status asked, however few of the platform's orders have that status);
- one platform -> `platform_day` (`platform#day`, `created_sort`), walked by day as below;
- otherwise -> `created_day` (`created_day` = the Beijing day placed, `created_sort`): the
  days newest first, one Query per day until the page is full, at most DAY_BUDGET days per
  request (then the cursor resumes before the last day read); without `from`, the 31 days
  up to `to` (or today).
Status, booking, platform and store are filter expressions on those Queries.

Days are Beijing days (Asia/Shanghai), as the reports and KPIs count them.
The cursor is opaque to clients: base64url JSON of the index, the last row's sort key and a
fingerprint of the filters, so a cursor used with other filters is refused (400).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from chalicelib.domain.blind_index import normalise_phone, valid_index
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import Booking, PlatformStatus

SEARCH_ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_DAYS = 366
MAX_PREFIX = 64
TOP = "\U0010ffff"  # sorts after every character: the end of a prefix range

BY_CREATED = "store_created"
BY_ORDER_ID = "order_id_prefix"
BY_BUYER = "buyer"
BY_DAY = "created_day"
BY_PLATFORM_DAY = "platform_day"
BY_PLATFORM_STATUS = "platform_status"
DAY_INDEXES = (BY_DAY, BY_PLATFORM_DAY)
DAY_BUDGET = 14  # day partitions read for one page of the unfiltered listing
DEFAULT_WINDOW_DAYS = 31  # the listing without `from` covers today and the 30 days before
MIN_PREFIX = 2  # an order-id prefix names its bucket: the id's first two characters


def created_sort_key(placed: datetime, order_id: str) -> str:
    """`store_created`/`buyer` range key: fixed-width UTC time, then the id (unique per store)."""
    return placed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "#" + order_id


def store_ref(platform: str, store: str) -> str:
    return f"{platform}#{store}"


def created_day(placed: datetime) -> str:
    """`created_day` index key: the Beijing day an order was placed."""
    return placed.astimezone(SEARCH_ZONE).date().isoformat()


def platform_day(platform: str, placed: datetime) -> str:
    """`platform_day` index key: the platform and the Beijing day placed."""
    return f"{platform}#{created_day(placed)}"


def platform_status(platform: str, status: str) -> str:
    """`platform_status` index key: the platform and the order's platform status."""
    return f"{platform}#{status}"


def id_bucket(order_id: str) -> str:
    """`order_id_prefix` index key: the id's first two characters (the shortest prefix a
    search may give). One bucket is one partition: ids spread over many buckets."""
    return order_id[:MIN_PREFIX]


@dataclass(frozen=True)
class SearchFilters:
    """What a caller asked for, validated."""

    platform: str = ""
    store: str = ""
    statuses: tuple[str, ...] = ()
    bookings: tuple[str, ...] = ()
    day_from: date | None = None
    day_to: date | None = None
    order_id_prefix: str = ""
    buyer: str = ""  # a blind index value
    limit: int = DEFAULT_LIMIT

    @property
    def index(self) -> str:
        if self.buyer:
            return BY_BUYER
        if self.order_id_prefix:
            return BY_ORDER_ID
        if self.store:
            return BY_CREATED
        if self.platform and self.statuses:
            return BY_PLATFORM_STATUS
        return BY_PLATFORM_DAY if self.platform else BY_DAY

    def created_range(self) -> tuple[str, str]:
        """The `created_sort` bounds of the day range (inclusive), open ends as extremes."""
        low = ""
        high = TOP
        if self.day_from is not None:
            start = datetime.combine(self.day_from, time(), tzinfo=SEARCH_ZONE)
            low = created_sort_key(start, "")
        if self.day_to is not None:
            end = datetime.combine(self.day_to + timedelta(days=1), time(), tzinfo=SEARCH_ZONE)
            high = created_sort_key(end, "")
        return low, high

    def fingerprint(self) -> str:
        parts = [
            self.platform,
            self.store,
            ",".join(self.statuses),
            ",".join(self.bookings),
            str(self.day_from or ""),
            str(self.day_to or ""),
            self.order_id_prefix,
            self.buyer,
        ]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _choices(text: str, allowed: Iterable[str], name: str) -> tuple[str, ...]:
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    known = list(allowed)
    for value in values:
        if value not in known:
            raise InvalidPayload(f"{name} '{value}' is not one of {', '.join(known)}")
    return values


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidPayload(f"{name} must be a day YYYY-MM-DD, got '{text[:40]}'") from None


def parse_limit(text: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if text in (None, ""):
        return default
    try:
        value = int(str(text))
    except ValueError:
        raise InvalidPayload(f"limit must be a whole number 1..{maximum}") from None
    if not 1 <= value <= maximum:
        raise InvalidPayload(f"limit must be a whole number 1..{maximum}")
    return value


def parse_filters(params: Mapping[str, str]) -> SearchFilters:
    """`GET /orders` query parameters -> filters; InvalidPayload naming the parameter."""
    known = {
        "platform",
        "store",
        "status",
        "booking",
        "from",
        "to",
        "order_id",
        "buyer",
        "limit",
        "cursor",
        "include",
    }
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidPayload(
            f"unknown query parameter '{unknown[0]}'; use {', '.join(sorted(known))}"
        )
    platform = params.get("platform", "").strip()
    store = params.get("store", "").strip()
    if "/" in store:
        platform, _, store = store.partition("/")
    if store and not platform:
        raise InvalidPayload("store needs its platform: store=<platform>/<store> or platform=")
    day_from = _day(params.get("from", ""), "from")
    day_to = _day(params.get("to", ""), "to")
    if day_from and day_to:
        if day_to < day_from:
            raise InvalidPayload("to must not be before from")
        if (day_to - day_from).days >= MAX_DAYS:
            raise InvalidPayload(f"from..to spans at most {MAX_DAYS} days")
    prefix = params.get("order_id", "").strip()
    if len(prefix) > MAX_PREFIX:
        raise InvalidPayload(f"order_id (a prefix) is at most {MAX_PREFIX} characters")
    if prefix and len(prefix) < MIN_PREFIX:
        raise InvalidPayload(f"order_id (a prefix) needs at least {MIN_PREFIX} characters")
    buyer = params.get("buyer", "").strip()
    if buyer and not valid_index(buyer):
        raise InvalidPayload("buyer must be a buyer reference (`p1:` and 64 hex digits)")
    if buyer and prefix:
        raise InvalidPayload("give either buyer or order_id, not both")
    include = params.get("include", "")
    if include and include != "amounts":
        raise InvalidPayload("include must be 'amounts'")
    return SearchFilters(
        platform=platform,
        store=store,
        statuses=_choices(params.get("status", ""), (s.value for s in PlatformStatus), "status"),
        bookings=_choices(params.get("booking", ""), (b.value for b in Booking), "booking"),
        day_from=day_from,
        day_to=day_to,
        order_id_prefix=prefix,
        buyer=buyer,
        limit=parse_limit(params.get("limit")),
    )


def parse_phone(body: Any) -> str:
    """`{"phone": "..."}` -> the normalised phone; InvalidPayload naming the field."""
    phone = body.get("phone") if isinstance(body, Mapping) else None
    if not isinstance(phone, str) or not normalise_phone(phone):
        raise InvalidPayload(
            'phone must be a phone number: {"phone": "13812345678"} (separators and +86 are fine)'
        )
    return phone


# ---- cursors -------------------------------------------------------------------------------


def encode_cursor(filters: SearchFilters, last: str) -> str:
    data = {"i": filters.index, "k": last, "f": filters.fingerprint()}
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str, filters: SearchFilters) -> str:
    """The last sort key a cursor carries; InvalidPayload when it is not one of ours or was
    made for other filters."""
    if not text:
        return ""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = json.loads(raw)
        last = data["k"]
        ok = isinstance(last, str) and data["i"] == filters.index
    except (binascii.Error, ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise InvalidPayload("cursor is not one this API gave out; start without it")
    if data["f"] != filters.fingerprint():
        raise InvalidPayload("cursor belongs to other filters; start again without it")
    return str(last)


# ---- rows and pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRow:
    """One order in a list: what the index projects (no buyer data)."""

    platform: str
    store: str
    order_id: str
    status: str
    booking: str
    placed_at: str
    updated_at: str
    amount: str
    currency: str
    reason: str
    sort_key: str  # the index's range key: where a cursor resumes

    def to_dict(self, amounts: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "platform": self.platform,
            "store": self.store,
            "order_id": self.order_id,
            "status": self.status,
            "booking": self.booking,
            "placed_at": self.placed_at,
            "updated_at": self.updated_at,
            "reason": self.reason,
        }
        if amounts:
            data["amount"] = self.amount
            data["currency"] = self.currency
        return data


@dataclass(frozen=True)
class Page:
    rows: list[OrderRow]
    next_cursor: str | None


class OrderSearch(Protocol):
    def search(
        self, filters: SearchFilters, after: str, limit: int, day: str = ""
    ) -> list[OrderRow]:
        """Up to `limit` rows after sort key `after` ("" first) in the filters' index order;
        for the `created_day` index, of that one day (`YYYY-MM-DD`)."""
        ...


def days_to_read(filters: SearchFilters, after: str, today: date) -> list[str]:
    """The `created_day` partitions a page may read, newest first: from the cursor's day (or
    `to`, or today) back to `from` (or DEFAULT_WINDOW_DAYS before `to`)."""
    newest = filters.day_to or today
    if after:
        resume = created_on(after)
        if after.endswith("#"):  # a day's start (the budget ran out): that day is done
            resume -= timedelta(days=1)
        newest = min(newest, resume)
    oldest = filters.day_from or (filters.day_to or today) - timedelta(days=DEFAULT_WINDOW_DAYS - 1)
    days = []
    day = newest
    while day >= oldest:
        days.append(day.isoformat())
        day -= timedelta(days=1)
    return days


def created_on(sort_key: str) -> date:
    """The Beijing day of a `created_sort` key."""
    moment = datetime.strptime(sort_key.split("#")[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=UTC).astimezone(SEARCH_ZONE).date()


def search_orders(filters: SearchFilters, cursor: str, today: date, reads: OrderSearch) -> Page:
    """One page of orders and the cursor to the next (None at the end)."""
    after = decode_cursor(cursor, filters)
    want = filters.limit + 1
    if filters.index not in DAY_INDEXES:
        rows = reads.search(filters, after, want)
    else:
        rows = []
        days = days_to_read(filters, after, today)
        for day in days[:DAY_BUDGET]:
            rows += reads.search(filters, after, want - len(rows), day)
            if len(rows) >= want:
                break
        else:
            if len(days) > DAY_BUDGET:
                # the budget ran out before the page filled: resume before the last day read
                last = date.fromisoformat(days[DAY_BUDGET - 1])
                start = datetime.combine(last, time(), SEARCH_ZONE)
                return Page(rows, encode_cursor(filters, created_sort_key(start, "")))
    more = len(rows) > filters.limit
    rows = rows[: filters.limit]
    return Page(rows, encode_cursor(filters, rows[-1].sort_key) if more and rows else None)


# ---- buyer lifecycle -----------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleThresholds:
    """When a buyer is repeat, VIP, dormant or lost (configuration: ORDERHUB_BUYER_LIFECYCLE)."""

    repeat_orders: int = 2
    vip_orders: int = 5
    vip_amount: Decimal = Decimal("5000")  # in any one currency, over `window_days`
    window_days: int = 365
    dormant_days: int = 90
    lost_days: int = 180

    def to_dict(self) -> dict[str, Any]:
        return {
            "repeat_orders": self.repeat_orders,
            "vip_orders": self.vip_orders,
            "vip_amount": str(self.vip_amount),
            "window_days": self.window_days,
            "dormant_days": self.dormant_days,
            "lost_days": self.lost_days,
        }


def parse_thresholds(text: str) -> LifecycleThresholds:
    """Thresholds from JSON (any subset of the fields); ValueError naming a bad field."""
    if not text:
        return LifecycleThresholds()
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("buyer lifecycle thresholds must be a JSON object")
    base = LifecycleThresholds()
    values: dict[str, Any] = {}
    for name in LifecycleThresholds.__dataclass_fields__:
        if name not in data:
            continue
        if name == "vip_amount":
            try:
                values[name] = Decimal(str(data[name]))
            except InvalidOperation:
                raise ValueError("vip_amount must be a number") from None
        elif not isinstance(data[name], int) or data[name] < 1:
            raise ValueError(f"{name} must be a whole number >= 1")
        else:
            values[name] = data[name]
    unknown = sorted(set(data) - set(LifecycleThresholds.__dataclass_fields__))
    if unknown:
        raise ValueError(f"unknown lifecycle threshold '{unknown[0]}'")
    found = LifecycleThresholds(**{**base.__dict__, **values})
    if not found.dormant_days < found.lost_days:
        raise ValueError("dormant_days must be less than lost_days")
    return found


VOID = frozenset({"cancelled", "refunded"})
NOT_BOOKED = frozenset({"rejected_out_of_stock", "rejected_invalid"})


@dataclass(frozen=True)
class Lifecycle:
    tag: str  # none | new | repeat | vip | dormant | lost
    orders: int  # orders that count (not cancelled, refunded or rejected)
    first_order_at: str | None
    last_order_at: str | None
    amounts: dict[str, str] = field(default_factory=dict)  # per currency, in the window

    def to_dict(self, amounts: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "tag": self.tag,
            "orders": self.orders,
            "first_order_at": self.first_order_at,
            "last_order_at": self.last_order_at,
        }
        if amounts:
            data["amounts"] = self.amounts
        return data


def lifecycle(
    rows: Sequence[OrderRow], now: datetime, thresholds: LifecycleThresholds
) -> Lifecycle:
    """The buyer's tag from their orders: lost or dormant by the last order's age, else VIP
    by count or spend in the window, repeat, new; `none` without an order that counts."""
    counted = [r for r in rows if r.status not in VOID and r.booking not in NOT_BOOKED]
    if not counted:
        return Lifecycle("none", 0, None, None)
    times = sorted(r.placed_at for r in counted)
    last = datetime.fromisoformat(times[-1])
    age = (now - last).days
    since = now - timedelta(days=thresholds.window_days)
    amounts: dict[str, Decimal] = {}
    in_window = 0
    for row in counted:
        if datetime.fromisoformat(row.placed_at) >= since:
            in_window += 1
            amounts[row.currency] = amounts.get(row.currency, Decimal(0)) + Decimal(row.amount)
    if age >= thresholds.lost_days:
        tag = "lost"
    elif age >= thresholds.dormant_days:
        tag = "dormant"
    elif in_window >= thresholds.vip_orders or any(
        v >= thresholds.vip_amount for v in amounts.values()
    ):
        tag = "vip"
    elif len(counted) >= thresholds.repeat_orders:
        tag = "repeat"
    else:
        tag = "new"
    return Lifecycle(
        tag,
        len(counted),
        times[0],
        times[-1],
        {currency: str(total) for currency, total in sorted(amounts.items())},
    )
