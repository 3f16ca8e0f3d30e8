"""The incremental ledger audit's reads and checkpoints (domain/ledger_audit.LedgerSource).

Records since a checkpoint come from the events table's sparse `ledger_day` index: for each
Beijing day, its `N` write-sharded hash values (`day#k`), each a Query on the processing time
range; never a Scan, except the first run's full read (no checkpoint yet).

Checkpoints live in the ops-stats table (hash `pk`, range `sk`, TTL `expires_at`):
- `LEDGER#<through>#<save id>` / `0000`, `0001`, ...: the balances in chunks of `CHUNK` stock items
  (JSON `{"sku\\twarehouse": [on_hand, locked, reserved, available]}`, ~50 KB a chunk, under
  DynamoDB's 400 KB item limit), kept `KEPT` days;
- `LEDGER` / `latest`: which checkpoint is the last (its `through`, its chunks' key, unsettled
  keys), written after its chunks, so a run that dies halfway leaves the previous one in force
  (each save writes its chunks under a new key: a rerun never overwrites the chunks in force).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.adapters.dynamo import _record_view
from chalicelib.adapters.dynamo_models import Models
from chalicelib.domain.index_shards import shard_values
from chalicelib.domain.ledger_audit import BUCKETS, Checkpoint, day_bounds, days_between

LATEST_PK, LATEST_SK, CHUNK_PREFIX = "LEDGER", "latest", "LEDGER#"
CHUNK = 1000
KEPT = timedelta(days=35)


class DynamoLedgerSource:
    def __init__(self, models: Models, client: Callable[[], Any], ops_stats_table: str) -> None:
        self._m = models
        self._client = client  # lazily: no client until a checkpoint is read or written
        self._table = ops_stats_table

    def latest_checkpoint(self) -> Checkpoint | None:
        found = self._client().get_item(
            TableName=self._table,
            Key={"pk": {"S": LATEST_PK}, "sk": {"S": LATEST_SK}},
            ConsistentRead=True,
        )
        item = found.get("Item")
        if not item:
            return None
        through = item["through"]["S"]
        balances: dict[tuple[str, str], dict[str, int]] = {}
        for chunk in self._chunks(item["chunks_key"]["S"]):
            for key, values in json.loads(chunk["balances"]["S"]).items():
                sku, _, warehouse = key.partition("\t")
                balances[(sku, warehouse)] = dict(zip(BUCKETS, values, strict=True))
        return Checkpoint(
            datetime.fromisoformat(through),
            balances,
            tuple(json.loads(item["unsettled"]["S"])),
            int(item["records"]["N"]),
        )

    def _chunks(self, key: str) -> Iterator[Mapping[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {"ExclusiveStartKey": start} if start else {}
            page = self._client().query(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": key}},
                ConsistentRead=True,
                **kwargs,
            )
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return

    def save_checkpoint(self, checkpoint: Checkpoint) -> None:
        through = checkpoint.through.isoformat()
        chunks_key = f"{CHUNK_PREFIX}{through}#{uuid.uuid4().hex[:12]}"
        expires = str(int((checkpoint.through + KEPT).timestamp()))
        keys = sorted(checkpoint.balances)
        chunks = [keys[i : i + CHUNK] for i in range(0, len(keys), CHUNK)] or [[]]
        for index, chunk in enumerate(chunks):
            data = {
                f"{sku}\t{wh}": [int(checkpoint.balances[(sku, wh)].get(b, 0)) for b in BUCKETS]
                for sku, wh in chunk
            }
            self._client().put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": chunks_key},
                    "sk": {"S": f"{index:04d}"},
                    "balances": {"S": json.dumps(data, separators=(",", ":"))},
                    "expires_at": {"N": expires},
                },
            )
        self._client().put_item(  # last: the chunks above are complete before it points there
            TableName=self._table,
            Item={
                "pk": {"S": LATEST_PK},
                "sk": {"S": LATEST_SK},
                "through": {"S": through},
                "chunks_key": {"S": chunks_key},
                "chunks": {"N": str(len(chunks))},
                "unsettled": {"S": json.dumps(list(checkpoint.unsettled))},
                "records": {"N": str(checkpoint.records)},
            },
        )

    def records_between(self, start: datetime, end: datetime) -> Iterable[Mapping[str, Any]]:
        events = self._m.events
        for day in days_between(start, end):
            day_start, day_end = day_bounds(day)
            low, high = max(start, day_start), min(end, day_end)
            if low >= high:
                continue
            for value in shard_values(day, self._m.shards):
                items = events.by_ledger_day.query(value, events.processed_at.between(low, high))
                for item in items:
                    if item.processed_at < high:  # `between` includes its upper bound
                        yield _index_view(item)

    def all_records(self) -> Iterable[Mapping[str, Any]]:
        items = self._m.events.scan()
        for item in items:
            yield _record_view(item)

    def get_record(self, event_key: str) -> Mapping[str, Any] | None:
        try:
            return _record_view(self._m.events.get(event_key, consistent_read=True))
        except self._m.events.DoesNotExist:
            return None


def _index_view(item: Any) -> dict[str, Any]:
    return {
        "event_key": item.event_key,
        "outcome": item.outcome,
        "processed_at": item.processed_at.isoformat(),
        "movements": json.loads(item.movements or "[]"),
    }
