"""Drive a running OrderHub local stack with realistic signed own-shop (`mall`) webhooks.

    python bench/drive.py --mode bench   # open-loop load; latency, throughput, AWS requests
    python bench/drive.py --mode demo    # a gentle stream; one line per event, stock every 5 s

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
import ctypes
import dataclasses
import json
import math
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

# bench/ is not a package: make `import chalicelib` / `import local` resolve to this repo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.adapters.messaging import DeadLetterQueue
from chalicelib.channels.standard_webhooks import sign_standard_webhook

ROOT = Path(__file__).resolve().parents[1]
SEED_FILE = ROOT / "local" / "seed.json"
REGION = "us-east-1"
EVENTS_TABLE = "orderhub-events"
PLATFORM = "mall"
SHANGHAI = timezone(timedelta(hours=8))
FOLLOW_UP_DELAY = (1.0, 4.0)  # seconds between an order's created and paid/cancelled event
FLASH_REDELIVERY_DELAY = 0.3  # seconds: the platform's duplicate of each flash-sale webhook
HTTP_TIMEOUT = 30.0
POLL_INTERVAL = 0.5
POLL_KEYS_PER_ROUND = 300  # BatchGetItem takes 100 keys: at most 3 emulator requests a round
LOADAVG_AT_START = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
HEALTH_HINT = "start the stack with `make run` first (or pass --start-stack)"

BUYERS = ("Li Lei", "Han Meimei", "Wang Fang", "Zhang Wei", "Liu Yang", "Chen Jing", "Zhao Min")
STREETS = ("Nanjing Road", "Huaihai Road", "Tianhe Road", "Wensan Road", "Renmin Road")
CITIES = ("Shanghai", "Hangzhou", "Guangzhou", "Shenzhen", "Suzhou", "Nanjing")


class StackError(Exception):
    """The stack is not there or not healthy; the message says what to do."""


# --------------------------------------------------------------------------- seed and orders


@dataclass(frozen=True)
class Seed:
    """What the driver takes from local/seed.json."""

    store: str
    secret: str
    admin_key: str
    skus: tuple[str, ...]
    warehouse: str  # the first seeded warehouse: where the flash sale's stock goes


def load_seed(store_id: str) -> Seed:
    """Read the store's signing secret, the admin API key and the SKUs from the dev seed."""
    seed = json.loads(SEED_FILE.read_text())
    store = next(
        (s for s in seed["stores"] if s["platform"] == PLATFORM and s["store_id"] == store_id),
        None,
    )
    if store is None:
        raise StackError(f"no {PLATFORM} store '{store_id}' in {SEED_FILE}")
    keys = [k["key"] for k in seed["api_keys"] if k.get("role") == "admin"] or [
        k["key"] for k in seed["api_keys"]
    ]
    return Seed(
        store=store_id,
        secret=store["credentials"]["webhook_secret"],
        admin_key=keys[0],
        skus=tuple(s["sku"] for s in seed["skus"]),
        warehouse=seed["warehouses"][0]["warehouse_id"],
    )


@dataclass
class Order:
    """One simulated shop order: its lines and buyer never change between its events."""

    order_id: str
    at: float  # seconds after the start when it is created
    lines: list[dict[str, Any]]
    buyer: dict[str, str]


@dataclass
class Delivery:
    """One webhook delivery and everything measured about it."""

    order: Order
    kind: str  # created | paid | cancelled
    at: float  # planned send time, seconds after the start
    updated_offset: int  # whole seconds after the order's created updated_at
    webhook_id: str
    sent_wall: float = 0.0  # time.time() when the request started
    late: float = 0.0  # how much later than planned the request started
    ack: float = 0.0  # request start -> response, seconds
    status: int = 0  # HTTP status; 0 = network error
    error: str = ""
    processed_wall: float = 0.0  # the event record's processed_at
    observed_wall: float = 0.0  # when the bench's poller first saw the record
    outcome: str = ""
    store: str = "demo-shop"

    @property
    def event_key(self) -> str:
        """The key of this delivery's record in the events table."""
        return f"{PLATFORM}#{self.store}#{self.webhook_id}"


