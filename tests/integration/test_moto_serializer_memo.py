"""local/moto_patch.py memoizes moto's response serializer's `get_possible_keys`: every answer
it gave while serving a mix of responses (items of every DynamoDB type, an error, SQS, KMS)
is the one moto's own method gives for the same context."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.emulator import Emulator, set_fake_aws_env
from local.moto_patch import MOTO_POSSIBLE_KEYS

ITEM = {
    "pk": {"S": "order#1"},
    "n": {"N": "12.5"},
    "b": {"B": b"\x00\x01"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b"x"]},
    "m": {"M": {"sku": {"S": "TEA"}, "qty": {"N": "2"}, "gone": {"NULL": True}}},
    "l": {"L": [{"S": "x"}, {"BOOL": False}, {"M": {"k": {"N": "1"}}}]},
    "ok": {"BOOL": True},
}


def test_memoized_possible_keys_answer_as_moto_does(monkeypatch: pytest.MonkeyPatch):
    env: dict[str, str] = {}
    set_fake_aws_env(env)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    seen: list[tuple[Any, Any, Any, list[str]]] = []
    with Emulator() as emu:  # patches moto
        for cls in MOTO_POSSIBLE_KEYS:
            memo = cls.__dict__["get_possible_keys"]
            assert memo is not MOTO_POSSIBLE_KEYS[cls]

            def recording(self: Any, context: Any, memo: Any = memo, cls: Any = cls) -> Any:
                keys = list(memo(self, context))
                seen.append((cls, self, context, keys))
                return iter(keys)

            monkeypatch.setattr(cls, "get_possible_keys", recording)

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=emu.endpoint_url, region_name="us-east-1")

        ddb = client("dynamodb")
        ddb.create_table(
            TableName="memo",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName="memo", Item=ITEM)
        for _ in range(2):  # the second time from the cache
            assert ddb.get_item(TableName="memo", Key={"pk": ITEM["pk"]})["Item"] == ITEM
        ddb.query(
            TableName="memo",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": ITEM["pk"]},
        )
        ddb.describe_table(TableName="memo")
        with pytest.raises(ClientError):
            ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": "memo",
                            "Item": ITEM,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    }
                ]
            )
        sqs = client("sqs")
        queue = sqs.create_queue(QueueName="memo")["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody="x")
        sqs.receive_message(QueueUrl=queue)
        kms = client("kms")
        kms.generate_data_key(KeyId=kms.create_key()["KeyMetadata"]["KeyId"], KeySpec="AES_256")
    assert len(seen) > 100
    for cls, moto_own in MOTO_POSSIBLE_KEYS.items():  # moto's own answers, unmemoized
        monkeypatch.setattr(cls, "get_possible_keys", moto_own)
    for cls, picker, context, keys in seen:
        assert list(MOTO_POSSIBLE_KEYS[cls](picker, context)) == keys, context.key
