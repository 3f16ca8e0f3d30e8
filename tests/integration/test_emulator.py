"""Integration tests for local.emulator: serialization, item-level tx rollback, counting.

No timing assertions here on purpose: speed lives in bench/emulator_tx.py.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from local.emulator import (
    Emulator,
    classify_request,
    is_moto_patched,
    patch_moto,
    set_fake_aws_env,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account for the fake credentials
AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


def _http(url: str, method: str = "GET") -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A fresh emulator on a free port, with fake credentials in the environment."""
    env: dict[str, str] = {}
    set_fake_aws_env(env, REGION)
    for name in AWS_VARS:
        if name in env:
            monkeypatch.setenv(name, env[name])
        else:
            monkeypatch.delenv(name, raising=False)
    with Emulator() as emu:
        # moto's backends are process-global: start and end every test from an empty account.
        _http(f"{emu.endpoint_url}/moto-api/reset", "POST")
        yield emu
        _http(f"{emu.endpoint_url}/moto-api/reset", "POST")


def _ddb(emu: Emulator) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=emu.endpoint_url,
        region_name=REGION,
        config=Config(max_pool_connections=16, retries={"max_attempts": 1}),
    )


def _create_table(ddb: Any, name: str, range_key: str | None = None, **extra: Any) -> None:
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        attrs.append({"AttributeName": range_key, "AttributeType": "S"})
    ddb.create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attrs,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def _scan(ddb: Any, table: str) -> list[dict[str, Any]]:
    return list(ddb.scan(TableName=table)["Items"])


def _backend() -> DynamoDBBackend:
    return dynamodb_backends[ACCOUNT][REGION]


def _cancel_codes(err: ClientError) -> list[str]:
    return [r["Code"] for r in err.response["CancellationReasons"]]


# --------------------------------------------------------------------------- environment


def test_set_fake_aws_env_overwrites_and_drops_real_account_settings() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIAREAL", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "t"}
    set_fake_aws_env(env, "eu-west-1")
    assert env == {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_REGION": "eu-west-1",
    }


# --------------------------------------------------------------------------- concurrency