STATUS = {"created": "unpaid", "paid": "paid", "cancelled": "cancelled"}


def unit_price(sku: str) -> str:
    """A stable, realistic price per SKU (the seed carries none)."""
    return f"{random.Random(sku).randint(1200, 39900) / 100:.2f}"


def plan_load(
    seed: Seed, run_id: str, rate: float, duration: float, rng: random.Random
) -> tuple[list[Order], list[Delivery]]:
    """Orders at `rate`/s for `duration` s: ~70% later paid, ~10% later cancelled, rest not."""
    orders: list[Order] = []
    deliveries: list[Delivery] = []
    count = max(1, round(rate * duration))
    for n in range(count):
        skus = rng.sample(seed.skus, k=rng.randint(1, min(3, len(seed.skus))))
        order = Order(
            order_id=f"{run_id}-{n:05d}",
            at=n / rate,
            lines=[
                {"sku": sku, "quantity": rng.randint(1, 2), "unit_price": unit_price(sku)}
                for sku in skus
            ],
            buyer={
                "name": rng.choice(BUYERS),
                "phone": f"13{rng.randint(0, 9)}{rng.randint(0, 99_999_999):08d}",
                "address": f"{rng.randint(1, 999)} {rng.choice(STREETS)}, {rng.choice(CITIES)}",
            },
        )
        orders.append(order)
        kinds = [("created", 0.0)]
        roll = rng.random()
        if roll < 0.8:
            kinds.append(("paid" if roll < 0.7 else "cancelled", rng.uniform(*FOLLOW_UP_DELAY)))
        for kind, delay in kinds:
            deliveries.append(
                Delivery(
                    order=order,
                    kind=kind,
                    at=order.at + delay,
                    updated_offset=math.ceil(delay),
                    webhook_id=f"msg_{order.order_id}_{kind}",
                    store=seed.store,
                )
            )
    deliveries.sort(key=lambda d: d.at)
    return orders, deliveries


def payload(delivery: Delivery, created_at: datetime) -> bytes:
    """The body per README's own-shop contract; updated_at grows along the order's events."""
    updated = (created_at + timedelta(seconds=delivery.updated_offset)).isoformat()
    return json.dumps(
        {
            "type": f"order.{delivery.kind}",
            "timestamp": updated,
            "data": {
                "order_id": delivery.order.order_id,
                "status": STATUS[delivery.kind],
                "updated_at": updated,
                "currency": "CNY",
                "lines": delivery.order.lines,
                "buyer": delivery.order.buyer,
            },
        }
    ).encode()


# --------------------------------------------------------------------------- sending


class Sender:
    """Open-loop sender: each delivery starts at its planned time on a pool thread."""

    def __init__(
        self,
        api_url: str,
        seed: Seed,
        threads: int,
        on_done: Callable[[Delivery], None] | None = None,
    ) -> None:
        self.url = f"{api_url}/webhooks/{PLATFORM}/{seed.store}"
        self.secret = seed.secret
        self.threads = threads
        self.on_done = on_done
        self.stop = threading.Event()
        self._local = threading.local()
        self.start_wall = 0.0
        self.start_mono = 0.0

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def created_at(self, delivery: Delivery) -> datetime:
        """The order's created updated_at: its planned wall time in +08:00, whole seconds."""
        wall = datetime.fromtimestamp(self.start_wall + delivery.order.at, tz=SHANGHAI)
        return wall.replace(microsecond=0)

    def send(self, delivery: Delivery) -> None:
        """Sign and post one delivery; record its ack latency and status."""
        if self.stop.is_set():
            return
        body = payload(delivery, self.created_at(delivery))
        now = datetime.now(UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": delivery.webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign_standard_webhook(self.secret, delivery.webhook_id, now, body),
        }
        delivery.sent_wall = time.time()
        started = time.perf_counter()
        delivery.late = max(0.0, time.monotonic() - self.start_mono - delivery.at)
        try:
            response = self._session().post(
                self.url, data=body, headers=headers, timeout=HTTP_TIMEOUT
            )
            delivery.status = response.status_code
            if response.status_code >= 300:
                delivery.error = response.text[:200]
        except requests.RequestException as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"[:200]
        delivery.ack = time.perf_counter() - started
        if self.on_done is not None:
            self.on_done(delivery)

    def run(self, deliveries: list[Delivery]) -> bool:
        """Send every delivery at its planned time; False if stopped early (Ctrl-C)."""
        self.start_wall, self.start_mono = time.time(), time.monotonic()
        completed = True
        pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sender")
        try:
            for delivery in deliveries:
                delay = self.start_mono + delivery.at - time.monotonic()
                if (delay > 0 and self.stop.wait(delay)) or self.stop.is_set():
                    completed = False
                    break
                pool.submit(self.send, delivery)
        except KeyboardInterrupt:
            completed = False
        if not completed:
            self.stop.set()  # queued deliveries now return without sending
        try:
            pool.shutdown(wait=True)
        except KeyboardInterrupt:
            completed = False
            self.stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
        return completed


