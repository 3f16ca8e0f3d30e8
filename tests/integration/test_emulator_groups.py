"""The emulator split by service group (local/emulator_groups.py), as `make run` starts it:
`python -m local.emulator --split`, one process per group, the main one forwarding."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.emulator_groups import (
    ENDPOINT_VARIABLES,
    GROUPS,
    endpoint_for,
    endpoint_variables,
    fetch_endpoints,
    group_of,
)

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _http(url: str, method: str = "GET", body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _client(service: str, url: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def split() -> Iterator[tuple[str, dict[str, str], subprocess.Popen[bytes]]]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--port", str(port), "--split"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    front = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    groups: dict[str, str] = {}
    while time.monotonic() < deadline and not groups:
        assert process.poll() is None, "the split emulator exited at start"
        try:
            groups = fetch_endpoints(front, timeout=2)
        except OSError:
            time.sleep(0.2)
    assert groups, "the split emulator did not come up"
    yield front, groups, process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_requests_land_in_their_groups_process(split):
    front, groups, _ = split
    assert set(groups) == set(GROUPS) and len(set(groups.values())) == len(GROUPS)
    _http(front + "/_orderhub/requests/reset", "POST")
    # everything through the front, as `aws --endpoint-url "$ORDERHUB_AWS"` does
    _client("dynamodb", front).list_tables()
    _client("sqs", front).list_queues()
    _client("s3", front).list_buckets()
    _client("kms", front).list_keys()
    _client("secretsmanager", front).list_secrets()
    for group, operation in {
        "dynamodb": "dynamodb.ListTables",
        "sqs": "sqs.ListQueues",
        "s3": "s3.GET",
        "kms": "kms.ListKeys",
    }.items():
        counted = _http(groups[group] + "/_orderhub/requests")["by_operation"]
        assert counted == {operation: 1}, (group, counted)
    total = _http(front + "/_orderhub/requests")  # every group's counts, summed
    assert total["total"] == 5
    assert total["by_operation"]["secretsmanager.ListSecrets"] == 1
    assert total["by_operation"]["kms.ListKeys"] == 1
    _http(front + "/_orderhub/requests/reset", "POST")
    assert _http(groups["sqs"] + "/_orderhub/requests")["total"] == 0


def test_per_service_variables_point_botocore_at_each_group(split, monkeypatch):
    front, groups, _ = split
    monkeypatch.setenv("AWS_ENDPOINT_URL", front)
    for name, url in endpoint_variables(groups).items():
        monkeypatch.setenv(name, url)
    session = boto3.session.Session(
        region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    for service in ("dynamodb", "dynamodbstreams", "sqs", "sns", "events", "cloudwatch"):
        group = next(g for g, members in GROUPS.items() if service in members)
        assert session.client(service).meta.endpoint_url == groups[group], service
    assert session.client("s3").meta.endpoint_url == groups["s3"]
    assert session.client("kms").meta.endpoint_url == groups["kms"]
    assert session.client("secretsmanager").meta.endpoint_url == front  # the rest


def test_sns_delivers_into_sqs_inside_the_sqs_group(split):
    """moto delivers SNS (and EventBridge, alarm actions) into SQS in process: same group."""
    _, groups, _ = split
    sqs, sns = _client("sqs", groups["sqs"]), _client("sns", groups["sqs"])
    queue = sqs.create_queue(QueueName="groups-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    topic = sns.create_topic(Name="groups-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn["QueueArn"])
    sns.publish(TopicArn=topic, Message="hello")
    got = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(got[0]["Body"])["Message"] == "hello"


def test_items_of_multi_item_calls_are_counted_for_the_cost_model(split):
    front, groups, _ = split
    ddb = _client("dynamodb", groups["dynamodb"])
    ddb.create_table(
        TableName="groups-items",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    _http(front + "/_orderhub/requests/reset", "POST")
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": "groups-items", "Item": {"pk": {"S": key}}}} for key in "ab"
        ]
    )
    keys = [{"pk": {"S": key}} for key in "abc"]
    ddb.batch_get_item(RequestItems={"groups-items": {"Keys": keys}})
    counts = _http(front + "/_orderhub/requests")
    assert counts["by_operation"]["dynamodb.TransactWriteItems"] == 1
    assert counts["items"] == {"dynamodb.BatchGetItem": 3, "dynamodb.TransactWriteItems": 2}
    # and the items written, by table: transactional apart (they cost twice); a condition
    # check writes nothing
    ddb.put_item(TableName="groups-items", Item={"pk": {"S": "c"}})
    ddb.transact_write_items(
        TransactItems=[
            {"Update": {"TableName": "groups-items", "Key": {"pk": {"S": "a"}},
                        "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": {"N": "1"}}}},
            {"ConditionCheck": {"TableName": "groups-items", "Key": {"pk": {"S": "b"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ]
    )  # fmt: skip
    counts = _http(front + "/_orderhub/requests")
    assert counts["table_writes"] == {"groups-items": {"tx": 3, "plain": 1}}


def test_front_fans_out_faults_reset_and_state(split):
    front, groups, _ = split
    _client("s3", groups["s3"]).create_bucket(Bucket="groups-bucket")
    _client("dynamodb", groups["dynamodb"]).create_table(
        TableName="groups-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    state = _http(front + "/moto-api/data.json")
    assert "groups-bucket" in json.dumps(state["s3"])
    assert "groups-table" in json.dumps(state["dynamodb"])
    faults = _http(front + "/_orderhub/faults", "POST", {"rate": 1.0, "seed": 3})
    assert faults["rate"] == 1.0
    assert _http(groups["dynamodb"] + "/_orderhub/faults")["rate"] == 1.0
    with pytest.raises(Exception, match="injected"):
        _client("dynamodb", groups["dynamodb"]).get_item(
            TableName="groups-table", Key={"pk": {"S": "x"}}
        )
    assert _http(front + "/_orderhub/faults")["injected"]  # summed over the groups
    _http(front + "/_orderhub/faults", "POST", {"rate": 0, "seed": 0})
    assert _http(groups["dynamodb"] + "/_orderhub/faults")["rate"] == 0
    _http(front + "/moto-api/reset", "POST")  # every group forgets
    assert _client("dynamodb", groups["dynamodb"]).list_tables()["TableNames"] == []
    assert _client("s3", groups["s3"]).list_buckets()["Buckets"] == []


def test_group_processes_stop_with_the_front(split):
    _, groups, process = split
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    for url in groups.values():
        port = int(url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"{url} still listens after the front stopped")


def test_routing_and_variables_are_consistent():
    signed = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, Sig=x"
    assert group_of({"HTTP_AUTHORIZATION": signed.format("dynamodb")}) == "dynamodb"
    assert group_of({"HTTP_AUTHORIZATION": signed.format("monitoring")}) == "sqs"
    assert group_of({"HTTP_AUTHORIZATION": signed.format("secretsmanager")}) is None
    presigned = "X-Amz-Credential=testing%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    assert group_of({"QUERY_STRING": presigned}) == "s3"
    assert group_of({"HTTP_X_AMZ_TARGET": "TrentService.Decrypt"}) == "kms"
    assert group_of({"PATH_INFO": "/moto-api/data.json"}) is None
    assert set(ENDPOINT_VARIABLES.values()) == set(GROUPS)
    env = {"AWS_ENDPOINT_URL_SQS": "http://q", "AWS_ENDPOINT_URL_DYNAMODB": "http://d"}
    assert endpoint_for("sqs", env, "http://front") == "http://q"
    assert endpoint_for("dynamodb", env, "http://front") == "http://d"
    assert endpoint_for("secretsmanager", env, "http://front") == "http://front"
    assert endpoint_for("kms", {}, "http://front") == "http://front"
