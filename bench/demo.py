"""`make demo`: a minute of realistic signed own-shop orders against the running local stack, to
watch stock move; and a stack still usable afterwards.

The demo sells only the seed SKUs that carry no safety stock (GIFT-BOX-NY is the limited-sale
example's) and that the first seed warehouse stocks, so that one warehouse can fill any of its
orders whole. It stops putting a SKU into new orders when fewer than `FLOOR` units are left
there, and restocks the SKU there to its seed level with a receipt whenever it falls below
three quarters of it: no order of the demo is rejected for stock, so no out-of-stock anomaly,
notice or e-mail. At the end it says how many of its orders ended booked, rejected and cancelled.

    .venv/bin/python -m bench.demo [--rate 2] [--duration 60]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import requests

# run as a script (python bench/demo.py): make `import bench` / `chalicelib` resolve
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import (
    HTTP_TIMEOUT,
    PLATFORM,
    SEED_FILE,
    Delivery,
    Order,
    Seed,
    Sender,
    StackError,
    check_health,
    load_seed,
    plan_load,
)

FLOOR = 6  # units: under it a SKU leaves new orders (in-flight ones are not in the stock read)
REFRESH_SECONDS = 2.0
BOOKED = ("reserved", "locked", "shipped")
CANCELLED = ("released",)
REJECTED = ("rejected_out_of_stock", "rejected_invalid", "needs_attention", "backordered")


def demo_skus(warehouse: str, seed_file: Path = SEED_FILE) -> dict[str, int]:
    """SKU -> its seed stock in `warehouse`, for the SKUs without a safety stock stocked there."""
    skus = json.loads(seed_file.read_text(encoding="utf-8"))["skus"]
    return {
        s["sku"]: int(s["stock"][warehouse])
        for s in skus
        if not s.get("safety_stock") and not s.get("holdback") and s["stock"].get(warehouse)
    }


@dataclass
class Shelf:
    """What the demo may still sell, refreshed from GET /inventory and restocked by receipts."""

    api_url: str
    key: str
    warehouse: str  # where the demo's stock is counted and restocked
    levels: dict[str, int]  # SKU -> its seed stock there: the level a restock brings it back to
    available: dict[str, int] = field(default_factory=dict)
    restocked: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"}

    def refresh(self) -> None:
        """Read each SKU's stock in the warehouse; restock one below half of its seed level."""
        for sku, level in self.levels.items():
            response = requests.get(
                f"{self.api_url}/inventory/{sku}", headers=self._headers(), timeout=HTTP_TIMEOUT
            )
            response.raise_for_status()
            rows = [w for w in response.json()["warehouses"] if w["warehouse"] == self.warehouse]
            available = int(rows[0]["available"]) if rows else 0
            if available < level * 3 / 4:
                self.restock(sku, level - available)
                available = level
            with self.lock:
                self.available[sku] = available

    def restock(self, sku: str, quantity: int) -> None:
        response = requests.post(
            f"{self.api_url}/inventory/{sku}/adjustments",
            headers=self._headers(),
            json={
                "adjustment_id": f"demo-restock-{secrets.token_hex(6)}",
                "warehouse": self.warehouse,
                "kind": "receipt",
                "quantity": quantity,
                "reason": "make demo: restock what the demo sold",
            },
            timeout=HTTP_TIMEOUT,
        )
        response.raise_for_status()
        self.restocked[sku] += quantity

    def fit(self, order: Order) -> bool:
        """Keep the order's lines that stock can take now (counting them as taken); False when
        none can."""
        with self.lock:
            kept = [
                line
                for line in order.lines
                if self.available.get(line["sku"], 0) - line["quantity"] >= FLOOR
            ]
            for line in kept:
                self.available[line["sku"]] -= line["quantity"]
        order.lines[:] = kept
        return bool(kept)


class DemoSender(Sender):
    """Sends an order's created event only with lines the shelf can take; its later events
    carry the same lines, or are not sent when the order was dropped."""

    def __init__(self, api_url: str, seed: Seed, shelf: Shelf, on_done: object) -> None:
        super().__init__(api_url, seed, 8, on_done=on_done)  # type: ignore[arg-type]
        self.shelf = shelf
        self.dropped: set[str] = set()

    def send(self, delivery: Delivery) -> None:
        order = delivery.order
        if delivery.kind == "created" and not self.shelf.fit(order):
            self.dropped.add(order.order_id)
        if order.order_id in self.dropped:
            return
        super().send(delivery)