# --------------------------------------------------------------------------- booking poller


def aws_client(service: str, aws_url: str) -> Any:
    """A boto3 client for the emulator (fake credentials), without retries."""
    return boto3.client(
        service,
        endpoint_url=aws_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            retries={"max_attempts": 1, "mode": "standard"},
            read_timeout=HTTP_TIMEOUT,
            connect_timeout=5,
        ),
    )


def parse_processed_at(text: str) -> float:
    """pynamodb's UTCDateTimeAttribute text ("...T...%f+0000") as a Unix time."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    except ValueError:
        return datetime.fromisoformat(text).timestamp()


class BookingPoller(threading.Thread):
    """Reads the events table (BatchGetItem, oldest pending first) until told to stop.

    The record's `processed_at` is the booking time, so how often we poll changes only the
    cost, never the measured latency. Every request we send is counted, so the report can
    subtract it from the emulator's counters.
    """

    def __init__(self, aws_url: str) -> None:
        super().__init__(name="booking-poller", daemon=True)
        self.ddb = aws_client("dynamodb", aws_url)
        self.own_requests: Counter[str] = Counter()
        self.ddb.meta.events.register("before-send.dynamodb", self._count)
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.pending: dict[str, Delivery] = {}  # insertion order = send order
        self.errors = 0
        self.round_trips: list[float] = []  # seconds per BatchGetItem: emulator load probe

    def _count(self, event_name: str = "", **kwargs: Any) -> None:
        self.own_requests[f"dynamodb.{event_name.rsplit('.', 1)[-1]}"] += 1

    def watch(self, delivery: Delivery) -> None:
        """Track an accepted delivery until its event record appears."""
        if 200 <= delivery.status < 300:
            with self.lock:
                self.pending[delivery.event_key] = delivery

    def outstanding(self) -> int:
        """Accepted deliveries not yet seen processed."""
        with self.lock:
            return len(self.pending)

    def run(self) -> None:
        while not self.halt.is_set():
            with self.lock:
                keys = list(self.pending)[:POLL_KEYS_PER_ROUND]
            for start in range(0, len(keys), 100):
                if self.halt.is_set():
                    return
                self._fetch(keys[start : start + 100])
            self.halt.wait(POLL_INTERVAL)

    def _fetch(self, keys: list[str]) -> None:
        started = time.perf_counter()
        try:
            answer = self.ddb.batch_get_item(
                RequestItems={
                    EVENTS_TABLE: {
                        "Keys": [{"event_key": {"S": key}} for key in keys],
                        "ConsistentRead": True,
                        "ProjectionExpression": "#k, #o, #p",
                        "ExpressionAttributeNames": {
                            "#k": "event_key",
                            "#o": "outcome",
                            "#p": "processed_at",
                        },
                    }
                }
            )
        except Exception:  # a slow or busy emulator: try again next round
            self.errors += 1
            return
        seen = time.time()
        self.round_trips.append(time.perf_counter() - started)
        for item in answer.get("Responses", {}).get(EVENTS_TABLE, []):
            with self.lock:
                delivery = self.pending.pop(item["event_key"]["S"], None)
            if delivery is None:
                continue
            delivery.outcome = item.get("outcome", {}).get("S", "?")
            delivery.processed_wall = parse_processed_at(item["processed_at"]["S"])
            delivery.observed_wall = seen


# --------------------------------------------------------------------------- stack


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _own_session() -> None:  # pragma: no cover - runs in the child before exec
    """Ctrl-C reaches only the driver (which stops the stack); die with the driver (Linux)."""
    os.setsid()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def private_stack(log_file: Path | None) -> Iterator[tuple[str, str]]:
    """Start `python -m local.stack` on free ports (as the e2e tests do); SIGINT it after."""
    api_port, aws_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-") as tmp:
        state_file = Path(tmp) / "stack.json"
        log_path = log_file or Path(tmp) / "stack.log"
        env = dict(
            os.environ,
            ORDERHUB_API_PORT=str(api_port),
            ORDERHUB_AWS_PORT=str(aws_port),
            ORDERHUB_STATE_FILE=str(state_file),
            # Short retry delays, so a chaos run reaches the DLQ in seconds, not minutes.
            ORDERHUB_RETRY_BASE_SECONDS=os.environ.get("ORDERHUB_RETRY_BASE_SECONDS", "1"),
        )
        os.environ["ORDERHUB_STATE_FILE"] = str(state_file)  # for the jobs we run
        progress(f"starting a private stack (API :{api_port}, emulator :{aws_port}) ...")
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "local.stack"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_own_session,
            )
        try:
            deadline = time.monotonic() + 120
            while not state_file.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise StackError(f"the private stack did not come up:\n{tail}")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{aws_port}"
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            progress("private stack stopped")


def check_health(api_url: str) -> None:
    """GET /health; raise StackError with what to do unless it answers 200."""
    try:
        response = requests.get(f"{api_url}/health", timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise StackError(
            f"OrderHub API at {api_url} does not answer ({type(exc).__name__}); {HEALTH_HINT}"
        ) from None
    if response.status_code != 200:
        raise StackError(
            f"OrderHub API at {api_url}/health answered {response.status_code} "
            f"{response.text[:200]!r}; {HEALTH_HINT}"
        )


# --------------------------------------------------------------------------- reporting


def progress(message: str) -> None:
    """Status line on stderr (stdout carries only the report)."""
    print(f"[drive] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict[str, float | int | None]:
    """p50/p99/max in milliseconds."""
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else None,
    }


def machine() -> dict[str, Any]:
    """CPUs (as nproc counts them), CPU model, Python and moto versions."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 0
    try:
        moto = metadata.version("moto")
    except metadata.PackageNotFoundError:
        moto = "?"
    return {
        "cpus": cpus,
        "cpu_model": model,
        "python": platform.python_version(),
        "moto": moto,
        "os": platform.platform(terse=True),
        "loadavg_at_start": LOADAVG_AT_START,
    }


