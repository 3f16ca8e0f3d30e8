"""Every webhook platform through the API Gateway proxy event AWS sends (Powertools' recorded
event): the body plain or base64-encoded (`isBase64Encoded`), header names in any case. The
signature is checked over the decoded raw bytes, so all pass; a tampered base64 body does not."""

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
    WEBHOOK_PLATFORMS,
    add_platform_stores,
    sign,
    signed_delivery,
)
from tests.unit.test_http_api import FakeContainer


@pytest.fixture
def deps():
    fake = FakeContainer()
    add_platform_stores(fake)
    use_container(fake)  # type: ignore[arg-type]
    yield fake
    use_container(None)


def gateway_event(platform: str, raw: bytes, headers: dict[str, str], base64_body: bool) -> dict:
    event = copy.deepcopy(fixture_json("aws/powertools_apiGatewayProxyEvent.json"))
    path = f"/webhooks/{platform}/{STORE_ID}"
    event.update(
        resource="/webhooks/{platform}/{store}",
        path=path,
        httpMethod="POST",
        headers=headers,
        multiValueHeaders={k: [v] for k, v in headers.items()},
        queryStringParameters=None,
        multiValueQueryStringParameters=None,
        pathParameters={"platform": platform, "store": STORE_ID},
        body=base64.b64encode(raw).decode() if base64_body else raw.decode(),
        isBase64Encoded=base64_body,
    )
    event["requestContext"].update(
        resourcePath="/webhooks/{platform}/{store}", httpMethod="POST", path=path
    )
    return event


CASES = {"as-sent": str, "lower": str.lower, "upper": str.upper}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("base64_body", [False, True], ids=["plain", "base64"])
@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS)
def test_signed_delivery_passes_as_a_gateway_event(deps, platform, base64_body, case):
    raw, headers = signed_delivery(platform)
    headers = {CASES[case](k): v for k, v in headers.items()}
    response = app(gateway_event(platform, raw, headers, base64_body), LocalLambdaContext("api"))
    assert response["statusCode"] == 200, response["body"]
    ((message, _),) = deps.queue.messages
    assert message["event"]["order_id"] == ORDER_IDS[platform]
    assert opened_message(message, deps.personal_data)["raw"] == raw.decode()


@pytest.mark.parametrize("platform", WEBHOOK_PLATFORMS)
def test_tampered_base64_body_is_refused(deps, platform):
    raw, headers = signed_delivery(platform)
    tampered = raw.replace(ORDER_IDS[platform].encode(), b"1" + ORDER_IDS[platform].encode()[1:])
    assert tampered != raw
    response = app(gateway_event(platform, tampered, headers, True), LocalLambdaContext("api"))
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "invalid_signature"
    assert deps.queue.messages == []


def test_non_ascii_body_verifies_over_its_exact_bytes(deps):
    """Douyin sends Chinese text unescaped: the bytes signed are the UTF-8 bytes received."""
    data = {"p_id": "6920000000000000001", "cancel_time": 1795593600, "cancel_reason": "买家取消"}
    message = {"tag": "106", "msg_id": "m-zh", "data": json.dumps(data, ensure_ascii=False)}
    raw = json.dumps([message], ensure_ascii=False).encode()
    assert "买家取消".encode() in raw
    response = app(
        gateway_event("douyin", raw, sign("douyin", raw), True), LocalLambdaContext("api")
    )
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"]) == {"code": 0, "msg": "success"}
    assert deps.queue.messages[0][0]["event"]["order_id"] == "6920000000000000001"
