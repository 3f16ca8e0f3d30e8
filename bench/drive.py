"""Drive a running OrderHub local stack with realistic signed own-shop (`mall`) webhooks.

    python bench/drive.py --mode bench   # open-loop load; latency, throughput, AWS requests

Targets the stack of `make run` (ORDERHUB_API_PORT / ORDERHUB_AWS_PORT, or --api-url /
--aws-url), or starts a private one on free ports with --start-stack. What each number means
and how it is measured: docs/performance.md.

Exit status: 0 done; 1 no healthy stack; 2 bench finished but a delivery got a 4xx or an
accepted event was not booked within --drain-timeout; 130 interrupted (bench); 3 hard
wall-time cap hit.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import math
import os
import random
import secrets
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

# run as a script (python bench/drive.py): make `import bench` / `chalicelib` / `local` resolve
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cost_probe import print_cost
from bench.load import (
    FLASH_REDELIVERY_DELAY,
    FOLLOW_UP_DELAY,
    HTTP_TIMEOUT,
    PLATFORM,
    ROOT,
    BookingPoller,
    Delivery,
    Order,
    Seed,
    Sender,
    StackError,
    aws_client,
    check_health,
    load_seed,
    plan_load,
    private_stack,
    progress,
)
from bench.report import (
    _ms,
    build_report,
    fetch_counts,
    print_report,
    reset_counts,
    summary,
)
from chalicelib.adapters.messaging import DeadLetterQueue

# --------------------------------------------------------------------------- modes


def run_bench(args: argparse.Namespace, api_url: str, aws_url: str, seed: Seed) -> int:
    """Open-loop load, then drain, then the report. Returns the exit code."""
    run_id = f"B{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    orders, deliveries = plan_load(seed, run_id, args.rate, args.duration, random.Random(run_id))
    threads = args.senders or min(256, max(8, math.ceil(len(deliveries) / args.duration * 2)))
    poller = BookingPoller(aws_url)
    sender = Sender(api_url, seed, threads, on_done=poller.watch)
    reset_counts(aws_url)
    poller.start()
    progress(
        f"run {run_id}: {len(orders)} orders / {len(deliveries)} events at {args.rate:g} "
        f"orders/s for {args.duration:g} s ..."
    )
    started = time.monotonic()
    completed = sender.run(deliveries)
    send_phase = time.monotonic() - started
    drain_started = time.monotonic()
    drain_deadline = drain_started + (args.drain_timeout if completed else 5.0)
    progress(f"sending done in {send_phase:.1f} s; waiting for {poller.outstanding()} bookings")
    try:
        while poller.outstanding() and time.monotonic() < drain_deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        completed = False
    drain = time.monotonic() - drain_started
    poller.halt.set()
    poller.join(timeout=HTTP_TIMEOUT)
    counts = fetch_counts(aws_url)
    report = build_report(
        args,
        api_url,
        aws_url,
        orders,
        deliveries,
        sender,
        poller,
        counts,
        {
            "run_id": run_id,
            "interrupted": not completed,
            "send_phase_s": send_phase,
            "drain_s": drain,
        },
    )
    if args.csv:
        write_csv(args.csv, deliveries, sender.start_wall)
    if args.json:
        print(json.dumps(report, indent=2), flush=True)
    else:
        print_report(report)
        print_cost(report, counts, aws_client("dynamodb", aws_url))  # bench/cost.py
    if not completed:
        return 130
    four_xx = any(400 <= d.status < 500 for d in deliveries)
    return 2 if four_xx or report["not_processed"] or not report["processed"] else 0


def plan_flash(
    seed: Seed, run_id: str, sku: str, rate: float, count: int
) -> tuple[list[Order], list[Delivery]]:
    """`count` single-unit orders of one SKU at `rate`/s, each webhook delivered twice."""
    orders: list[Order] = []
    deliveries: list[Delivery] = []
    for n in range(count):
        order = Order(
            f"{run_id}-{n:05d}",
            n / rate,
            [{"sku": sku, "quantity": 1, "unit_price": "9.90"}],
            {"name": "Flash Buyer", "phone": f"139{n:08d}", "address": "Live stream"},
        )
        orders.append(order)
        for repeat in (0.0, FLASH_REDELIVERY_DELAY):
            deliveries.append(
                Delivery(
                    order,
                    "created",
                    order.at + repeat,
                    0,
                    f"msg_{order.order_id}_created",
                    store=seed.store,
                )
            )
    deliveries.sort(key=lambda d: d.at)
    return orders, deliveries


def run_flash(args: argparse.Namespace, api_url: str, aws_url: str, seed: Seed) -> int:
    """A live-stream flash sale: many single-unit orders for a small stock, every webhook sent
    twice. Prints booked, rejected and oversold (must be 0) and AWS requests per order."""
    run_id = f"F{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    sku = f"FLASH-{run_id}"
    receipt = {
        "adjustment_id": f"{run_id}-stock",
        "warehouse": seed.warehouse,
        "kind": "receipt",
        "quantity": args.flash_stock,
        "reason": "flash sale bench",
    }
    answer = requests.post(
        f"{api_url}/inventory/{sku}/adjustments",
        json=receipt,
        headers={"Authorization": f"Bearer {seed.admin_key}"},
        timeout=HTTP_TIMEOUT,
    )
    if answer.status_code != 200:
        raise StackError(f"could not stock {sku}: {answer.status_code} {answer.text[:200]}")
    orders, deliveries = plan_flash(seed, run_id, sku, args.rate, args.flash_orders)
    threads = args.senders or min(256, max(8, math.ceil(args.rate * 4)))
    poller = BookingPoller(aws_url)
    sender = Sender(api_url, seed, threads, on_done=poller.watch)
    reset_counts(aws_url)
    poller.start()
    progress(
        f"flash {run_id}: {len(orders)} orders x2 deliveries for {args.flash_stock} units "
        f"of {sku} at {args.rate:g} orders/s ..."
    )
    started = time.monotonic()
    completed = sender.run(deliveries)
    deadline = time.monotonic() + (args.drain_timeout if completed else 5.0)
    while poller.outstanding() and time.monotonic() < deadline:
        time.sleep(0.2)
    elapsed = time.monotonic() - started
    poller.halt.set()
    poller.join(timeout=HTTP_TIMEOUT)
    counts = fetch_counts(aws_url)
    for op, n in poller.own_requests.items():
        counts["by_operation"][op] = counts["by_operation"].get(op, 0) - n
    stock = requests.get(
        f"{api_url}/inventory/{sku}",
        headers={"Authorization": f"Bearer {seed.admin_key}"},
        timeout=HTTP_TIMEOUT,
    ).json()["total"]
    outcomes = Counter(
        d.outcome for d in {d.event_key: d for d in deliveries if d.outcome}.values()
    )
    booked = outcomes.get("booked", 0)
    oversold = max(
        0, booked - args.flash_stock, stock["reserved"] - args.flash_stock, -stock["available"]
    )
    ddb = {op: n for op, n in counts["by_operation"].items() if op.startswith("dynamodb.")}
    lines = [
        f"OrderHub flash sale  run {run_id}  {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"load       {len(orders)} single-unit orders of {sku}, stock {args.flash_stock}, "
        f"{args.rate:g} orders/s asked, every webhook delivered twice "
        f"({len(deliveries)} deliveries)",
        f"acks       {sum(200 <= d.status < 300 for d in deliveries)} of {len(deliveries)} "
        f"2xx; ack p99 {_ms(summary([d.ack for d in deliveries if d.status])['p99_ms'])}",
        f"outcomes   booked {booked}, rejected_out_of_stock "
        f"{outcomes.get('rejected_out_of_stock', 0)}, not processed {poller.outstanding()}",
        f"oversold   {oversold}  (booked {booked} of {args.flash_stock}; final on_hand "
        f"{stock['on_hand']} reserved {stock['reserved']} available {stock['available']})",
        f"throughput {len(orders) / elapsed:.1f} orders/s processed end to end "
        f"({elapsed:.1f} s from first send to last booking)",
        f"DynamoDB   {sum(ddb.values()) / max(1, len(orders)):.2f} requests per order: "
        + ", ".join(
            f"{op.split('.', 1)[1]} {n / max(1, len(orders)):.2f}"
            for op, n in sorted(ddb.items(), key=lambda kv: -kv[1])
            if n > 0
        ),
    ]
    print("\n".join(lines), flush=True)
    if not completed:
        return 130
    return 2 if oversold or poller.outstanding() else 0


def set_faults(aws_url: str, rate: float, seed: int) -> dict[str, Any]:
    """Turn the emulator's fault injection on (rate > 0) or off; returns what it injected."""
    status = requests.get(f"{aws_url}/_orderhub/faults", timeout=HTTP_TIMEOUT).json()
    requests.post(
        f"{aws_url}/_orderhub/faults", json={"rate": rate, "seed": seed}, timeout=HTTP_TIMEOUT
    ).raise_for_status()
    return dict(status.get("injected", {}))