@pytest.fixture
def eager_thread_switching() -> Iterator[None]:
    """Switch threads far more often than the 5 ms default so races show up reliably.

    Without the emulator's lock, moto oversells in nearly every run at this setting,
    but only rarely at the default (the race window is a few bytecodes wide).
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def _decrement(ddb: Any, start: threading.Barrier, attempts: int) -> int:
    """Try ``attempts`` conditional decrements; return how many succeeded."""
    start.wait()  # all workers begin together to maximize contention
    successes = 0
    for _ in range(attempts):
        try:
            ddb.update_item(
                TableName="stock",
                Key={"pk": {"S": "sku"}},
                UpdateExpression="SET stock = stock - :one",
                ConditionExpression="stock >= :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
        else:
            successes += 1
    return successes


@pytest.mark.usefixtures("eager_thread_switching")
def test_concurrent_conditional_decrements_never_oversell(emulator: Emulator) -> None:
    ddb = _ddb(emulator)  # boto3 clients are thread-safe; one shared pool of connections
    _create_table(ddb, "stock")
    threads, attempts = 8, 40
    with ThreadPoolExecutor(threads) as pool:
        for _run in range(3):
            ddb.put_item(TableName="stock", Item={"pk": {"S": "sku"}, "stock": {"N": "100"}})
            start = threading.Barrier(threads)
            futures = [pool.submit(_decrement, ddb, start, attempts) for _ in range(threads)]
            successes = sum(f.result() for f in futures)
            item = ddb.get_item(TableName="stock", Key={"pk": {"S": "sku"}})["Item"]
            assert successes == 100
            assert item["stock"] == {"N": "0"}


# --------------------------------------------------------------------------- transactions


@pytest.fixture
def tx_tables(emulator: Emulator) -> Any:
    ddb = _ddb(emulator)
    for name in ("A", "B", "C"):
        _create_table(ddb, name)
    ddb.put_item(TableName="B", Item={"pk": {"S": "existing"}, "v": {"S": "old"}})
    ddb.put_item(TableName="C", Item={"pk": {"S": "sku"}, "stock": {"N": "5"}})
    return ddb


def _three_items(order: str, b_key: str, need: str) -> list[dict[str, Any]]:
    return [
        {
            "Put": {
                "TableName": "A",
                "Item": {"pk": {"S": order}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {"Put": {"TableName": "B", "Item": {"pk": {"S": b_key}, "v": {"S": "new"}}}},
        {
            "Update": {
                "TableName": "C",
                "Key": {"pk": {"S": "sku"}},
                "UpdateExpression": "SET stock = stock - :one",
                "ConditionExpression": "stock >= :need",
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":need": {"N": need}},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        },
    ]


def test_transaction_commits_all_items(tx_tables: Any) -> None:
    ddb = tx_tables
    ddb.transact_write_items(TransactItems=_three_items("o1", "o1", "1"))
    assert ddb.get_item(TableName="A", Key={"pk": {"S": "o1"}})["Item"] == {"pk": {"S": "o1"}}
    assert ddb.get_item(TableName="B", Key={"pk": {"S": "o1"}})["Item"]["v"] == {"S": "new"}
    assert ddb.get_item(TableName="C", Key={"pk": {"S": "sku"}})["Item"]["stock"] == {"N": "4"}


def test_cancelled_transaction_leaves_no_trace(tx_tables: Any) -> None:
    ddb = tx_tables
    before = {name: _scan(ddb, name) for name in ("A", "B", "C")}
    table_b = _backend().tables["B"]

    with pytest.raises(ClientError) as info:
        # Put into A and overwrite B/existing succeed, then C's condition fails.
        ddb.transact_write_items(TransactItems=_three_items("o2", "existing", "1000"))

    err = info.value
    assert err.response["Error"]["Code"] == "TransactionCanceledException"
    assert _cancel_codes(err) == ["None", "None", "ConditionalCheckFailed"]
    # ReturnValuesOnConditionCheckFailure=ALL_OLD still reports the failing item.
    assert err.response["CancellationReasons"][2]["Item"]["stock"] == {"N": "5"}
    assert "Item" not in ddb.get_item(TableName="A", Key={"pk": {"S": "o2"}})
    assert ddb.get_item(TableName="B", Key={"pk": {"S": "existing"}})["Item"]["v"] == {"S": "old"}
    assert {name: _scan(ddb, name) for name in ("A", "B", "C")} == before
    # The patch rolled back in place: moto alone would have swapped in a deep copy.
    assert _backend().tables["B"] is table_b


def test_cancellation_reasons_follow_item_order(tx_tables: Any) -> None:
    ddb = tx_tables
    items = _three_items("o3", "x", "1")
    items[0]["Put"]["Item"] = {"pk": {"S": "o3"}}
    ddb.put_item(TableName="A", Item={"pk": {"S": "o3"}})  # first item's condition now fails
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=items)
    assert _cancel_codes(info.value) == ["ConditionalCheckFailed", "None", "None"]
    assert "Item" not in ddb.get_item(TableName="B", Key={"pk": {"S": "x"}})
    assert ddb.get_item(TableName="C", Key={"pk": {"S": "sku"}})["Item"]["stock"] == {"N": "5"}


def test_duplicate_key_in_transaction_is_a_validation_error(tx_tables: Any) -> None:
    ddb = tx_tables
    items = _three_items("o4", "o4", "1")
    items.append({"Delete": {"TableName": "B", "Key": {"pk": {"S": "o4"}}}})
    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(TransactItems=items)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert "multiple operations on one item" in info.value.response["Error"]["Message"]
    # The first three operations had already been applied; they are rolled back.
    assert "Item" not in ddb.get_item(TableName="A", Key={"pk": {"S": "o4"}})
    assert "Item" not in ddb.get_item(TableName="B", Key={"pk": {"S": "o4"}})
    assert ddb.get_item(TableName="C", Key={"pk": {"S": "sku"}})["Item"]["stock"] == {"N": "5"}


def test_cancelled_transaction_on_hash_range_table_restores_items_and_order(
    emulator: Emulator,
) -> None:
    ddb = _ddb(emulator)
    _create_table(ddb, "R", range_key="sk")
    for pk, sk in [("p1", "a"), ("p1", "b"), ("p1", "c"), ("p2", "a"), ("p3", "a")]:
        ddb.put_item(TableName="R", Item={"pk": {"S": pk}, "sk": {"S": sk}, "n": {"N": "1"}})
    before = _scan(ddb, "R")
    buckets_before = list(_backend().tables["R"].items)

    with pytest.raises(ClientError) as info:
        ddb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": "R", "Key": {"pk": {"S": "p1"}, "sk": {"S": "a"}}}},
                {"Delete": {"TableName": "R", "Key": {"pk": {"S": "p2"}, "sk": {"S": "a"}}}},
                {"Put": {"TableName": "R", "Item": {"pk": {"S": "p9"}, "sk": {"S": "z"}}}},
                {
                    "Update": {
                        "TableName": "R",
                        "Key": {"pk": {"S": "p1"}, "sk": {"S": "b"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": "R",
                        "Key": {"pk": {"S": "p3"}, "sk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert _cancel_codes(info.value) == ["None"] * 4 + ["ConditionalCheckFailed"]
    assert _scan(ddb, "R") == before  # same items, same (moto) scan order
    assert list(_backend().tables["R"].items) == buckets_before  # no stray hash buckets


def test_cancelled_transaction_emits_no_stream_records(emulator: Emulator) -> None:
    ddb = _ddb(emulator)
    _create_table(
        ddb, "S", StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )
    ddb.put_item(TableName="S", Item={"pk": {"S": "x"}})
    put_new = {"Put": {"TableName": "S", "Item": {"pk": {"S": "y"}}}}
    failing = {
        "ConditionCheck": {
            "TableName": "S",
            "Key": {"pk": {"S": "x"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[put_new, failing])
    ddb.transact_write_items(TransactItems=[put_new])

    streams = boto3.client(
        "dynamodbstreams", endpoint_url=emulator.endpoint_url, region_name=REGION
    )
    arn = ddb.describe_table(TableName="S")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]
    assert keys == ["x", "y"]


def test_patch_is_idempotent(emulator: Emulator) -> None:
    assert is_moto_patched()
    patched = DynamoDBBackend.transact_write_items
    patch_moto()
    patch_moto()
    assert DynamoDBBackend.transact_write_items is patched


# --------------------------------------------------------------------------- counting


def test_request_counts_by_operation_and_reset(emulator: Emulator) -> None:
    url = f"{emulator.endpoint_url}/_orderhub/requests"
    _http(f"{url}/reset", "POST")
    ddb = _ddb(emulator)
    _create_table(ddb, "T")
    ddb.put_item(TableName="T", Item={"pk": {"S": "1"}})
    ddb.put_item(TableName="T", Item={"pk": {"S": "2"}})
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": "T", "Item": {"pk": {"S": "3"}}}}]
    )
    boto3.client(
        "sts", endpoint_url=emulator.endpoint_url, region_name=REGION
    ).get_caller_identity()  # query protocol (form Action)
    boto3.client("s3", endpoint_url=emulator.endpoint_url, region_name=REGION).create_bucket(
        Bucket="orderhub-test"
    )  # REST protocol

    counts = _http(url)
    assert counts["by_operation"] == {
        "dynamodb.CreateTable": 1,
        "dynamodb.PutItem": 2,
        "dynamodb.TransactWriteItems": 1,
        "s3.PUT": 1,
        "sts.GetCallerIdentity": 1,
    }
    assert counts["total"] == 6
    assert emulator.app is not None and emulator.app.counts() == counts

    assert _http(f"{url}/reset", "POST") == {"total": 0, "by_operation": {}}
    assert _http(url) == {"total": 0, "by_operation": {}}


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        (
            {"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems"},
            "dynamodb.TransactWriteItems",
        ),
        ({"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}, "sqs.SendMessage"),
        ({"HTTP_X_AMZ_TARGET": "secretsmanager.GetSecretValue"}, "secretsmanager.GetSecretValue"),
        (
            {
                "HTTP_X_AMZ_TARGET": "TrentService.Decrypt",
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=testing/20240101/us-east-1/kms/"
                "aws4_request, SignedHeaders=host, Signature=x",
            },
            "kms.Decrypt",
        ),
        (
            {
                "QUERY_STRING": "Action=Publish&Version=2010-03-31",
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/sns/"
                "aws4_request, SignedHeaders=host, Signature=x",
            },
            "sns.Publish",
        ),
        (
            {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/bucket/key",
                "HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=k/20240101/us-east-1/s3/"
                "aws4_request, SignedHeaders=host, Signature=x",
            },
            "s3.GET",
        ),
        ({"REQUEST_METHOD": "POST", "PATH_INFO": "/moto-api/reset"}, "moto-api.POST"),
    ],
)
def test_classify_request(environ: dict[str, Any], expected: str) -> None:
    assert classify_request(environ) == expected


def test_classify_request_reads_form_action_and_restores_body() -> None:
    import io

    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded; charset=utf-8",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    assert classify_request(environ) == "unknown.GetCallerIdentity"
    assert environ["wsgi.input"].read() == body


def _sqs(emu: Emulator) -> Any:
    return boto3.client("sqs", endpoint_url=emu.endpoint_url, region_name="us-east-1")


def test_long_poll_does_not_block_other_requests(emulator: Emulator) -> None:
    """A waiting receive must not hold the lock: the message it waits for can be sent, and
    it is delivered well before the wait ends. Counted as one ReceiveMessage."""
    sqs = _sqs(emulator)
    url = sqs.create_queue(QueueName="long-poll")["QueueUrl"]
    _http(emulator.endpoint_url + "/_orderhub/requests/reset", "POST")
    received: list[Any] = []
    waiter = threading.Thread(
        target=lambda: received.extend(
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages", [])
        )
    )
    waiter.start()
    time.sleep(0.3)
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    waiter.join(timeout=5)
    assert not waiter.is_alive(), "the long poll missed a message sent while it waited"
    assert [m["Body"] for m in received] == ["hello"]
    counts = _http(emulator.endpoint_url + "/_orderhub/requests")["by_operation"]
    assert counts["sqs.ReceiveMessage"] == 1


def test_long_poll_with_no_message_returns_empty_after_the_wait(emulator: Emulator) -> None:
    sqs = _sqs(emulator)
    url = sqs.create_queue(QueueName="long-poll-empty")["QueueUrl"]
    start = time.monotonic()
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []) == []
    assert time.monotonic() - start >= 0.9


def test_queue_attributes_are_unchanged_by_the_lazy_patch(emulator: Emulator) -> None:
    """Same attributes as moto computes eagerly, including counts and the redrive policy."""
    from moto.sqs.models import Queue

    sqs = _sqs(emulator)
    dlq = sqs.create_queue(QueueName="attrs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName="attrs",
        Attributes={
            "VisibilityTimeout": "7",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
        },
    )["QueueUrl"]
    for i in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert got["ApproximateNumberOfMessages"] == "2"
    assert got["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert got["VisibilityTimeout"] == "7"
    assert json.loads(got["RedrivePolicy"])["maxReceiveCount"] == 5
    from moto.sqs.models import sqs_backends

    from local.emulator import EAGER_QUEUE_ATTRIBUTES

    queues = sqs_backends["123456789012"]["us-east-1"].queues.values()
    assert queues
    for queue in queues:
        assert isinstance(queue, Queue)
        assert dict(queue.attributes) == EAGER_QUEUE_ATTRIBUTES.fget(queue)


def _faults(emu: Emulator, rate: float, seed: int = 1) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{emu.endpoint_url}/_orderhub/faults",
        method="POST",
        data=json.dumps({"rate": rate, "seed": seed}).encode(),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def test_injected_faults_look_like_aws_failures(emulator: Emulator) -> None:
    ddb, sqs = _ddb(emulator), _sqs(emulator)
    _create_table(ddb, "chaos")
    url = sqs.create_queue(QueueName="chaos")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    _faults(emulator, 1.0)

    with pytest.raises(ClientError) as read:
        ddb.get_item(TableName="chaos", Key={"pk": {"S": "a"}})
    assert read.value.response["Error"]["Code"] in ("ThrottlingException", "InternalServerError")
    with pytest.raises(ClientError) as tx:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "chaos", "Item": {"pk": {"S": "x"}}}},
                {"Put": {"TableName": "chaos", "Item": {"pk": {"S": "y"}}}},
            ]
        )
    assert _cancel_codes(tx.value) == ["TransactionConflict", "None"]
    (message,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "0", "ReceiptHandle": message["ReceiptHandle"]}]
    )
    assert deleted["Successful"] == [
        {"Id": "0"}
    ]  # says so, as a crashed Lambda's delete never came

    status = _faults(emulator, 0.0)
    assert status["rate"] == 0.0
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "m"  # still there
    assert ddb.scan(TableName="chaos")["Items"] == []  # nothing of the cancelled transaction


def test_fault_rate_is_a_rate_and_reproducible(emulator: Emulator) -> None:
    ddb = _ddb(emulator)
    _create_table(ddb, "rate")

    def injected() -> tuple[int, int]:
        _faults(emulator, 0.3, seed=7)
        _http(f"{emulator.endpoint_url}/_orderhub/requests/reset", "POST")
        for _ in range(200):
            with contextlib.suppress(ClientError):  # botocore retries some; the rest surface
                ddb.get_item(TableName="rate", Key={"pk": {"S": "a"}})
        faults = sum(_http(f"{emulator.endpoint_url}/_orderhub/faults")["injected"].values())
        requests = _http(f"{emulator.endpoint_url}/_orderhub/requests")["total"]
        _faults(emulator, 0.0)
        return faults, requests

    faults, requests = injected()
    assert 0.2 <= faults / requests <= 0.4
    assert injected() == (faults, requests)  # same seed, same faults