def fetch_counts(aws_url: str) -> dict[str, Any]:
    """The emulator's request counters since the last reset."""
    try:
        response = requests.get(f"{aws_url}/_orderhub/requests", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
    except (requests.RequestException, ValueError) as exc:
        progress(f"could not read the emulator's request counts ({exc}); AWS lines stay empty")
        return {"total": 0, "by_operation": {}}
    return result


def reset_counts(aws_url: str) -> None:
    """Zero the emulator's request counters."""
    try:
        response = requests.post(f"{aws_url}/_orderhub/requests/reset", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise StackError(
            f"the AWS emulator at {aws_url} does not answer /_orderhub/requests/reset ({exc}); "
            f"{HEALTH_HINT}, or pass --aws-url"
        ) from None


def _per(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ms(value: float | int | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def build_report(
    args: argparse.Namespace,
    api_url: str,
    aws_url: str,
    orders: list[Order],
    deliveries: list[Delivery],
    sender: Sender,
    poller: BookingPoller,
    counts: dict[str, Any],
    finished: dict[str, Any],
) -> dict[str, Any]:
    """Everything measured, as plain data (printed as text or JSON)."""
    sent = [d for d in deliveries if d.sent_wall]
    accepted = [d for d in sent if 200 <= d.status < 300]
    processed = [d for d in accepted if d.processed_wall]
    created = [d for d in sent if d.kind == "created"]
    span = (created[-1].sent_wall - created[0].sent_wall) if len(created) > 1 else 0.0
    achieved = (len(created) - 1) / span if span > 0 else None
    first_send = min((d.sent_wall for d in sent), default=0.0)
    last_processed = max((d.processed_wall for d in processed), default=0.0)
    window = last_processed - first_send if processed else 0.0
    by_order: dict[str, list[Delivery]] = {}
    for d in sent:
        by_order.setdefault(d.order.order_id, []).append(d)
    orders_done = sum(1 for ds in by_order.values() if all(d.processed_wall for d in ds))

    own = poller.own_requests
    by_op: dict[str, int] = {}
    for op, n in counts.get("by_operation", {}).items():
        if int(n) - own.get(op, 0):
            by_op[op] = int(n) - own.get(op, 0)
    total = sum(by_op.values())
    tx = by_op.get("dynamodb.TransactWriteItems", 0)

    def ratio(n: int, d: int) -> float | None:
        return n / d if d else None

    return {
        "run_id": finished["run_id"],
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "api_url": api_url,
        "aws_url": aws_url,
        "interrupted": finished["interrupted"],
        "load": {
            "rate_asked": args.rate,
            "rate_achieved": achieved,
            "duration_s": args.duration,
            "send_phase_s": finished["send_phase_s"],
            "sender_threads": sender.threads,
            "orders": len(by_order),
            "orders_planned": len(orders),
            "events_by_type": dict(Counter(d.kind for d in sent)),
            "sender_late": summary([d.late for d in sent]),
        },
        "events": {
            "sent": len(sent),
            "accepted": len(accepted),
            "non_2xx": dict(Counter(str(d.status) for d in sent if d.status and d.status >= 300)),
            "network_errors": sum(1 for d in sent if not d.status),
            "first_errors": sorted({d.error for d in sent if d.error})[:3],
        },
        "ack_latency": summary([d.ack for d in sent if d.status]),
        "booked_latency": summary([max(0.0, d.processed_wall - d.sent_wall) for d in processed]),
        "observed_latency": summary([d.observed_wall - d.sent_wall for d in processed]),
        "processed": len(processed),
        "not_processed": len(accepted) - len(processed),
        "drain_s": finished["drain_s"],
        "throughput": {
            "window_s": window,
            "events_per_s": len(processed) / window if window > 0 else None,
            "orders_per_s": orders_done / window if window > 0 else None,
            "orders_fully_processed": orders_done,
        },
        "outcomes": dict(Counter(d.outcome for d in processed).most_common()),
        "aws_requests": {
            "total": total,
            "per_event": ratio(total, len(processed)),
            "by_operation": dict(sorted(by_op.items(), key=lambda kv: -kv[1])),
            "bench_own_subtracted": dict(own),
            "transact_write_items_per_event": ratio(tx, len(processed)),
            "transact_write_items_per_order": ratio(tx, orders_done),
            "poller_errors": poller.errors,
            "poller_batch_get_item": summary(poller.round_trips),
        },
    }


def print_report(r: dict[str, Any]) -> None:
    """The human-readable report."""
    m, load, ev = r["machine"], r["load"], r["events"]
    ack, booked, seen = r["ack_latency"], r["booked_latency"], r["observed_latency"]
    tput, aws = r["throughput"], r["aws_requests"]
    achieved = load["rate_achieved"]
    lines = [
        f"OrderHub bench  run {r['run_id']}  {r['when']}"
        + ("  (INTERRUPTED: partial numbers)" if r["interrupted"] else ""),
        f"machine    {m['cpus']} CPUs (nproc), {m['cpu_model']}, Python {m['python']}, "
        f"moto {m['moto']}, {m['os']}; load average at start {m['loadavg_at_start']}",
        f"stack      API {r['api_url']}  emulator {r['aws_url']}",
        f"load       {load['rate_asked']:g} orders/s asked, "
        + (f"{achieved:.1f} achieved" if achieved else "- achieved")
        + f", {load['duration_s']:g} s of new orders (send phase {load['send_phase_s']:.1f} s"
        f" incl. follow-ups), {load['sender_threads']} sender threads",
        f"           {load['orders']} orders -> {ev['sent']} events "
        + ", ".join(f"{k} {v}" for k, v in sorted(load["events_by_type"].items()))
        + f"; sender late p99 {_ms(load['sender_late']['p99_ms'])}",
        *(
            [
                "           WARNING: sends started late (sender pool saturated, the load was not "
                "fully open-loop); ack latency excludes that wait"
            ]
            if (load["sender_late"]["p99_ms"] or 0) > 100
            else []
        ),
        f"events     sent {ev['sent']}, accepted (202) {ev['accepted']}, non-2xx "
        f"{sum(ev['non_2xx'].values())} {ev['non_2xx'] or ''}, network errors "
        f"{ev['network_errors']}",
        *(f"           error: {e}" for e in ev["first_errors"]),
        f"ack        p50 {_ms(ack['p50_ms'])}  p99 {_ms(ack['p99_ms'])}  max {_ms(ack['max_ms'])}"
        "   (request start -> 202, client side)",
        f"booked     p50 {_ms(booked['p50_ms'])}  p99 {_ms(booked['p99_ms'])}  "
        f"max {_ms(booked['max_ms'])}   (request start -> processed_at of the event record)",
        f"observed   p50 {_ms(seen['p50_ms'])}  p99 {_ms(seen['p99_ms'])}  "
        f"max {_ms(seen['max_ms'])}   (request start -> record seen by the poller; upper bound)",
        f"processed  {r['processed']} of {ev['accepted']} accepted events"
        + (f", {r['not_processed']} NOT processed" if r["not_processed"] else "")
        + f" (drain after sending: {r['drain_s']:.1f} s)",
        "throughput "
        + (
            f"{tput['events_per_s']:.1f} events/s, {tput['orders_per_s']:.1f} orders/s "
            f"sustained ({tput['orders_fully_processed']} orders fully processed in "
            f"{tput['window_s']:.1f} s, first send -> last processed)"
            if tput["events_per_s"]
            else "-"
        ),
        "outcomes   " + (", ".join(f"{k} {v}" for k, v in r["outcomes"].items()) or "-"),
        f"AWS        {aws['total']} emulator requests = {_per(aws['per_event'])} per processed "
        f"event; DynamoDB TransactWriteItems {_per(aws['transact_write_items_per_event'])} per "
        f"event, {_per(aws['transact_write_items_per_order'])} per order (fully processed)",
    ]
    for op, n in list(aws["by_operation"].items())[:10]:
        per = _per(n / r["processed"] if r["processed"] else None)
        lines.append(f"           {op:<34} {n:>7}  {per:>6}/event")
    own = ", ".join(f"{k} {v}" for k, v in aws["bench_own_subtracted"].items()) or "none"
    probe = aws["poller_batch_get_item"]
    lines.append(
        "           counted by the emulator from reset (before sending) to the end of the drain:"
        " API, worker (incl. empty long polls), scheduler and any other client;"
        f" the bench's own requests are subtracted ({own})"
    )
    lines.append(
        f"probe      the poller's BatchGetItem (<=100 keys) round trip: p50 {_ms(probe['p50_ms'])}"
        f"  p99 {_ms(probe['p99_ms'])}  max {_ms(probe['max_ms'])}  (emulator queueing under load)"
    )
    print("\n".join(lines), flush=True)


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


def stock_table(api_url: str, seed: Seed) -> str:
    """Totals per seed SKU from GET /inventory/{sku}."""
    headers = {"Authorization": f"Bearer {seed.admin_key}"}
    width = max(len(s) for s in seed.skus)
    rows = [
        f"  stock at {datetime.now():%H:%M:%S}".ljust(width + 4)
        + "  on_hand  locked  reserved  available"
    ]
    for sku in seed.skus:
        try:
            response = requests.get(f"{api_url}/inventory/{sku}", headers=headers, timeout=10)
            response.raise_for_status()
            t = response.json()["total"]
            rows.append(
                f"  {sku:<{width}}    {t['on_hand']:>7} {t['locked']:>7} {t['reserved']:>9} "
                f"{t['available']:>10}"
            )
        except (requests.RequestException, ValueError, KeyError) as exc:
            rows.append(f"  {sku:<{width}}    (not readable: {type(exc).__name__})")
    return "\n".join(rows)


def run_demo(args: argparse.Namespace, api_url: str, seed: Seed) -> int:
    """A gentle stream: one line per event, a stock table every ~5 s; Ctrl-C ends it."""
    run_id = f"D{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    _, deliveries = plan_load(seed, run_id, args.rate, args.duration, random.Random(run_id))
    out = threading.Lock()

    def say(text: str) -> None:
        with out:
            print(text, flush=True)

    def show(d: Delivery) -> None:
        skus = ", ".join(f"{line['sku']}x{line['quantity']}" for line in d.order.lines)
        answer = str(d.status) if d.status else "network error"
        say(
            f"{datetime.now():%H:%M:%S}  {d.order.order_id}  order.{d.kind:<10} {skus:<58} "
            f"-> {answer} ({d.ack * 1000:.0f} ms)"
        )

    sender = Sender(api_url, seed, args.senders or 8, on_done=show)
    halt = threading.Event()

    def stock_loop() -> None:
        while True:
            say(stock_table(api_url, seed))
            if halt.wait(5.0):
                return

    say(
        f"demo {run_id}: {args.rate:g} orders/s for {args.duration:g} s to "
        f"{api_url}/webhooks/{PLATFORM}/{seed.store} (Ctrl-C stops)"
    )
    watcher = threading.Thread(target=stock_loop, name="stock", daemon=True)
    watcher.start()
    completed = sender.run(deliveries)
    halt.set()
    watcher.join(timeout=HTTP_TIMEOUT)
    sent = [d for d in deliveries if d.sent_wall]
    ok = sum(1 for d in sent if 200 <= d.status < 300)
    say(("stopped" if not completed else "done") + f": {len(sent)} events sent, {ok} accepted")
    with contextlib.suppress(KeyboardInterrupt):
        time.sleep(2.0)  # let the last events book before the final table
        say(stock_table(api_url, seed))
    return 0


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command line; defaults depend on the mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=("bench", "flash", "chaos", "demo"), default="bench")
    parser.add_argument("--fault-rate", type=float, default=0.05, help="chaos: per request")
    parser.add_argument("--flash-stock", type=int, default=100, help="flash: units in stock")
    parser.add_argument("--flash-orders", type=int, default=1000, help="flash: orders sent")
    parser.add_argument("--rate", type=float, help="orders/s (bench 50, demo 2)")
    parser.add_argument("--duration", type=float, help="seconds of new orders (bench 20, demo 60)")
    parser.add_argument("--api-url", help="default http://127.0.0.1:$ORDERHUB_API_PORT (8000)")
    parser.add_argument("--aws-url", help="default http://127.0.0.1:$ORDERHUB_AWS_PORT (5000)")
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
    bench = args.mode in ("bench", "flash", "chaos")
    chaos = args.mode == "chaos"  # 500 orders: the minimum for a chaos run
    args.rate = args.rate or (20.0 if chaos else 50.0 if bench else 2.0)
    args.duration = args.duration or (25.0 if chaos else 20.0 if bench else 60.0)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    return args


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
    arm_hard_cap(
        180
        + args.duration
        + FOLLOW_UP_DELAY[1]
        + (args.drain_timeout if args.mode != "demo" else 0)
    )
    try:
        seed = load_seed(args.store)
        with contextlib.ExitStack() as stack:
            if args.start_stack:
                api_url, aws_url = stack.enter_context(private_stack(args.stack_log))
            else:
                api_port = os.environ.get("ORDERHUB_API_PORT", "8000")
                aws_port = os.environ.get("ORDERHUB_AWS_PORT", "5000")
                api_url = args.api_url or f"http://127.0.0.1:{api_port}"
                aws_url = args.aws_url or f"http://127.0.0.1:{aws_port}"
            check_health(api_url)
            if args.mode == "demo":
                return run_demo(args, api_url, seed)
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
        return 0 if args.mode == "demo" else 130


if __name__ == "__main__":
    sys.exit(main())
