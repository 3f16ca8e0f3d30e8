"""The emulator keeps HTTP connections open (local/keep_alive.py) and parses each update
expression once (local/moto_expressions.py) without changing a single answer."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.emulator import Emulator
from local.moto_expressions import is_patched
from tests.integration.test_emulator import _create_table, _ddb, emulator  # noqa: F401

TARGET = "DynamoDB_20120810.ListTables"
HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": TARGET,
    "Authorization": (
        "AWS4-HMAC-SHA256 Credential=testing/20261207/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0"
    ),
}


def _ask(connection: http.client.HTTPConnection, body: bytes, **extra: str) -> Any:
    connection.request("POST", "/", body=body, headers={**HEADERS, **extra})
    response = connection.getresponse()
    return response, json.loads(response.read())


def test_one_connection_serves_request_after_request(emulator: Emulator) -> None:  # noqa: F811
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    sockets = set()
    for limit in (1, 5, 100):  # each body read whole, so the next request line is found
        response, answer = _ask(connection, json.dumps({"Limit": limit}).encode())
        assert response.status == 200 and answer == {"TableNames": []}
        assert response.getheader("Connection") is None  # not "close"
        sockets.add(id(connection.sock))
    assert len(sockets) == 1 and connection.sock is not None
    connection.close()


def test_a_request_of_unknown_length_is_answered_and_its_connection_closed(
    emulator: Emulator,  # noqa: F811
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    connection.putrequest("POST", "/")
    for name, value in {**HEADERS, "Transfer-Encoding": "chunked"}.items():
        connection.putheader(name, value)
    connection.endheaders()
    connection.send(b"2\r\n{}\r\n0\r\n\r\n")
    response = connection.getresponse()
    assert response.status == 200 and json.loads(response.read()) == {"TableNames": []}
    assert response.getheader("Connection") == "close"


def test_one_update_expression_text_serves_different_values_and_items(
    emulator: Emulator,  # noqa: F811
) -> None:
    assert is_patched()
    ddb = _ddb(emulator)
    _create_table(ddb, "t")
    text = "SET #n = :v, #c = if_not_exists(#c, :zero) + :one ADD #s :tag"
    for key, value in (("a", "first"), ("b", "second"), ("a", "third")):
        ddb.update_item(
            TableName="t",
            Key={"pk": {"S": key}},
            UpdateExpression=text,
            ExpressionAttributeNames={"#n": "name", "#c": "count", "#s": "tags"},
            ExpressionAttributeValues={
                ":v": {"S": value},
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":tag": {"SS": [value]},
            },
        )
    items = {i["pk"]["S"]: i for i in ddb.scan(TableName="t")["Items"]}
    assert items["a"]["name"] == {"S": "third"} and items["a"]["count"] == {"N": "2"}
    assert sorted(items["a"]["tags"]["SS"]) == ["first", "third"]
    assert items["b"]["name"] == {"S": "second"} and items["b"]["count"] == {"N": "1"}
    for _ in range(2):  # a text that does not parse fails every time, not only the first
        with pytest.raises(ClientError, match="ValidationException"):
            ddb.update_item(
                TableName="t",
                Key={"pk": {"S": "a"}},
                UpdateExpression="SET = :v",
                ExpressionAttributeValues={":v": {"S": "x"}},
            )
