"""The app invoked with the event shapes AWS really sends (Powertools' recorded events), not
only Chalice's generated ones: API Gateway proxy with a base64 body, SQS batches."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from app import app
from chalicelib.deps import use_container
from local.lambda_runtime import LocalLambdaContext
from tests.builders import body, mall_payload
from tests.conftest import fixture_json
from tests.unit.test_http_api import FakeContainer, signed_headers


@pytest.fixture
def deps():
    fake = FakeContainer()
    use_container(fake)  # type: ignore[arg-type]
    yield fake
    use_container(None)


def gateway_event(raw: bytes, headers: dict[str, str], base64_body: bool) -> dict:
    event = copy.deepcopy(fixture_json("aws/powertools_apiGatewayProxyEvent.json"))
    path = "/webhooks/mall/demo-shop"
    event.update(
        resource="/webhooks/{platform}/{store}",
        path=path,
        httpMethod="POST",
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        pathParameters={"platform": "mall", "store": "demo-shop"},
        body=base64.b64encode(raw).decode() if base64_body else raw.decode(),
        isBase64Encoded=base64_body,
    )
    event["requestContext"].update(
        resourcePath="/webhooks/{platform}/{store}", httpMethod="POST", path=path
    )
    return event


@pytest.mark.parametrize("base64_body", [False, True])
def test_gateway_proxy_event_is_verified_over_the_decoded_raw_body(deps, base64_body):
    raw = body(mall_payload()).replace(b'"o-1"', '"订单-1"'.encode())  # non-ASCII, exact bytes
    headers = {k.lower(): v for k, v in signed_headers(raw, deps).items()}
    response = app(gateway_event(raw, headers, base64_body), LocalLambdaContext("api"))
    assert response["statusCode"] == 202, response["body"]
    assert deps.queue.messages[0][0]["event"]["order_id"] == "订单-1"


def test_gateway_event_with_tampered_base64_body_is_refused(deps):
    raw = body(mall_payload())
    headers = signed_headers(raw, deps)
    event = gateway_event(raw.replace(b"SKU-A", b"SKU-Z"), headers, True)
    response = app(event, LocalLambdaContext("api"))
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "invalid_signature"


def test_real_sqs_event_shape_books_and_rejects_a_foreign_message(deps):
    from tests.fakes import with_stock

    with_stock(deps.orders, "SKU-A", "w1", 5)
    raw = body(mall_payload())
    app(gateway_event(raw, signed_headers(raw, deps), False), LocalLambdaContext("api"))
    event = copy.deepcopy(fixture_json("aws/powertools_sqsEvent.json"))
    good, poison = event["Records"]
    good["body"] = json.dumps(deps.queue.messages[0][0])  # poison keeps its foreign body
    result = app.handler_map["handle_order_events"](event, LocalLambdaContext("processor"))
    assert result == {"batchItemFailures": []}  # a foreign message is permanent: not retried
    assert deps.orders.stock[("SKU-A", "w1")].reserved == 2
    rejected = deps.orders.get_event_outcome(f"invalid#{poison['messageId']}")
    assert rejected["outcome"] == "rejected_invalid"