def wait_for_bookings(poller: BookingPoller, timeout: float, settle: float = 15.0) -> None:
    """Until every accepted event is booked, or nothing has moved for `settle` seconds (the
    rest is parked in the DLQ), or `timeout`."""
    deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
    while poller.outstanding() and time.monotonic() < deadline:
        if poller.outstanding() != last:
            last, since = poller.outstanding(), time.monotonic()
        elif time.monotonic() - since > settle:
            return
        time.sleep(0.5)


def run_chaos(args: argparse.Namespace, api_url: str, aws_url: str, seed: Seed) -> int:
    """Realistic orders, every webhook delivered 1-4 times in random order, while the emulator
    throttles, fails, cancels transactions and loses queue deletes at --fault-rate. Then the
    DLQ is replayed with faults off. Prints faults, retries, DLQ count, lost (must be 0) and
    the nightly audit's drift (double booking would show there: must be 0)."""
    run_id = f"C{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    rng = random.Random(run_id)
    orders, deliveries = plan_load(seed, run_id, args.rate, args.duration, rng)
    copies = [
        dataclasses.replace(d, at=d.at + rng.uniform(0.0, 2.0))
        for d in deliveries
        for _ in range(rng.randint(1, 4))
    ]
    copies.sort(key=lambda d: d.at)
    poller = BookingPoller(aws_url)
    sender = Sender(api_url, seed, args.senders or 64, on_done=poller.watch)
    reset_counts(aws_url)
    set_faults(aws_url, args.fault_rate, rng.randint(0, 2**31))
    poller.start()
    progress(
        f"chaos {run_id}: {len(orders)} orders, {len(deliveries)} events sent "
        f"{len(copies)} times, faults at {args.fault_rate:.0%} ..."
    )
    started = time.monotonic()
    completed = sender.run(copies)
    wait_for_bookings(poller, args.drain_timeout)
    injected = set_faults(aws_url, 0.0, 0)
    sqs = aws_client("sqs", aws_url)
    dlq_url = sqs.get_queue_url(QueueName="orderhub-order-events-dlq")["QueueUrl"]
    queue_url = sqs.get_queue_url(QueueName="orderhub-order-events")["QueueUrl"]
    parked = DeadLetterQueue(sqs, dlq_url, queue_url).browse()
    progress(
        f"sending done; {poller.outstanding()} events not booked, {len(parked)} parked in "
        "the DLQ: faults off, replaying"
    )
    dead_letters = DeadLetterQueue(sqs, dlq_url, queue_url)
    for message in parked:
        dead_letters.replay(message)
    wait_for_bookings(poller, args.drain_timeout, settle=args.drain_timeout)
    elapsed = time.monotonic() - started
    poller.halt.set()
    poller.join(timeout=HTTP_TIMEOUT)
    counts = fetch_counts(aws_url)["by_operation"]
    audit = subprocess.run(
        [sys.executable, "-m", "local.job", "audit_inventory"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    drift = (
        json.loads(audit.stdout[audit.stdout.index("{\n") :])["drifting_items"]
        if (audit.returncode == 0)
        else None
    )
    if drift is None:
        progress("the audit job failed: " + (audit.stderr.strip().splitlines() or ["?"])[-1])
    accepted = {d.event_key for d in copies if 200 <= d.status < 300}
    lost = poller.outstanding()
    conserved = requests.get(
        f"{api_url}/ops/conservation",
        params={"date": f"{datetime.now(UTC):%Y-%m-%d}", "store": f"{PLATFORM}/{seed.store}"},
        headers={"Authorization": f"Bearer {seed.admin_key}"},
        timeout=HTTP_TIMEOUT,
    ).json()
    balance = (conserved.get("stores") or [{}])[0]
    outcomes = Counter(d.outcome for d in {d.event_key: d for d in copies if d.outcome}.values())
    lines = [
        f"OrderHub chaos  run {run_id}  {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"load       {len(orders)} orders, {len(deliveries)} events, {len(copies)} deliveries "
        f"(each 1-4 times, shuffled); {len(accepted)} events accepted",
        f"faults     rate {args.fault_rate:.0%}: "
        + (", ".join(f"{k} {v}" for k, v in sorted(injected.items())) or "none"),
        f"work       {counts.get('dynamodb.TransactWriteItems', 0)} transactions and "
        f"{counts.get('sqs.ReceiveMessage', 0)} receives for {len(accepted)} events "
        "(retries and redeliveries included)",
        f"dlq        {len(parked)} parked after 5 attempts, replayed with faults off",
        "outcomes   " + ", ".join(f"{k} {v}" for k, v in outcomes.most_common()),
        f"lost       {lost}  (accepted events with no record at the end; must be 0)",
        f"conserved  accepted {balance.get('accepted', '?')} = booked {balance.get('booked', '?')}"
        f" + rejected {balance.get('rejected', '?')} + held {balance.get('held', '?')} + settled"
        f" {balance.get('settled_without_change', '?')} + DLQ {balance.get('in_dlq', '?')}"
        f" + in flight {balance.get('in_flight', '?')}; difference "
        f"{conserved.get('difference', '?')}  (today's receipts for the store, all runs)",
        f"double     drift {drift if drift is not None else '?'}  (nightly audit: ledger and "
        "open orders against balances; a double booking shows here; must be 0)",
        f"time       {elapsed:.1f} s",
    ]
    print("\n".join(lines), flush=True)
    if not completed:
        return 130
    return 0 if lost == 0 and drift == 0 and conserved.get("difference") is False else 2


def write_csv(path: Path, deliveries: list[Delivery], start_wall: float) -> None:
    """One row per planned delivery (times in seconds after the start), for plotting."""
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "order_id",
                "event",
                "planned_s",
                "sent_s",
                "late_ms",
                "ack_ms",
                "status",
                "processed_s",
                "booked_ms",
                "outcome",
            ]
        )
        for d in deliveries:
            sent = d.sent_wall - start_wall if d.sent_wall else None
            done = d.processed_wall - start_wall if d.processed_wall else None
            out.writerow(
                [
                    d.order.order_id,
                    d.kind,
                    f"{d.at:.3f}",
                    "" if sent is None else f"{sent:.3f}",
                    f"{d.late * 1000:.1f}" if d.sent_wall else "",
                    f"{d.ack * 1000:.1f}" if d.status else "",
                    d.status or "",
                    "" if done is None else f"{done:.3f}",
                    f"{(d.processed_wall - d.sent_wall) * 1000:.0f}" if d.processed_wall else "",
                    d.outcome,
                ]
            )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line; defaults depend on the mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=("bench", "flash", "chaos"), default="bench")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="chaos: per request")
    parser.add_argument("--flash-stock", type=int, default=100, help="flash: units in stock")
    parser.add_argument("--flash-orders", type=int, default=1000, help="flash: orders sent")
    parser.add_argument("--rate", type=float, help="orders/s (bench 50, chaos 20)")
    parser.add_argument("--duration", type=float, help="seconds of new orders (bench 20, chaos 25)")
    parser.add_argument("--api-url", help="default: the running stack's (its state file)")
    parser.add_argument("--aws-url", help="default: the running stack's (its state file)")
    parser.add_argument("--store", default="demo-shop", help="own-shop store id in the seed")
    parser.add_argument(
        "--start-stack", action="store_true", help="start a private stack on free ports"
    )
    parser.add_argument("--stack-log", type=Path, help="with --start-stack: keep its log here")
    parser.add_argument("--senders", type=int, default=0, help="sender threads (0 = auto)")
    parser.add_argument(
        "--drain-timeout", type=float, default=90.0, help="bench: max wait for bookings (s)"
    )
    parser.add_argument("--json", action="store_true", help="bench: print the report as JSON")
    parser.add_argument("--csv", type=Path, help="bench: also write one row per delivery here")
    args = parser.parse_args(argv)
    chaos = args.mode == "chaos"  # 500 orders: the minimum for a chaos run
    args.rate = args.rate or (20.0 if chaos else 50.0)
    args.duration = args.duration or (25.0 if chaos else 20.0)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    return args


