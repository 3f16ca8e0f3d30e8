"""Flat as data grows: six waves of paid orders against one local stack (issue 16, item 3).

Each wave sends `--orders` new orders (an `order.created` and, half a second later, an
`order.paid` webhook each, signed as the platform signs them) as fast as `--rate` allows,
which is faster than the stack books, so the queue fills and the wave measures the stack's
booking capacity rather than the send rate. A wave's booking rate is its paid orders booked
divided by the time from its first send to its last paid order booked (the event record's
`processed_at`). The next wave starts when the last one is fully processed, so each wave runs
against all the orders, events, trail and ledger items the earlier waves left behind.

A warm-up of `--warmup` orders goes first, unmeasured, so the first wave does not start on
cold caches (which would flatter the last wave's share).

Stock: `--skus` SKUs of this run, each stocked through the API with more units than the
waves can sell, so every paid order books (no out-of-stock rejection shortens the work).

Prints one line per wave (booked/s, events/s, requests per event, ack p99, webhooks not
accepted and why) and the last wave's rate as a share of the first's (target >= 0.8). Exit
2 if an accepted event was not processed or an accepted paid order was not booked; the share
itself is printed, not asserted.

    .venv/bin/python bench/waves.py                 # 6 waves x 500 orders, private stack
    .venv/bin/python bench/waves.py --waves 3 --orders 200
"""

from __future__ import annotations

import argparse
import random
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import (
    HTTP_TIMEOUT,
    BookingPoller,
    Delivery,
    Order,
    Sender,
    StackError,
    load_seed,
    private_stack,
    progress,
    unit_price,
)
from bench.report import fetch_counts, machine, percentile

PAY_DELAY = 0.5  # seconds from an order's created webhook to its paid one
TARGET_SHARE = 0.8


def plan_wave(
    run_id: str, wave: int, orders: int, rate: float, skus: list[str], store: str
) -> list[Delivery]:
    """`orders` orders at `rate`/s, each created then paid; one or two lines of one unit."""
    rng = random.Random(f"{run_id}-{wave}")
    planned: list[Delivery] = []
    for n in range(orders):
        lines = [
            {"sku": sku, "quantity": 1, "unit_price": unit_price(sku)}
            for sku in rng.sample(skus, k=rng.randint(1, 2))
        ]
        order = Order(
            order_id=f"{run_id}-w{wave}-{n:05d}",
            at=n / rate,
            lines=lines,
            buyer={
                "name": "Wave Buyer",
                "phone": f"137{rng.randint(0, 99_999_999):08d}",
                "address": f"{rng.randint(1, 999)} Wave Road, Hangzhou",
            },
        )
        for kind, delay in (("created", 0.0), ("paid", PAY_DELAY)):
            planned.append(
                Delivery(
                    order=order,
                    kind=kind,
                    at=order.at + delay,
                    updated_offset=1 if delay else 0,
                    webhook_id=f"msg_{order.order_id}_{kind}",
                    store=store,
                )
            )
    planned.sort(key=lambda d: d.at)
    return planned


def stock_skus(
    api_url: str, admin_key: str, run_id: str, count: int, units: int, warehouse: str
) -> list[str]:
    """Fresh SKUs of this run, each with `units` received through the inventory API."""
    skus = [f"WAVE-{run_id}-{n:02d}" for n in range(count)]
    for sku in skus:
        answer = requests.post(
            f"{api_url}/inventory/{sku}/adjustments",
            json={
                "adjustment_id": f"{sku}-stock",
                "warehouse": warehouse,
                "kind": "receipt",
                "quantity": units,
                "reason": "waves bench",
            },
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=HTTP_TIMEOUT,
        )
        if answer.status_code != 200:
            raise StackError(f"could not stock {sku}: {answer.status_code} {answer.text[:200]}")
    return skus


