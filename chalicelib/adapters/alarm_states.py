"""Alarm states and SMS budgets in `orderhub-ops-stats` (hash `pk`, range `sk`, TTL
`expires_at`), through the low-level DynamoDB client:

- `ALARM` / alarm name: the last announced state (`state`, `changed_at`, JSON `data`); every
  write is conditioned on the state read, so two deliveries of one alarm message cannot both
  announce it (`DynamoAlarmStates`, the `AlarmStates` port of chalicelib/domain/alarms.py);
- `SMSBUDGET#channel` / window start: a counter `ADD`ed per text, conditioned on staying
  within the channel's limit (`DynamoSmsBudget`), so every function shares one budget; kept a
  day past its window.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.domain.alarms import AlarmState

ALARM_PK = "ALARM"
SMS_PK = "SMSBUDGET#"
_CONDITION_FAILED = "ConditionalCheckFailedException"


def _failed_condition(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code == _CONDITION_FAILED


class DynamoAlarmStates:
    def __init__(self, client: Callable[[], Any], table: str) -> None:
        self._client = client
        self._table = table

    def _item(self, state: AlarmState) -> dict[str, Any]:
        return {
            "pk": {"S": ALARM_PK},
            "sk": {"S": state.name},
            "state": {"S": state.state},
            "changed_at": {"S": state.changed_at.isoformat()},
            "data": {"S": json.dumps(state.to_dict(), ensure_ascii=False)},
        }

    def get(self, name: str) -> AlarmState | None:
        item = (
            self._client()
            .get_item(
                TableName=self._table,
                Key={"pk": {"S": ALARM_PK}, "sk": {"S": name}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        return AlarmState.from_dict(json.loads(item["data"]["S"])) if item else None

    def replace(self, new: AlarmState, expected: AlarmState | None) -> bool:
        args: dict[str, Any] = {"TableName": self._table, "Item": self._item(new)}
        if expected is None:
            args["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            args["ConditionExpression"] = "#s = :state AND changed_at = :at"
            args["ExpressionAttributeNames"] = {"#s": "state"}
            args["ExpressionAttributeValues"] = {
                ":state": {"S": expected.state},
                ":at": {"S": expected.changed_at.isoformat()},
            }
        try:
            self._client().put_item(**args)
        except Exception as exc:
            if _failed_condition(exc):
                return False
            raise
        return True

    def undo(self, new: AlarmState, previous: AlarmState | None) -> None:
        condition = {
            "ConditionExpression": "#s = :state AND changed_at = :at",
            "ExpressionAttributeNames": {"#s": "state"},
            "ExpressionAttributeValues": {
                ":state": {"S": new.state},
                ":at": {"S": new.changed_at.isoformat()},
            },
        }
        try:
            if previous is None:
                self._client().delete_item(
                    TableName=self._table,
                    Key={"pk": {"S": ALARM_PK}, "sk": {"S": new.name}},
                    **condition,
                )
            else:
                self._client().put_item(
                    TableName=self._table, Item=self._item(previous), **condition
                )
        except Exception as exc:
            if not _failed_condition(exc):  # a newer change won meanwhile: leave it
                raise

    def all(self) -> list[AlarmState]:
        found: list[AlarmState] = []
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": ALARM_PK}},
        }
        while True:
            page = self._client().query(**args)
            found += [AlarmState.from_dict(json.loads(i["data"]["S"])) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return found
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoSmsBudget:
    """The `SmsBudget` of chalicelib/adapters/notify.py, shared through DynamoDB."""

    def __init__(self, client: Callable[[], Any], table: str) -> None:
        self._client = client
        self._table = table

    def take(self, channel: str, window: str, limit: int, expires: datetime) -> int | None:
        try:
            answer = self._client().update_item(
                TableName=self._table,
                Key={"pk": {"S": SMS_PK + channel}, "sk": {"S": window}},
                UpdateExpression="ADD texts :one SET expires_at = :exp",
                ConditionExpression="attribute_not_exists(texts) OR texts < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":exp": {"N": str(int(expires.timestamp()))},
                },
                ReturnValues="UPDATED_NEW",
            )
        except Exception as exc:
            if _failed_condition(exc):
                return None
            raise
        return int(answer["Attributes"]["texts"]["N"])
