"""`bin/orderhub send-order --store mall/demo-shop --order A-2001 --sku TEA-LONGJING-250G:2`: post
one own-shop order as the shop would, signed per Standard Webhooks with the store's secret from
Secrets Manager, print OrderHub's answer, and (unless --no-wait) wait until the event is
processed and print its outcome. For trying things on the local stack (or a test store in AWS);
a real shop signs its own deliveries.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import requests

from chalicelib.channels.standard_webhooks import sign_standard_webhook

STATUSES = ("unpaid", "paid", "shipped", "cancelled", "refunded")


def add_parser(sub: Any) -> None:
    send = sub.add_parser("send-order", help="post a signed own-shop (mall) order webhook")
    send.add_argument("--store", default="mall/demo-shop", help="mall/<store id>")
    send.add_argument("--order", required=True, help="the shop's order id")
    send.add_argument(
        "--sku", action="append", required=True, help="SKU:QUANTITY (repeat for more lines)"
    )
    send.add_argument("--status", default="unpaid", choices=STATUSES)
    send.add_argument("--phone", default="13812345678", help="the buyer's phone")
    send.add_argument("--address", default="1 Nanjing Road, Shanghai")
    send.add_argument("--api-url", help="default: ORDERHUB_API, or the running local stack's")
    send.add_argument("--no-wait", action="store_true", help="do not wait for the booking")
    send.add_argument("--wait-seconds", type=float, default=60.0, help="how long to wait")


def order_body(args: argparse.Namespace, at: datetime) -> bytes:
    lines = []
    for item in args.sku:
        sku, _, quantity = item.partition(":")
        lines.append({"sku": sku, "quantity": int(quantity or 1), "unit_price": "88.00"})
    stamp = at.isoformat(timespec="seconds")
    event = {"unpaid": "created", "refunded": "refunded"}.get(args.status, args.status)
    data = {
        "order_id": args.order,
        "status": args.status,
        "updated_at": stamp,
        "currency": "CNY",
        "lines": lines,
        "buyer": {"name": "Li Lei", "phone": args.phone, "address": args.address},
    }
    return json.dumps({"type": f"order.{event}", "timestamp": stamp, "data": data}).encode()


def run(env: dict[str, str], args: argparse.Namespace, api_url: str) -> int:
    from chalicelib.deps import Container

    platform, _, store = args.store.partition("/")
    if platform != "mall" or not store:
        raise SystemExit("--store must be mall/<store id>: only own-shop orders are signed here")
    os.environ.update(env)
    deps = Container(environ=env)
    known = deps.catalog_store.get_store(platform, store)
    if known is None:
        raise SystemExit(f"no store {platform}/{store}: add it first (bin/orderhub stores add)")
    secret = deps.secrets.get_secret(known.secret_name)  # the name its catalog item records
    signing = secret.get("webhook_secret") or secret["webhook_secrets"][0]
    now = datetime.now(UTC)
    body = order_body(args, now)
    msg_id = f"msg_{secrets.token_hex(8)}"
    response = requests.post(
        f"{api_url}/webhooks/{platform}/{store}",
        data=body,
        headers={
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign_standard_webhook(signing, msg_id, now, body),
        },
        timeout=30,
    )
    print(f"{response.status_code} {response.text}")
    if not response.ok:
        return 1
    if args.no_wait:
        return 0
    return wait_for_outcomes(deps, response.json().get("events", []), args.wait_seconds)


def wait_for_outcomes(deps: Any, event_keys: list[str], seconds: float) -> int:
    """Print each queued event's outcome once it is processed; 1 if one is not in time."""
    deadline = time.monotonic() + seconds
    for key in event_keys:
        while (found := deps.orders.get_event_outcome(key)) is None:
            if time.monotonic() > deadline:
                print(f"{key}: not processed within {seconds:g} s (still queued?)")
                return 1
            time.sleep(0.25)
        print(f"{key}: {found.get('outcome', '?')} {found.get('reason', '')}".rstrip())
    return 0
