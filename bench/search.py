"""The console's searches with 10,000 orders stored on the local stack: p50/p95 per query.

    python bench/search.py            # starts a private stack on free ports, stores, measures
    python bench/search.py --orders 2000 --rounds 50

Orders are written straight into the emulator's orders table through the same item builder
the booking commit uses (`adapters/dynamo.py` `_item_from_order`: every index key the search
reads), in BatchWriteItem calls, because booking 10,000 orders through webhooks takes minutes
on the serialized emulator (docs/performance.md) and the search does not care how they came.
Their buyers' phone blind indexes are computed with the stack's own key (the secret the
stack provisioned), so the phone lookups go through the real path. Spread: 11 stores (the
seed's), 30 Beijing days, 2,000 buyers, every status. Then each query below is sent `--rounds`
times over HTTP with the admin key and timed end to end (client side).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.adapters.dynamo import _item_from_order
from chalicelib.adapters.dynamo_models import TableNames, build_models
from chalicelib.adapters.personal_data import blind_index_key
from chalicelib.domain.blind_index import phone_index
from chalicelib.domain.model import (
    Booking,
    Buyer,
    Order,
    OrderLine,
    PlatformStatus,
)
from chalicelib.domain.privacy import mask_phone

ROOT = Path(__file__).resolve().parents[1]
SEED = json.loads((ROOT / "local" / "seed.json").read_text())
REGION = "us-east-1"
STATUSES = [
    (PlatformStatus.PAID, Booking.LOCKED),
    (PlatformStatus.SHIPPED, Booking.SHIPPED),
    (PlatformStatus.UNPAID, Booking.RESERVED),
    (PlatformStatus.CANCELLED, Booking.RELEASED),
    (PlatformStatus.PAID, Booking.NEEDS_ATTENTION),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_stack(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    api, aws = free_port(), free_port()
    state = tmp / "stack.json"
    env = dict(
        os.environ,
        ORDERHUB_API_PORT=str(api),
        ORDERHUB_AWS_PORT=str(aws),
        ORDERHUB_STUB_PORT=str(free_port()),
        ORDERHUB_PULL_STUB_PORT=str(free_port()),
        ORDERHUB_NOTIFY_STUB_PORT=str(free_port()),
        ORDERHUB_STATE_FILE=str(state),
    )
    log = open(tmp / "stack.log", "wb")  # noqa: SIM115 - the child keeps writing to it
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not state.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the stack did not start: " + (tmp / "stack.log").read_text()[-3000:])
        time.sleep(0.3)
    return process, f"http://127.0.0.1:{api}", f"http://127.0.0.1:{aws}"


def phone_of(n: int) -> str:
    return f"139{n:08d}"


def store_orders(aws: str, count: int, buyers: int) -> dict[str, Any]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    secrets = boto3.client("secretsmanager", endpoint_url=aws, region_name=REGION)
    key = blind_index_key(
        json.loads(secrets.get_secret_value(SecretId="orderhub/blind-index")["SecretString"])
    )
    names = TableNames(
        "orderhub-catalog",
        "orderhub-inventory",
        "orderhub-orders",
        "orderhub-events",
        "orderhub-anomalies",
        "orderhub-trail",
    )
    models = build_models(names, REGION, endpoint_url=aws)
    stores = [(s["platform"], s["store_id"]) for s in SEED["stores"]]
    skus = [s["sku"] for s in SEED["skus"]]
    rng = random.Random(13)
    now = datetime.now(UTC)
    started = time.monotonic()
    with models.orders.batch_write() as batch:
        for n in range(count):
            platform, store = stores[n % len(stores)]
            placed = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
            status, booking = STATUSES[n % len(STATUSES)]
            phone = phone_of(n % buyers)
            order = Order(
                platform=platform,
                store=store,
                order_id=f"B{n:06d}",
                status=status,
                booking=booking,
                updated_at=placed,
                updated_at_raw=placed.isoformat(),
                currency="CNY",
                lines=(OrderLine(rng.choice(skus), rng.randint(1, 3), Decimal("59.00")),),
                buyer=Buyer(
                    "B*", mask_phone(phone), "Shanghai", phone_index=phone_index(key, phone)
                ),
                holds=(),
                version=1,
                created_at=placed,
                placed_at=placed,
            )
            batch.save(_item_from_order(models, order))
    return {
        "orders": count,
        "buyers": buyers,
        "stores": len(stores),
        "write_seconds": round(time.monotonic() - started, 1),
    }


def prefix(rng: random.Random, count: int) -> str:
    """The first 5 characters of a stored order id (B + 4 of its 6 digits): ~100 orders."""
    return f"B{rng.randrange(count):06d}"[:5]


def tree_cpu_seconds(root: int) -> float:
    """CPU time (user + system) used so far by the stack process and all its descendants (API,
    emulator, workers; they run in sessions of their own): what the requests cost the stack,
    however busy the machine is with other work."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, int]] = {}  # pid -> (parent, cpu ticks)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    tree, total, todo = {root}, 0, [root]
    while todo:
        parent = todo.pop()
        total += stats.get(parent, (0, 0))[1]
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                todo.append(pid)
    return total / tick