def run_wave(
    api_url: str, aws_url: str, seed: Any, deliveries: list[Delivery], drain_timeout: float
) -> dict[str, Any]:
    """Send one wave, wait until every accepted event is processed, measure it."""
    poller = BookingPoller(aws_url)
    sender = Sender(api_url, seed, threads=64, on_done=poller.watch)
    before = fetch_counts(aws_url)["total"]
    poller.start()
    sender.run(deliveries)
    deadline = time.monotonic() + drain_timeout
    while poller.outstanding() and time.monotonic() < deadline:
        time.sleep(0.2)
    poller.halt.set()
    poller.join(timeout=HTTP_TIMEOUT)
    requests_made = fetch_counts(aws_url)["total"] - before - sum(poller.own_requests.values())
    accepted = [d for d in deliveries if 200 <= d.status < 300]
    processed = [d for d in accepted if d.processed_wall]
    paid = [d for d in processed if d.kind == "paid"]
    refused = [d for d in deliveries if not 200 <= d.status < 300]
    booked = [d for d in paid if d.outcome == "booked"]
    first_send = min(d.sent_wall for d in deliveries)
    last_paid = max((d.processed_wall for d in paid), default=first_send)
    last_any = max((d.processed_wall for d in processed), default=first_send)
    return {
        "sent": len(deliveries),
        "accepted": len(accepted),
        "processed": len(processed),
        "paid": sum(1 for d in accepted if d.kind == "paid"),
        "refused": len(refused),
        "first_refusals": sorted({f"{d.status} {d.error[:120]}" for d in refused})[:3],
        "booked": len(booked),
        "outcomes": sorted({d.outcome for d in paid}),
        "booked_per_s": len(booked) / max(last_paid - first_send, 1e-6),
        "events_per_s": len(processed) / max(last_any - first_send, 1e-6),
        "requests_per_event": requests_made / max(len(processed), 1),
        "ack_p99_ms": (percentile([d.ack for d in accepted], 99) or 0.0) * 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waves", type=int, default=6)
    parser.add_argument("--orders", type=int, default=500, help="paid orders per wave")
    parser.add_argument("--rate", type=float, default=60.0, help="orders/s sent in a wave")
    parser.add_argument("--skus", type=int, default=20)
    parser.add_argument(
        "--warmup", type=int, default=50, help="orders sent first, not measured (cold caches)"
    )
    parser.add_argument("--store", default="demo-shop")
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument("--stack-log", type=Path)
    args = parser.parse_args(argv)
    seed = load_seed(args.store)
    run_id = f"W{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    host = machine()
    with private_stack(args.stack_log) as (api_url, aws_url):
        units = args.waves * args.orders * 2  # more than every line of every wave could take
        skus = stock_skus(api_url, seed.admin_key, run_id, args.skus, units, seed.warehouse)
        if args.warmup:  # a cold first wave would flatter the last one's share
            progress(f"warm-up: {args.warmup} orders, not measured ...")
            warm = plan_wave(run_id, 0, args.warmup, args.rate, skus, seed.store)
            run_wave(api_url, aws_url, seed, warm, args.drain_timeout)
        waves = []
        for wave in range(1, args.waves + 1):
            planned = plan_wave(run_id, wave, args.orders, args.rate, skus, seed.store)
            progress(f"wave {wave}: {args.orders} orders, {len(planned)} webhooks ...")
            waves.append(run_wave(api_url, aws_url, seed, planned, args.drain_timeout))
    print(
        f"OrderHub waves  run {run_id}  {datetime.now(UTC):%Y-%m-%dT%H:%M:%S}+00:00\n"
        f"machine    {host['cpus']} CPUs, Python {host['python']}, moto {host['moto']}; "
        f"load average at start {host['loadavg_at_start']}\n"
        f"{args.waves} waves x {args.orders} orders (created + paid), sent at "
        f"{args.rate:g} orders/s, {args.skus} SKUs stocked {units} units each"
    )
    print(
        " wave  booked/s  events/s  req/event  ack p99 ms  booked/paid  processed/accepted  refused"
    )
    for n, w in enumerate(waves, 1):
        print(
            f"{n:5d}  {w['booked_per_s']:8.1f}  {w['events_per_s']:8.1f}  "
            f"{w['requests_per_event']:9.2f}  {w['ack_p99_ms']:10.0f}  "
            f"{w['booked']:5d}/{w['paid']:<5d}  {w['processed']:8d}/{w['accepted']:<9d}  "
            f"{w['refused']:7d}"
        )
    share = waves[-1]["booked_per_s"] / max(waves[0]["booked_per_s"], 1e-6)
    verdict = "met" if share >= TARGET_SHARE else "NOT met"
    print(
        f"last wave books at {share:.2f} of the first's rate (target >= {TARGET_SHARE}: {verdict})"
    )
    for n, w in enumerate(waves, 1):
        if w["refused"]:  # not accepted: the platform retries these; nothing of them is kept
            print(f"wave {n}: {w['refused']} webhooks not accepted: {w['first_refusals']}")
    lost = [
        n
        for n, w in enumerate(waves, 1)
        if w["processed"] < w["accepted"] or w["booked"] < w["paid"]
    ]
    if lost:
        print(f"NOT every accepted event processed / accepted paid order booked in waves {lost}")
    return 2 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
