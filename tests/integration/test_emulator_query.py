"""The emulator's faster Query (local/emulator.py: candidates narrowed by key condition,
plain-value sorting) answers exactly as moto's own: the same items, order and
LastEvaluatedKey for table and index Queries, forward and backward, with paging."""

from __future__ import annotations

import random

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models.table import Table

from local import emulator

QUERIES = [
    {"IndexName": "by_group", "KeyConditionExpression": "g = :g", "Values": {":g": {"S": "g3"}}},
    {
        "IndexName": "by_group",
        "KeyConditionExpression": "g = :g AND r BETWEEN :a AND :b",
        "Values": {":g": {"S": "g1"}, ":a": {"S": "r00100"}, ":b": {"S": "r00400"}},
    },
    {
        "IndexName": "by_group",
        "KeyConditionExpression": "g = :g AND begins_with(r, :p)",
        "Values": {":g": {"S": "g2"}, ":p": {"S": "r002"}},
    },
    {
        "IndexName": "by_number",
        "KeyConditionExpression": "g = :g AND n > :n",
        "Values": {":g": {"S": "g0"}, ":n": {"N": "90"}},
    },
    {"KeyConditionExpression": "k = :k", "Values": {":k": {"S": "k7"}}},
    {
        "KeyConditionExpression": "k = :k AND s <= :s",
        "Values": {":k": {"S": "k3"}, ":s": {"S": "s5"}},
    },
]


def answers(client) -> list:
    found = []
    for q in QUERIES:
        for forward in (True, False):
            start = None
            for _ in range(50):  # pages of 7
                args = {
                    "TableName": "equivalence",
                    "KeyConditionExpression": q["KeyConditionExpression"],
                    "ExpressionAttributeValues": q["Values"],
                    "ScanIndexForward": forward,
                    "Limit": 7,
                }
                if "IndexName" in q:
                    args["IndexName"] = q["IndexName"]
                if start:
                    args["ExclusiveStartKey"] = start
                page = client.query(**args)
                found.append((page["Items"], page.get("LastEvaluatedKey")))
                start = page.get("LastEvaluatedKey")
                if not start:
                    break
    return found


@pytest.fixture
def client(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="equivalence",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": n, "AttributeType": t}
                for n, t in (("k", "S"), ("s", "S"), ("g", "S"), ("r", "S"), ("n", "N"))
            ],
            KeySchema=[
                {"AttributeName": "k", "KeyType": "HASH"},
                {"AttributeName": "s", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_group",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "r", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    "IndexName": "by_number",
                    "KeySchema": [
                        {"AttributeName": "g", "KeyType": "HASH"},
                        {"AttributeName": "n", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
        )
        rng = random.Random(5)
        for n in range(600):
            item = {
                "k": {"S": f"k{n % 10}"},
                "s": {"S": f"s{n}"},
                "g": {"S": f"g{rng.randrange(4)}"},
                "r": {"S": f"r{rng.randrange(500):05d}"},  # ties too
                "n": {"N": str(rng.randrange(-50, 120))},
            }
            ddb.put_item(TableName="equivalence", Item=item)
        yield ddb


def test_the_narrowed_query_answers_as_moto_does(client, monkeypatch):
    emulator.patch_moto()
    narrowed = answers(client)
    monkeypatch.setattr(Table, "query", emulator.MOTO_QUERY)
    monkeypatch.setattr(Table, "sorted_items", emulator.MOTO_SORTED_ITEMS)
    assert answers(client) == narrowed
    assert sum(len(items) for items, _ in narrowed) > 600
