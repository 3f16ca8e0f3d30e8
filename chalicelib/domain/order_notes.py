"""What people add to an order and to the monthly review: notes, pick lists printed, and the
review's root cause and action per anomaly type. Pure Python.

- **Notes** (`POST /orders/{platform}/{store}/{order_id}/notes`): customer service and ops
  write what they did or learnt ("buyer called, parcel stuck in Guangzhou"); each keeps its
  author (the API key's owner and role), its time and its text, scrubbed of personal data
  first (`domain/scrub.py`), so the timeline can be shown to anyone who may read it.
- **Pick lists** (`POST /wms/pick-lists`): the WMS says a pick list naming these orders was
  printed. The first print of an order is what `paid_not_picked` waits for (the seed's
  订单创建超过6小时未打印拣货单); reprints are recorded too (each list once, by its id).
- **Review notes** (`POST /reports/monthly-review/{month}/notes`): for a month's review, one
  root cause and one action per anomaly type (rule); writing again replaces it. The next
  month's review report shows them beside the new numbers.

The records live in the order-activity table (adapters/order_activity.py) under the order's
key, so the timeline reads them with one Query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from chalicelib.domain.anomaly_rules import RULES
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.model import order_key
from chalicelib.domain.scrub import scrub_personal_data
from chalicelib.domain.timeutil import parse_aware

MAX_NOTE_CHARS = 2000
MAX_REVIEW_CHARS = 1000
MAX_PICK_ORDERS = 100
_ID = re.compile(r"^[A-Za-z0-9._:#/-]{1,128}$")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
NOTE_ROLES = ("cs", "ops", "admin")


@dataclass(frozen=True)
class OrderNote:
    order_key: str
    note_id: str
    at: datetime
    author: str
    role: str
    text: str  # scrubbed

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_key": self.order_key,
            "note_id": self.note_id,
            "at": self.at.astimezone(UTC).isoformat(),
            "author": self.author,
            "role": self.role,
            "text": self.text,
        }


@dataclass(frozen=True)
class PickList:
    pick_list_id: str
    printed_at: datetime
    order_keys: tuple[str, ...]
    warehouse: str = ""


@dataclass(frozen=True)
class ReviewNote:
    month: str  # YYYY-MM: the month the review covered
    rule: str
    root_cause: str
    action: str
    author: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "rule": self.rule,
            "root_cause": self.root_cause,
            "action": self.action,
            "author": self.author,
            "at": self.at.astimezone(UTC).isoformat(),
        }


class OrderActivity(Protocol):
    """Where notes, pick lists and review notes live (adapters/order_activity.py)."""

    def add_note(self, note: OrderNote) -> bool:
        """False when a note with this id is recorded already (a repeat)."""
        ...

    def record_pick(self, pick: PickList, order_key: str) -> bool:
        """False when this pick list is recorded for this order already."""
        ...

    def picked(self, order_keys: Sequence[str]) -> set[str]:
        """The orders, among these, with at least one pick list printed."""
        ...

    def entries(self, order_key: str, limit: int = 200) -> list[Mapping[str, Any]]:
        """The order's notes and pick lists, oldest first."""
        ...

    def save_review_note(self, note: ReviewNote) -> None: ...

    def review_notes(self, month: str) -> list[ReviewNote]: ...


