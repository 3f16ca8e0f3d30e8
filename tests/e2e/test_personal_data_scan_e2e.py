"""The personal-data scan (issue 7): after orders with a buyer's phone, ID number and email have
been booked end to end on the local stack — the own shop (with an ID number, one order large
enough to overflow into S3), Shopify and WooCommerce, signed as each platform signs — no
DynamoDB item, no visible SQS message, no S3 object (raw payloads, queue overflow, reports)
and no line of the stack's log holds any of them in clear. The decrypt endpoint, with a
reason, still returns them: they were stored, sealed.

The search is robust to formatting: numbers match with or without separators (spaces,
dashes, dots, brackets, slashes, a leading `+`), emails case-insensitively and URL-encoded,
compressed S3 objects (gzip, zip/xlsx) are opened first.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import urllib.parse
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.channels.body_hmac import sign_body_hmac
from tests.conftest import FIXTURES, fixture_json
from tests.e2e.conftest import SEED
from tests.e2e.reveals import approved_request

pytestmark = pytest.mark.e2e

REASON = "personal-data scan e2e: confirm the sealed values open for a stated reason"


def seeded(platform: str) -> dict[str, Any]:
    return next(s for s in SEED["stores"] if s["platform"] == platform)


# Values no other test uses, so anything found is this test's data leaking.
MALL = {
    "name": "Zhao Mingyue",
    "phone": "13955501234",
    "address": "88 Secretgarden Lane, Pudong, Shanghai",
    "email": "Zhao.Scan@Example.com",
    "id_number": "110101199003071234",
}
SHOPIFY = {
    "name": "Quinn Scanford",
    "phone": "+1 (415) 555-0142",
    "address1": "77 Hiddenmews Road",
    "email": "scan.shopify@example.com",
}
WOO = {
    "first_name": "Rowan",
    "last_name": "Scanlon",
    "phone": "(415) 555-0199",
    "address_1": "66 Quietcourt Avenue",
    "email": "scan.woo@example.com",
}
NUMBERS = ("13955501234", "110101199003071234", "14155550142", "4155550142", "4155550199")
TEXTS = (
    MALL["email"],
    SHOPIFY["email"],
    WOO["email"],
    "Zhao Mingyue",
    "Secretgarden",
    "Quinn Scanford",
    "Hiddenmews",
    "Rowan Scanlon",
    "Quietcourt",
)


def loose(digits: str) -> re.Pattern[str]:
    """The digits with any separators between them: 139 5550 1234, 139-5550-1234, (415) ..."""
    return re.compile(r"[\s\-./()+]*".join(re.escape(d) for d in digits))


PATTERNS = [loose(n) for n in NUMBERS] + [
    re.compile(re.escape(variant), re.IGNORECASE)
    for text in TEXTS
    for variant in {text, urllib.parse.quote(text), urllib.parse.quote_plus(text)}
]


def leaks(text: str) -> list[str]:
    """Every piece of the buyers' data found in `text`."""
    return [m.group(0) for pattern in PATTERNS for m in pattern.finditer(text)]


def test_the_scan_finds_what_it_looks_for():
    """The scanner itself: formatted, escaped and encoded variants are found; masks are not."""
    found = leaks(
        "tel 139 5550 1234 / 139-5550-1234 / +1 (415) 555-0142 / 415.555.0199; "
        "id 1101-0119-9003-071234; zhao.scan%40example.COM; ROWAN SCANLON"
    )
    assert found == [
        "139 5550 1234",
        "139-5550-1234",
        "1101-0119-9003-071234",
        "1 (415) 555-0142",
        "415) 555-0142",  # the same number without its country code
        "415.555.0199",
        "zhao.scan%40example.COM",
        "ROWAN SCANLON",
    ]
    assert leaks("139****1234 1101**********1234 Z***@Example.com L* Shanghai") == []


# ---- booking ----------------------------------------------------------------------------


def book_mall(stack, order_id: str, msg_id: str, note: str = "") -> None:
    payload = {
        "type": "order.paid",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": {
            "order_id": order_id,
            "status": "paid",
            "updated_at": datetime.now(UTC).isoformat(),
            "currency": "CNY",
            "lines": [{"sku": "TEA-LONGJING-250G", "quantity": 1, "unit_price": "88.00"}],
            "buyer": dict(MALL),
            **({"note": note} if note else {}),
        },
    }
    response = stack.post_order(payload, msg_id)
    assert response.status_code == 202, response.text