def outcomes(api_url: str, key: str, store: str, orders: list[Order]) -> Counter[str]:
    """How each sent order ended: booked, cancelled, rejected, or still pending."""
    counts: Counter[str] = Counter()
    headers = {"Authorization": f"Bearer {key}"}
    for order in orders:
        response = requests.get(
            f"{api_url}/orders/{PLATFORM}/{store}/{order.order_id}",
            headers=headers,
            timeout=HTTP_TIMEOUT,
        )
        booking = response.json().get("booking", "") if response.status_code == 200 else ""
        counts[
            "booked"
            if booking in BOOKED
            else "cancelled"
            if booking in CANCELLED
            else "rejected"
            if booking in REJECTED
            else "pending"
        ] += 1
    return counts


def run_demo(api_url: str, seed: Seed, rate: float, duration: float) -> int:
    """One line per event, the stock every ~5 s, a summary at the end; Ctrl-C ends it."""
    run_id = f"D{datetime.now(UTC):%y%m%d%H%M%S}{secrets.token_hex(2)}"
    levels = demo_skus(seed.warehouse)
    seed = Seed(seed.store, seed.secret, seed.admin_key, tuple(levels), seed.warehouse)
    orders, deliveries = plan_load(seed, run_id, rate, duration, random.Random(run_id))
    shelf = Shelf(api_url, seed.admin_key, seed.warehouse, levels)
    shelf.refresh()
    out = threading.Lock()

    def say(text: str) -> None:
        with out:
            print(text, flush=True)

    def show(d: Delivery) -> None:
        skus = ", ".join(f"{line['sku']}x{line['quantity']}" for line in d.order.lines)
        answer = str(d.status) if d.status else "network error"
        say(
            f"{datetime.now():%H:%M:%S}  {d.order.order_id}  order.{d.kind:<10} {skus:<44} "
            f"-> {answer} ({d.ack * 1000:.0f} ms)"
        )

    sender = DemoSender(api_url, seed, shelf, show)
    halt = threading.Event()

    def stock_loop() -> None:
        ticks = 0
        while not halt.wait(REFRESH_SECONDS):
            with contextlib.suppress(requests.RequestException, ValueError, KeyError):
                shelf.refresh()
            ticks += 1
            if ticks % 3 == 0:
                say("  stock now: " + ", ".join(f"{s} {n}" for s, n in shelf.available.items()))

    say(
        f"demo {run_id}: {rate:g} orders/s for {duration:g} s to "
        f"{api_url}/webhooks/{PLATFORM}/{seed.store} (Ctrl-C stops); SKUs {', '.join(levels)}, "
        f"restocked in {seed.warehouse}"
    )
    watcher = threading.Thread(target=stock_loop, name="stock", daemon=True)
    watcher.start()
    completed = sender.run(deliveries)
    halt.set()
    watcher.join(timeout=HTTP_TIMEOUT)
    sent = [o for o in orders if o.order_id not in sender.dropped]
    with contextlib.suppress(KeyboardInterrupt):
        time.sleep(3.0)  # let the last events book
        counts = outcomes(api_url, seed.admin_key, seed.store, sent)
        restocked = ", ".join(f"{s} +{n}" for s, n in shelf.restocked.items()) or "nothing"
        say(
            ("stopped" if not completed else "done")
            + f": {len(sent)} orders sent ({len(sender.dropped)} left out for stock): "
            f"{counts['booked']} booked, {counts['rejected']} rejected, "
            f"{counts['cancelled']} cancelled, {counts['pending']} still pending; "
            f"restocked {restocked}"
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=2.0, help="orders/s (default 2)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--store", default="demo-shop", help="own-shop store id in the seed")
    parser.add_argument("--api-url", help="default: the running stack's (its state file)")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0:
        parser.error("--rate and --duration must be positive")
    from local.control import running_state

    state = running_state()
    api_url = args.api_url or (state or {}).get("api_url")
    if not api_url:
        print("error: the local stack is not running: start it with `make run`", file=sys.stderr)
        return 1
    try:
        seed = load_seed(args.store)
        check_health(str(api_url))
        return run_demo(str(api_url), seed, args.rate, args.duration)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
