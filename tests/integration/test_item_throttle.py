"""The emulator's per-item write limit (local/item_throttle.py) answers as DynamoDB does: a
single write past it ProvisionedThroughputExceededException, a transaction a cancellation with
reason ThrottlingError at the throttled item; other items and, after a second, the same item
write again; off (rate 0) nothing is limited."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local import item_throttle
from local.item_throttle import ItemWriteLimiter

TABLE = "throttle-test"


@pytest.fixture
def ddb(aws: boto3.session.Session) -> Iterator[object]:
    item_throttle.install()
    client = aws.client(
        "dynamodb", config=Config(retries={"total_max_attempts": 1, "mode": "standard"})
    )
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    yield client
    item_throttle.configure(0)


def add(pk: str) -> dict:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": pk}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    }


def test_single_writes_past_the_rate_are_throttled_like_dynamodb(ddb):
    item_throttle.configure(2, clock=lambda: 100.0)  # time stands still: no refill
    for _ in range(2):
        ddb.update_item(**add("hot")["Update"])
    with pytest.raises(ClientError) as raised:
        ddb.update_item(**add("hot")["Update"])
    error = raised.value.response
    assert error["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert error["ThrottlingReasons"][0]["reason"] == "TableWriteKeyRangeThroughputExceeded"
    ddb.update_item(**add("cold")["Update"])  # another item has its own budget
    value = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "hot"}})["Item"]["n"]["N"]
    assert value == "2"


def test_a_transaction_touching_a_throttled_item_is_cancelled_whole(ddb):
    item_throttle.configure(1, clock=lambda: 100.0)
    ddb.transact_write_items(TransactItems=[add("a"), add("hot")])
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[add("b"), add("hot")])
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "ThrottlingError"]
    assert "Item" not in ddb.get_item(TableName=TABLE, Key={"pk": {"S": "b"}})  # nothing applied


def test_off_by_default_nothing_is_limited(ddb):
    item_throttle.configure(0)
    for _ in range(20):
        ddb.update_item(**add("hot")["Update"])


def test_buckets_refill_at_the_rate():
    now = [0.0]
    limiter = ItemWriteLimiter(2, clock=lambda: now[0])
    assert limiter.admit([("t", "k")]) is None
    assert limiter.admit([("t", "k")]) is None
    assert limiter.admit([("t", "k")]) == 0
    assert limiter.admit([("t", "j"), ("t", "k")]) == 1  # all or none: j keeps its token
    now[0] = 0.5
    assert limiter.admit([("t", "j"), ("t", "k")]) is None
    assert limiter.throttled == 2