def _text(body: Mapping[str, Any], key: str, limit: int, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{key} is required: non-empty text")
    if len(value) > limit:
        raise InvalidPayload(f"{key} must be at most {limit} characters, got {len(value)}")
    return value.strip()


def _id(body: Mapping[str, Any], key: str, path: str = "") -> str:
    value = body.get(key)
    name = f"{path}{key}"
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidPayload(f"{name} is required: 1-128 characters of A-Z a-z 0-9 . _ : # / -")
    return value


def parse_note(
    body: Any, key: str, author: str, role: str, now: datetime, new_id: str
) -> OrderNote:
    """`{"text": "...", "note_id"?: "..."}`: the note, its text scrubbed. A `note_id` sent
    by the caller makes a retry record nothing twice; without one, `new_id` is used."""
    if not isinstance(body, Mapping):
        raise InvalidPayload('body must be a JSON object: {"text": "..."}')
    text = scrub_personal_data(_text(body, "text", MAX_NOTE_CHARS))
    note_id = _id(body, "note_id") if body.get("note_id") is not None else new_id
    return OrderNote(key, note_id, now, author, role, text)


def parse_pick_list(body: Any, now: datetime) -> PickList:
    """`{"pick_list_id", "printed_at"?, "warehouse"?, "orders": [{platform, store,
    order_id}]}`; `printed_at` (ISO 8601 with offset) defaults to the receipt time."""
    if not isinstance(body, Mapping):
        raise InvalidPayload("body must be a JSON object")
    pick_id = _id(body, "pick_list_id")
    printed_raw = body.get("printed_at")
    printed = now
    if printed_raw is not None:
        if not isinstance(printed_raw, str):
            raise InvalidPayload("printed_at must be an ISO 8601 time with an offset")
        try:
            printed = parse_aware(printed_raw)
        except ValueError as exc:
            raise InvalidPayload(f"printed_at: {exc}") from None
        if (printed - now).total_seconds() > 300:
            raise InvalidPayload("printed_at is more than 5 minutes in the future")
    warehouse = body.get("warehouse") or ""
    if not isinstance(warehouse, str) or len(warehouse) > 64:
        raise InvalidPayload("warehouse must be text of at most 64 characters")
    orders = body.get("orders")
    if not isinstance(orders, list) or not orders:
        raise InvalidPayload("orders must list at least one order")
    if len(orders) > MAX_PICK_ORDERS:
        raise InvalidPayload(f"orders lists {len(orders)}; at most {MAX_PICK_ORDERS} per request")
    keys = []
    for i, raw in enumerate(orders):
        if not isinstance(raw, Mapping):
            raise InvalidPayload(f"orders[{i}] must be an object")
        path = f"orders[{i}]."
        keys.append(
            order_key(
                _id(raw, "platform", path), _id(raw, "store", path), _id(raw, "order_id", path)
            )
        )
    return PickList(pick_id, printed, tuple(dict.fromkeys(keys)), warehouse)


def parse_month(text: str) -> str:
    if not isinstance(text, str) or not _MONTH.match(text):
        raise InvalidPayload("month must be YYYY-MM")
    return text


def parse_review_note(body: Any, month: str, author: str, now: datetime) -> ReviewNote:
    """`{"rule": "<anomaly type>", "root_cause": "...", "action": "..."}`, texts scrubbed."""
    if not isinstance(body, Mapping):
        raise InvalidPayload('body must be a JSON object: {"rule", "root_cause", "action"}')
    rule = body.get("rule")
    if not isinstance(rule, str) or rule not in RULES:
        raise InvalidPayload("rule must name an anomaly type: " + ", ".join(RULES))
    return ReviewNote(
        parse_month(month),
        rule,
        scrub_personal_data(_text(body, "root_cause", MAX_REVIEW_CHARS)),
        scrub_personal_data(_text(body, "action", MAX_REVIEW_CHARS)),
        author,
        now,
    )


def previous_month_label(first: date) -> str:
    """The YYYY-MM before the month starting at `first`."""
    year, month = (first.year, first.month - 1) if first.month > 1 else (first.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def review_note_lines(notes: Iterable[ReviewNote]) -> list[str]:
    """The report's lines for the previous month's root causes and actions."""
    found = sorted(notes, key=lambda n: n.rule)
    if not found:
        return []
    lines = [f"Root causes and actions recorded for {found[0].month}:"]
    lines += [f"- {n.rule}: cause: {n.root_cause}; action: {n.action} ({n.author})" for n in found]
    return lines


def without_picked(subjects: Iterable[str], picked: set[str]) -> list[str]:
    return [s for s in subjects if s not in picked]