def book_shopify(stack) -> str:
    store = seeded("shopify")
    payload = json.loads((FIXTURES / "shopify/orders_create_sample_statamic.json").read_text())
    payload.update(financial_status="paid", cancelled_at=None, cancel_reason=None)
    payload["id"] = 820982911946154777
    payload["email"] = payload["contact_email"] = SHOPIFY["email"]
    payload["phone"] = SHOPIFY["phone"]
    for part in ("shipping_address", "billing_address"):
        payload[part].update(
            name=SHOPIFY["name"],
            first_name="Quinn",
            last_name="Scanford",
            phone=SHOPIFY["phone"],
            address1=SHOPIFY["address1"],
        )
    payload["customer"].update(email=SHOPIFY["email"], first_name="Quinn", last_name="Scanford")
    raw = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": sign_body_hmac(store["credentials"]["webhook_secret"], raw),
        "X-Shopify-Webhook-Id": "e2e-pii-scan-shopify-1",
        "X-Shopify-Event-Id": "e2e-pii-scan-shopify-event-1",
        "X-Shopify-Shop-Domain": "demo.myshopify.com",
    }
    response = requests.post(
        f"{stack.api}/webhooks/shopify/{store['store_id']}", data=raw, headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return str(payload["id"])


def book_woocommerce(stack) -> str:
    store = seeded("woocommerce")
    order = json.loads(str(fixture_json("woocommerce/signature_vector_derived.json")["raw_body"]))
    order["id"] = 7290
    order["billing"].update(WOO)
    order["shipping"].update({k: v for k, v in WOO.items() if k not in ("phone", "email")})
    raw = json.dumps(order).encode()
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Source": "https://example.com/",
        "X-WC-Webhook-Delivery-ID": "e2e-pii-scan-woo-1",
        "X-WC-Webhook-Signature": sign_body_hmac(store["credentials"]["webhook_secret"], raw),
    }
    response = requests.post(
        f"{stack.api}/webhooks/woocommerce/{store['store_id']}",
        data=raw,
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(order["id"])


# ---- where to look ------------------------------------------------------------------------


def dynamodb_items(stack) -> Iterator[tuple[str, str]]:
    ddb = stack.client("dynamodb")
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                yield f"dynamodb:{table}", json.dumps(item, default=_text, ensure_ascii=False)


def sqs_messages(stack) -> Iterator[tuple[str, str]]:
    """Every queue's visible messages, peeked (VisibilityTimeout 0: nothing is hidden)."""
    sqs = stack.client("sqs")
    for url in sqs.list_queues().get("QueueUrls", []):
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
        )
        for message in got.get("Messages", []):
            text = json.dumps(
                {"body": message["Body"], "attributes": message.get("MessageAttributes")},
                ensure_ascii=False,
            )
            yield f"sqs:{url.rsplit('/', 1)[-1]}", text


def s3_objects(stack) -> Iterator[tuple[str, str]]:
    s3 = stack.client("s3")
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for listed in page.get("Contents", []):
                data = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read()
                for part, text in _unpacked(listed["Key"], data):
                    yield f"s3://{bucket}/{part}", text


def _unpacked(key: str, data: bytes) -> Iterator[tuple[str, str]]:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:4] == b"PK\x03\x04":  # xlsx and other zip files: every member
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                yield f"{key}!{name}", archive.read(name).decode("utf-8", "replace")
        return
    yield key, data.decode("utf-8", "replace")


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes | bytearray) else str(value)


# ---- the test ------------------------------------------------------------------------------


def test_no_buyer_phone_id_number_or_email_is_stored_queued_or_logged_in_clear(stack):
    mall_order, big_order = "E2E-PII-1", "E2E-PII-BIG"
    book_mall(stack, mall_order, "e2e-pii-mall-1")
    # over SQS's 240 KiB: the (sealed) message goes to S3 and the queue carries a pointer
    book_mall(stack, big_order, "e2e-pii-mall-2", note="gift wrap " * 30_000)
    shopify_order = book_shopify(stack)
    woo_order = book_woocommerce(stack)
    orders = {
        ("mall", "demo-shop", mall_order): (MALL["phone"], MALL["id_number"], MALL["email"]),
        ("mall", "demo-shop", big_order): (MALL["phone"], MALL["id_number"], MALL["email"]),
        ("shopify", "demo-shopify", shopify_order): (SHOPIFY["phone"], "", SHOPIFY["email"]),
        ("woocommerce", "demo-woo", woo_order): (WOO["phone"], "", WOO["email"]),
    }
    for platform, store, order_id in orders:
        shown = stack.wait_for(platform, store, order_id)
        assert leaks(json.dumps(shown)) == [], (order_id, shown["buyer"])
    stack.wait_for_empty_queue()

    # with the decrypt permission, a reason and a second person's approval, every value
    # comes back in clear
    for (platform, store, order_id), (phone, id_number, email) in orders.items():
        path = f"/orders/{platform}/{store}/{order_id}"
        request_id = approved_request(stack.api, path, stack.auth, REASON)
        opened = requests.post(
            f"{stack.api}{path}/personal-data",
            json={"request_id": request_id},
            headers=stack.auth,
            timeout=10,
        )
        assert opened.status_code == 200, opened.text
        buyer = opened.json()["buyer"]
        assert (buyer["phone"], buyer["id_number"], buyer["email"]) == (phone, id_number, email)
    mall = stack.get(f"/orders/mall/demo-shop/{mall_order}").json()["buyer"]
    assert mall == {
        "name": "Z*",
        "phone": "139****1234",
        "address": "Pudong, Shanghai",
        "email": "Z***@Example.com",
        "id_number": "1101**********1234",
    }

    seen: dict[str, int] = {}
    found: list[tuple[str, list[str]]] = []
    sources = [dynamodb_items(stack), sqs_messages(stack), s3_objects(stack)]
    for source in sources:
        for where, text in source:
            kind = where.split(":", 1)[0]
            seen[kind] = seen.get(kind, 0) + 1
            if hit := leaks(text):
                found.append((where, hit))
    log = stack.log_file.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(log.splitlines(), 1):
        if hit := leaks(line):
            found.append((f"{stack.log_file.name}:{number}", hit))
    assert found == [], found

    # the scan looked at real data: the masks and the sealed envelopes are there
    dynamo = "\n".join(text for where, text in dynamodb_items(stack) if "orders" in where)
    assert "139****1234" in dynamo and "1101**********1234" in dynamo and "wrapped_key" in dynamo
    keys = [where for where, _ in s3_objects(stack)]
    assert any("/raw/batch/" in k for k in keys)  # the processor batches' raw payloads
    assert any("/overflow/" in k for k in keys)  # the big order's queue message, sealed
    audit = "\n".join(text for where, text in dynamodb_items(stack) if "audit" in where)
    assert audit.count("personal_data.decrypt") >= len(orders) and REASON in audit
    assert seen["dynamodb"] > 0 and seen["s3"] > 0 and log.strip()
