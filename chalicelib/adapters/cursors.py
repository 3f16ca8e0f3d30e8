"""The pull pollers' cursors in DynamoDB (`orderhub-poll-cursors`, hash key `cursor_id` =
`platform#store`), implementing `polling.CursorStore`.

Each write is conditioned on the version read (`attribute_not_exists` for the first), so of
two runs that read the same cursor only one can advance it; the other gets CursorConflict.
Like the other tables, the model class is built at run time for a table name (no
environment is read on import).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.polling import Cursor, CursorConflict


def build_cursor_model(table_name: str, region: str, endpoint_url: str | None = None) -> Any:
    table, aws_region, endpoint = table_name, region, endpoint_url

    class PollCursorItem(Model):
        class Meta:
            table_name = table
            region = aws_region
            host = endpoint

        cursor_id = UnicodeAttribute(hash_key=True)
        position = UnicodeAttribute()  # ISO-8601 UTC: every update before it is queued
        version = NumberAttribute()
        updated_at = UnicodeAttribute()

    return PollCursorItem


class DynamoCursorStore:
    def __init__(self, model: Any) -> None:
        self._model = model

    def load(self, cursor_id: str) -> Cursor | None:
        try:
            item = self._model.get(cursor_id, consistent_read=True)
        except self._model.DoesNotExist:
            return None
        position = datetime.fromisoformat(item.position).astimezone(UTC)
        return Cursor(cursor_id, position, int(item.version))

    def advance(self, cursor: Cursor, position: datetime, now: datetime) -> Cursor:
        m = self._model
        condition = m.version == cursor.version if cursor.version else m.cursor_id.does_not_exist()
        version = cursor.version + 1
        item = m(
            cursor.cursor_id,
            position=position.astimezone(UTC).isoformat(),
            version=version,
            updated_at=now.astimezone(UTC).isoformat(),
        )
        try:
            item.save(condition=condition)
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise CursorConflict(
                    f"cursor {cursor.cursor_id} moved since version {cursor.version} was read "
                    "(another run advanced it): this run stops, the next starts from there"
                ) from None
            raise TransientFailure(
                f"cursor {cursor.cursor_id} not stored: {exc.cause_response_code}"
            ) from None
        return Cursor(cursor.cursor_id, position, version)
