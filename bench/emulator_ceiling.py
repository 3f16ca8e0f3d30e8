"""The emulator's own ceiling: how many events a second its DynamoDB can book at all.

Every processed event costs the emulator's DynamoDB process one BatchGetItem and one
TransactWriteItems, and that process serves one request at a time (moto is not safe under
concurrency: local/emulator.py). Its CPU per event therefore caps the local stack's rate
whatever the rest does. This bench books the drive bench's mix of orders (each created,
then ~70% paid, ~10% cancelled; one to three lines of one or two units, from 40 SKUs with
ample stock) through the real processor path (`process_order_event`: read, plan, one
transaction) from `--workers` threads against the emulator in its own process, and prints
events/s, the emulator's CPU per event (from /proc) and the ceiling that CPU implies:
1,000 ms / (ms per event) events/s, over events per order for orders/s.

    .venv/bin/python bench/emulator_ceiling.py               # 500 orders, 8 workers
    .venv/bin/python bench/emulator_ceiling.py --orders 300 --workers 4
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench.flash_sale import WAREHOUSE, provisioned_emulator
from chalicelib.domain.booking import BookingContext
from chalicelib.domain.model import Buyer, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.processing import adjust_stock, process_order_event
from chalicelib.domain.stock_ops import Adjustment

SKUS = 40


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def order_events(run: str, n: int, rng: random.Random) -> list[OrderEvent]:
    """One order's events as the drive bench sends them: created, then paid or cancelled."""
    at = datetime(2026, 11, 11, tzinfo=UTC) + timedelta(seconds=n)
    lines = tuple(
        OrderLine(f"CEIL-{run}-{k}", rng.randint(1, 2), Decimal("9.90"))
        for k in rng.sample(range(SKUS), rng.randint(1, 3))
    )
    roll = rng.random()
    steps = [("created", PlatformStatus.UNPAID)]
    if roll < 0.8:
        steps.append(
            ("paid", PlatformStatus.PAID) if roll < 0.7 else ("cancelled", PlatformStatus.CANCELLED)
        )
    return [
        OrderEvent(
            event_key=f"mall#s1#{run}-{n}-{kind}",
            platform="mall",
            store="s1",
            order_id=f"{run}-{n}",
            event_type=kind,
            status=status,
            updated_at=at + timedelta(seconds=step),
            updated_at_raw=(at + timedelta(seconds=step)).isoformat(),
            currency="CNY",
            lines=lines,
            buyer=Buyer("Li Lei", "13812345678", "1 Nanjing Road, Shanghai"),
            received_at=at,
        )
        for step, (kind, status) in enumerate(steps)
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    with provisioned_emulator(0.0) as (container, emulator, _):  # 0.0: no write limit
        repo, now = container.orders, container.now
        run = f"{int(time.time())}"
        for k in range(SKUS):
            receipt = Adjustment(f"open-{run}-{k}", f"CEIL-{run}-{k}", WAREHOUSE, "receipt",
                                 1_000_000, "ceiling bench")  # fmt: skip
            adjust_stock(receipt, repo, now)
        rng = random.Random(run)
        todo: queue.Queue[list[OrderEvent]] = queue.Queue()
        for n in range(args.orders):
            todo.put(order_events(run, n, rng))
        outcomes: dict[str, int] = {}
        lock = threading.Lock()

        def work() -> None:
            while True:
                try:
                    story = todo.get_nowait()
                except queue.Empty:
                    return
                for event in story:
                    result = process_order_event(event, repo, lambda: BookingContext(now()))
                    with lock:
                        key = result.outcome.value
                        outcomes[key] = outcomes.get(key, 0) + 1

        emulator_cpu, own_cpu = cpu_seconds(emulator.pid), cpu_seconds(os.getpid())
        started = time.monotonic()
        threads = [threading.Thread(target=work) for _ in range(args.workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.monotonic() - started
        events = sum(outcomes.values())
        ms_emulator = 1000 * (cpu_seconds(emulator.pid) - emulator_cpu) / events
        ms_app = 1000 * (cpu_seconds(os.getpid()) - own_cpu) / events
        per_order = events / args.orders
        print(
            f"emulator ceiling  {args.orders} orders, {events} events ({per_order:.2f}/order), "
            f"{args.workers} workers, load average {os.getloadavg()[0]:.1f}\n"
            f"outcomes   {dict(sorted(outcomes.items()))}\n"
            f"measured   {events / seconds:.1f} events/s = {args.orders / seconds:.1f} orders/s\n"
            f"CPU        emulator {ms_emulator:.1f} ms/event, processor {ms_app:.1f} ms/event\n"
            f"ceiling    the emulator's DynamoDB at one whole core: {1000 / ms_emulator:.0f} "
            f"events/s = {1000 / ms_emulator / per_order:.0f} orders/s"
        )


if __name__ == "__main__":
    main()
