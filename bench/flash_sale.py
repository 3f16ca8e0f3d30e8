"""Flash-sale bench: one hot SKU with S units, many concurrent bookings, K = 0, 1, 2, 4, 8 shards.

The emulator runs in its own process with the per-item write limit on (local/item_throttle.py:
`--rate` writes a second per item, DynamoDB's ~1,000 scaled down), serialized as the local
stack runs it. For each K a fresh SKU gets S units (one receipt: on the base item at K = 0,
spread evenly over the shards at K >= 1), then
`--workers` threads book `--orders` single-unit orders through the real processor path
(`process_order_event`: read, plan, one transaction); a TransientFailure (throttled past the
processor's retries) goes back on the queue, as SQS would redeliver it. K = 0 is today's
layout (one item); K >= 1 shards the SKU (the base item plus K shard items).

Prints bookings/s (S / time until the last unit was booked) per K, and checks that exactly S
units were sold (no oversell, no undersell: demand exceeds S), every other order rejected,
every item's buckets >= 0 and the ledger audit clean. With it, to see where the time goes:
`throttled` (transactions cancelled by an item's limit), `top-ups` (applied/failed),
`requests/s` (the emulator's, until the last booking), the 1-minute load average, and with
`-v` the writes (throttles) of every stock item (K = 0: its writes from its first throttle).

    .venv/bin/python bench/flash_sale.py          # S=80, 100 orders, 1 write/s per item
    .venv/bin/python bench/flash_sale.py --auto 3 # not configured hot: marked after 3 throttles
    .venv/bin/python bench/flash_sale.py --rate 5 --stock 400 --orders 500 --shards 1 8

The limit is scaled far down because the emulator itself (serialized moto, Python) and this
process's bookers share a 2-core machine: with no limit (`--rate 0`) they book some 25/s on
one item and 65/s over 8 shards (measured, load ~5). `K x rate` must stay well below that,
or the emulator, not the item limit, is what the bench measures.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3
import requests

from chalicelib.adapters.dynamo import DynamoOrderRepository
from chalicelib.adapters.stock_shards import HotStockConfig
from chalicelib.deps import Container
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.errors import TransientFailure
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, Outcome, PlatformStatus
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment, audit_stock, ledger_balances
from local.emulator import set_fake_aws_env
from local.provision import function_environment, load_template, provision

REGION = "us-east-1"
WAREHOUSE = "wh"


@dataclass
class Result:
    shards: int
    seconds: float
    booked: int
    rejected: int
    redelivered: int
    rate: float
    commits: int = 0  # stock items written by committed transactions
    throttles: int = 0  # transactions cancelled by an item's write limit
    top_ups: str = ""  # applied / failed
    requests: int = 0  # emulator requests until the last booking
    per_item: str = ""  # writes (throttles) per stock item


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_emulator(port: int, rate: float) -> subprocess.Popen[bytes]:
    env = dict(os.environ, ORDERHUB_ITEM_WRITE_RATE=str(rate))
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.emulator", "--port", str(port)],
        cwd=Path(__file__).resolve().parents[1],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/_orderhub/requests", timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the emulator did not start")


@contextlib.contextmanager
def provisioned_emulator(
    rate: float, port: int = 0
) -> Iterator[tuple[Container, subprocess.Popen[bytes], int]]:
    """The emulator in its own process (per-item write limit `rate`, 0: none) on `port` (0: a
    free one), the template's resources on it and a Container using them; stopped on exit,
    and on SIGTERM."""
    env: dict[str, str] = {}
    set_fake_aws_env(env, REGION)
    os.environ.update(env)
    port = port or _free_port()
    emulator = _start_emulator(port, rate)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still stop the emulator
    try:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        session = boto3.session.Session(region_name=REGION)
        template = load_template()
        resources = provision(template, session.client, REGION)
        environ = {**function_environment(template, resources, REGION), "AWS_REGION": REGION}
        yield Container(environ=environ, now=lambda: datetime.now(UTC)), emulator, port
    finally:
        emulator.terminate()
        try:
            emulator.wait(30)
        except subprocess.TimeoutExpired:  # a loaded machine: stop it rather than leave it
            emulator.kill()
            emulator.wait(10)


def _order(sku: str, i: int) -> OrderEvent:
    at = datetime(2026, 11, 11, 0, 0, tzinfo=UTC)
    return OrderEvent(
        event_key=f"mall#s1#flash-{sku}-{i}",
        platform="mall",
        store="s1",
        order_id=f"{sku}-{i}",
        event_type="created",
        status=PlatformStatus.UNPAID,
        updated_at=at,
        updated_at_raw=at.isoformat(),
        currency="CNY",
        lines=(OrderLine(sku, 1, Decimal("9.90")),),
        buyer=Buyer("Li Lei", "13812345678", "1 Nanjing Road, Shanghai"),
        received_at=at,
    )


def _emulator_requests(port: int, reset: bool = False) -> int:
    url = f"http://127.0.0.1:{port}/_orderhub/requests"
    if reset:
        requests.post(url + "/reset", timeout=5)
        return 0
    return int(requests.get(url, timeout=5).json()["total"])


def run_one(
    container: Container,
    shards: int,
    stock: int,
    orders: int,
    workers: int,
    tag: str,
    port: int,
    auto: int = 0,
) -> Result:
    sku = f"FLASH-{tag}-K{shards}"
    if auto and shards:  # not configured hot: marked after `auto` throttled commits
        config = HotStockConfig(frozenset(), shards, auto)
    else:
        config = HotStockConfig(frozenset({sku}) if shards else frozenset(), max(shards, 1), 0)
    repo = DynamoOrderRepository(container.models, config)
    now = container.now
    adjust_stock(Adjustment(f"open-{sku}", sku, WAREHOUSE, "receipt", stock, "sale"), repo, now)
    todo: queue.Queue[OrderEvent] = queue.Queue()
    for i in range(orders):
        todo.put(_order(sku, i))
    outcomes: Counter[Outcome] = Counter()
    redelivered = 0
    last_booked = 0.0
    requests_at_last = 0
    _emulator_requests(port, reset=True)
    lock = threading.Lock()

    def work() -> None:
        nonlocal redelivered, last_booked, requests_at_last
        while True:
            try:
                ev = todo.get_nowait()
            except queue.Empty:
                return
            try:
                result = process_order_event(ev, repo, lambda: BookingContext(now()))
            except TransientFailure:
                with lock:
                    redelivered += 1
                todo.put(ev)  # SQS would deliver it again
                continue
            with lock:
                outcomes[result.outcome] += 1
                if result.outcome is Outcome.BOOKED:
                    last_booked = time.monotonic()
                    if outcomes[Outcome.BOOKED] == stock:
                        requests_at_last = _emulator_requests(port)

    start = time.monotonic()
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = last_booked - start
    _check(repo, container, sku, stock, orders, outcomes)
    booked = outcomes[Outcome.BOOKED]
    counts = repo._shards.counts  # per stock item (adapters/stock_shards.py)
    items = sorted({key for (_, s, key) in counts if s == sku})
    return Result(
        shards,
        seconds,
        booked,
        outcomes[Outcome.REJECTED_OUT_OF_STOCK],
        redelivered,
        booked / seconds if seconds > 0 else 0.0,
        sum(n for (what, s, _), n in counts.items() if what == "commit" and s == sku),
        sum(n for (what, s, _), n in counts.items() if what == "throttle" and s == sku),
        f"{counts[('top-up', sku, WAREHOUSE)]}/{counts[('top-up failed', sku, WAREHOUSE)]}",
        requests_at_last,
        " ".join(
            f"{key.rpartition('#')[2] if '#' in key else 'base'}:"
            f"{counts[('commit', sku, key)]}({counts[('throttle', sku, key)]})"
            for key in items
        ),
    )


def _check(
    repo: DynamoOrderRepository,
    container: Container,
    sku: str,
    stock: int,
    orders: int,
    outcomes: Counter[Outcome],
) -> None:
    problems = []
    if outcomes[Outcome.BOOKED] != stock:
        problems.append(f"booked {outcomes[Outcome.BOOKED]} orders for {stock} units")
    if outcomes[Outcome.REJECTED_OUT_OF_STOCK] != orders - stock:
        problems.append(f"rejected {outcomes[Outcome.REJECTED_OUT_OF_STOCK]}")
    (level,) = repo.get_sku_levels(sku)
    if (level.on_hand, level.reserved, level.available) != (stock, stock, 0):
        problems.append(f"summed level {level}")
    for item in container.models.inventory.query(sku, consistent_read=True):
        if min(item.on_hand, item.locked, item.reserved, item.available) < 0:
            problems.append(f"item {item.warehouse} below zero")
    ledger = [r for r in repo.ledger() if sku in str(r["movements"])]
    holding = [o for o in repo.open_orders() if any(h.sku == sku for h in o.holds)]
    drift = audit_stock([level], ledger_balances(ledger), holding)
    if drift:
        problems.append(f"ledger audit: {drift}")
    if problems:
        raise SystemExit(f"K={sku}: " + "; ".join(problems))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1.0, help="writes/s per item (emulator)")
    parser.add_argument("--stock", type=int, default=80, help="units of the hot SKU (S)")
    parser.add_argument("--orders", type=int, default=100, help="single-unit orders (> S)")
    parser.add_argument("--workers", type=int, default=24, help="concurrent bookers")
    parser.add_argument("--shards", type=int, nargs="+", default=[0, 1, 2, 4, 8])
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: a free one)")
    parser.add_argument(
        "--auto",
        type=int,
        default=0,
        help="K >= 1: the SKU is not configured hot but marked after this many throttles",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="writes per stock item")
    args = parser.parse_args(argv)
    if args.orders <= args.stock:
        parser.error("--orders must exceed --stock (demand above stock)")
    with provisioned_emulator(args.rate, args.port) as (container, _, port):
        tag = str(int(time.time())) + ("a" if args.auto else "")
        print(
            f"flash sale: S={args.stock} units, {args.orders} orders, {args.workers} workers, "
            f"emulator limit {args.rate:g} writes/s per item"
        )
        print(
            f"{'K':>3} {'bookings/s':>11} {'sold':>5} {'rejected':>9} {'redelivered':>12}"
            f" {'throttled':>10} {'top-ups':>8} {'requests/s':>11} {'load':>5}"
        )
        results: list[Any] = []
        for k in args.shards:
            r = run_one(container, k, args.stock, args.orders, args.workers, tag, port, args.auto)
            results.append(r)
            print(
                f"{k:>3} {r.rate:>11.1f} {r.booked:>5} {r.rejected:>9} {r.redelivered:>12}"
                f" {r.throttles:>10} {r.top_ups:>8} {r.requests / max(r.seconds, 1e-9):>11.0f}"
                f" {os.getloadavg()[0]:>5.1f}"  # the machine is shared: its 1-minute load
            )
            if args.verbose:
                print(f"    writes(throttles) per item: {r.per_item}")
        print(f"exactly {args.stock} units sold in every run; ledger audit clean")


if __name__ == "__main__":
    main()