def running_stack_urls(args: argparse.Namespace) -> tuple[str, str]:
    """The stack `make run` started, from its state file whatever its ports; --api-url and
    --aws-url win, and without a state file the ports' settings (defaults 8000 and 5000)."""
    from local.control import running_state

    state = running_state() or {}
    api_port = os.environ.get("ORDERHUB_API_PORT", "8000")
    aws_port = os.environ.get("ORDERHUB_AWS_PORT", "5000")
    api_url = args.api_url or state.get("api_url") or f"http://127.0.0.1:{api_port}"
    aws_url = args.aws_url or state.get("aws_url") or f"http://127.0.0.1:{aws_port}"
    return str(api_url), str(aws_url)


def arm_hard_cap(seconds: float) -> None:
    """Whatever hangs, end the process after `seconds` (a private stack dies with us)."""

    def expire() -> None:
        print(f"[drive] hard wall-time cap of {seconds:.0f} s reached; exiting", file=sys.stderr)
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def main(argv: list[str] | None = None) -> int:
    """Run the chosen mode against the running (or a private) stack."""
    args = parse_args(argv)
    arm_hard_cap(180 + args.duration + FOLLOW_UP_DELAY[1] + args.drain_timeout)
    try:
        seed = load_seed(args.store)
        with contextlib.ExitStack() as stack:
            if args.start_stack:
                api_url, aws_url = stack.enter_context(private_stack(args.stack_log))
            else:
                api_url, aws_url = running_stack_urls(args)
            check_health(api_url)
            if args.mode == "flash":
                return run_flash(args, api_url, aws_url, seed)
            if args.mode == "chaos":
                return run_chaos(args, api_url, aws_url, seed)
            return run_bench(args, api_url, aws_url, seed)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("[drive] interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
