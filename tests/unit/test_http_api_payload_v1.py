"""Would the app run behind an HTTP API (payload format 1.0) instead of Chalice's REST API?

The event is AWS's own sample of that format (tests/fixtures/aws/, SOURCES.md), given our
routes: an HTTP API that declares each route as Chalice does (not one `$default` or
`{proxy+}` catch-all) sends `resource` and `requestContext.resourcePath` as the route
template, which is what Chalice dispatches on. The cost side: docs/performance.md."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from app import app
from chalicelib.deps import use_container
from local.lambda_runtime import LocalLambdaContext
from tests.conftest import fixture_json
from tests.privacy_fakes import opened_message
from tests.unit.test_channel_deliveries import (
    ORDER_IDS,
    STORE_ID,
    add_platform_stores,
    signed_delivery,
)
from tests.unit.test_http_api import FakeContainer

SAMPLE = "aws/apigateway_http_api_payload_v1.json"


@pytest.fixture
def deps():
    fake = FakeContainer()
    add_platform_stores(fake)
    use_container(fake)  # type: ignore[arg-type]
    yield fake
    use_container(None)


def http_api_event(
    method: str, route: str, path: str, params: dict[str, str] | None, headers: dict[str, str]
) -> dict:
    event = copy.deepcopy(fixture_json(SAMPLE))
    assert event["version"] == "1.0" and "multiValueHeaders" in event  # format 1.0's shape
    lowered = {k.lower(): v for k, v in headers.items()}  # HTTP APIs lowercase header names
    event.update(
        resource=route,
        path=path,
        httpMethod=method,
        headers=lowered,
        multiValueHeaders={k: [v] for k, v in lowered.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        pathParameters=params,
    )
    event["requestContext"].update(resourcePath=route, httpMethod=method, path=path)
    return event


def test_a_signed_webhook_in_payload_format_1_0_is_accepted(deps):
    raw, headers = signed_delivery("shopify")
    event = http_api_event(
        "POST",
        "/webhooks/{platform}/{store}",
        f"/webhooks/shopify/{STORE_ID}",
        {"platform": "shopify", "store": STORE_ID},
        headers,
    )
    event.update(body=base64.b64encode(raw).decode(), isBase64Encoded=True)  # as the sample
    response = app(event, LocalLambdaContext("api"))
    assert response["statusCode"] == 200, response["body"]
    ((message, _),) = deps.queue.messages
    assert message["event"]["order_id"] == ORDER_IDS["shopify"]
    assert opened_message(message, deps.personal_data)["raw"] == raw.decode()


def test_a_read_in_payload_format_1_0_is_answered(deps):
    event = http_api_event("GET", "/health", "/health", None, {"Accept": "application/json"})
    event.update(body=None, isBase64Encoded=False)
    response = app(event, LocalLambdaContext("api"))
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["status"]


def test_the_sample_as_sent_names_no_route_of_ours(deps):
    """A catch-all HTTP API would send the path itself as the resource: Chalice has no such
    route, so the HTTP API must declare our routes one by one."""
    response = app(copy.deepcopy(fixture_json(SAMPLE)), LocalLambdaContext("api"))
    assert response["statusCode"] >= 400
    assert not deps.queue.messages
