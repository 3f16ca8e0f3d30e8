"""Notes, pick lists and monthly-review notes in DynamoDB (`orderhub-order-activity`).

Hash `subject` (an order key `platform#store#order_id`, or `review#YYYY-MM` for a month's
review notes), range `entry`:
- `note#<note id>`: a note (author, role, text scrubbed); written once
  (`attribute_not_exists`), so a retried note with the same id records nothing;
- `pick#<pick list id>`: a pick list that named the order; written once per list;
- `picked`: the order's first pick list (its id and time), `if_not_exists`, so the anomaly
  scan asks "picked at all?" with one BatchGetItem for all its candidates;
- `rule#<rule>` under `review#YYYY-MM`: that month's root cause and action for one anomaly
  type, replaced when written again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.domain.anomalies import time_key
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.order_notes import OrderNote, PickList, ReviewNote

CONDITION_FAILED = "ConditionalCheckFailedException"
BATCH = 100


def build_activity_model(table_name: str, region: str, endpoint_url: str | None = None) -> Any:
    table, aws_region, endpoint = table_name, region, endpoint_url

    class OrderActivityItem(Model):
        class Meta:
            table_name = table
            region = aws_region
            host = endpoint

        subject = UnicodeAttribute(hash_key=True)
        entry = UnicodeAttribute(range_key=True)
        kind = UnicodeAttribute()
        at = UnicodeAttribute()  # time_key
        author = UnicodeAttribute(null=True)
        role = UnicodeAttribute(null=True)
        text = UnicodeAttribute(null=True)
        note_id = UnicodeAttribute(null=True)
        pick_list_id = UnicodeAttribute(null=True)
        warehouse = UnicodeAttribute(null=True)
        rule = UnicodeAttribute(null=True)
        root_cause = UnicodeAttribute(null=True)
        action = UnicodeAttribute(null=True)

    return OrderActivityItem


def _iso(key: str) -> str:
    return datetime.strptime(key, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).isoformat()


class DynamoOrderActivity:
    """`order_notes.OrderActivity` on `orderhub-order-activity`."""

    def __init__(self, model: Any) -> None:
        self._m = model

    def _put_once(self, item: Any) -> bool:
        try:
            item.save(condition=self._m.entry.does_not_exist())
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == CONDITION_FAILED:
                return False
            raise TransientFailure(f"order activity write failed: {exc}") from exc
        return True

    def add_note(self, note: OrderNote) -> bool:
        at = time_key(note.at)
        return self._put_once(
            self._m(
                note.order_key,
                f"note#{note.note_id}",
                kind="note",
                at=at,
                author=note.author,
                role=note.role,
                text=note.text,
                note_id=note.note_id,
            )
        )

    def record_pick(self, pick: PickList, order_key: str) -> bool:
        at = time_key(pick.printed_at)
        fresh = self._put_once(
            self._m(
                order_key,
                f"pick#{pick.pick_list_id}",
                kind="pick_list",
                at=at,
                pick_list_id=pick.pick_list_id,
                warehouse=pick.warehouse or None,
            )
        )
        if fresh:
            self._put_once(
                self._m(order_key, "picked", kind="picked", at=at, pick_list_id=pick.pick_list_id)
            )
        return fresh

    def picked(self, order_keys: Sequence[str]) -> set[str]:
        keys = list(dict.fromkeys(order_keys))
        found: set[str] = set()
        for start in range(0, len(keys), BATCH):
            part = [(k, "picked") for k in keys[start : start + BATCH]]
            found |= {item.subject for item in self._m.batch_get(part)}
        return found

    def entries(self, order_key: str, limit: int = 200) -> list[Mapping[str, Any]]:
        rows = []
        for item in self._m.query(order_key, limit=limit):
            if item.kind not in ("note", "pick_list"):
                continue
            row = {"kind": item.kind, "at": _iso(item.at)}
            for name in ("author", "role", "text", "note_id", "pick_list_id", "warehouse"):
                value = getattr(item, name)
                if value is not None:
                    row[name] = value
            rows.append(row)
        return sorted(rows, key=lambda r: r["at"])

    def save_review_note(self, note: ReviewNote) -> None:
        self._m(
            f"review#{note.month}",
            f"rule#{note.rule}",
            kind="review_note",
            at=time_key(note.at),
            author=note.author,
            rule=note.rule,
            root_cause=note.root_cause,
            action=note.action,
        ).save()

    def review_notes(self, month: str) -> list[ReviewNote]:
        return [
            ReviewNote(
                month,
                item.rule or "",
                item.root_cause or "",
                item.action or "",
                item.author or "",
                datetime.fromisoformat(_iso(item.at)),
            )
            for item in self._m.query(f"review#{month}", self._m.entry.startswith("rule#"))
        ]
