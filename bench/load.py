"""Load for the local stack: the seed's stores and SKUs, realistic signed own-shop orders,
the sender, the booking poller and a private stack (bench/drive.py and bench/demo.py use them)."""

from __future__ import annotations

import contextlib
import ctypes
import json
import math
import os
import random
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
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

# bench/ is not a package: make `import chalicelib` / `import local` resolve to this repo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
    """The body per the own-shop contract (docs/platforms.md); updated_at grows per event."""
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
    """A boto3 client for the emulator (fake credentials), without retries; sent straight to
    the process of its service group when the emulator is split (local/emulator_groups.py)."""
    from local.emulator_groups import endpoint_for, endpoint_variables, fetch_endpoints

    return boto3.client(
        service,
        endpoint_url=endpoint_for(service, endpoint_variables(fetch_endpoints(aws_url)), aws_url),
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


def progress(message: str) -> None:
    """Status line on stderr (stdout carries only the report)."""
    print(f"[drive] {message}", file=sys.stderr, flush=True)


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