def measure(
    api: str, admin: str, rounds: int, buyers: int, count: int, root: int
) -> dict[str, dict[str, float]]:
    auth = {"Authorization": f"Bearer {admin}"}
    today = datetime.now(UTC).date()
    rng = random.Random(7)
    queries: dict[str, Any] = {
        "all stores, newest first": lambda: ("GET", "/orders?limit=25", None),
        "one store": lambda: ("GET", "/orders?store=mall/demo-shop&limit=25", None),
        "platform + status": lambda: ("GET", "/orders?platform=mall&status=paid&limit=25", None),
        "day range (3 days)": lambda: (
            "GET",
            f"/orders?from={today - timedelta(days=12)}&to={today - timedelta(days=10)}",
            None,
        ),
        "order-id prefix": lambda: ("GET", f"/orders?order_id={prefix(rng, count)}", None),
        "phone lookup (buyer view)": lambda: (
            "POST",
            "/buyers/lookup",
            {"phone": phone_of(rng.randrange(buyers))},
        ),
        "second page (cursor)": None,  # filled below
    }
    first = requests.get(f"{api}/orders?limit=25", headers=auth, timeout=30).json()
    cursor = first["next_cursor"]
    queries["second page (cursor)"] = lambda: ("GET", f"/orders?limit=25&cursor={cursor}", None)
    results: dict[str, dict[str, float]] = {}
    for name, build in queries.items():
        times = []
        cpu_before = tree_cpu_seconds(root)
        for _ in range(rounds):
            method, path, body = build()
            started = time.perf_counter()
            answer = requests.request(method, f"{api}{path}", json=body, headers=auth, timeout=30)
            times.append((time.perf_counter() - started) * 1000)
            if answer.status_code != 200:
                raise SystemExit(f"{name}: {answer.status_code} {answer.text[:300]}")
            found = answer.json()
            if not (found.get("orders") or found.get("count")):
                raise SystemExit(f"{name}: found nothing ({path})")
        cpu_ms = (tree_cpu_seconds(root) - cpu_before) * 1000 / rounds
        times.sort()
        print(f"{name}: p50 {statistics.median(times):.1f} ms", flush=True)
        results[name] = {
            "stack_cpu_ms": round(cpu_ms, 1),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
            "max_ms": round(times[-1], 1),
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args(argv)
    admin = next(k["key"] for k in SEED["api_keys"] if k["role"] == "admin")
    with tempfile.TemporaryDirectory() as tmp:
        process, api, aws = start_stack(Path(tmp))
        try:
            stored = store_orders(aws, args.orders, args.buyers)
            print(json.dumps({"stored": stored}), flush=True)
            results = measure(api, admin, args.rounds, args.buyers, args.orders, process.pid)
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
    width = max(len(n) for n in results)
    print(
        f"{'query':<{width}}  p50 ms  p95 ms  max ms  stack CPU ms/request"
        f"   ({args.rounds} requests each)"
    )
    for name, r in results.items():
        print(
            f"{name:<{width}}  {r['p50_ms']:>6}  {r['p95_ms']:>6}  {r['max_ms']:>6}"
            f"  {r['stack_cpu_ms']:>6}"
        )
    worst = max(r["p95_ms"] for r in results.values())
    print(f"worst p95: {worst} ms (target <= 300 ms)")
    if hasattr(os, "getloadavg"):
        print(f"load average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
