"""Benchmark the streamed reconciliation: N orders per side through the same code the nightly
job runs (statement CSV parsing, external sort, one-pass merge, CSV + XLSX writers), in
process, on local files. Prints time per phase and peak memory.

    python bench/reconcile.py                      # 100 k orders per side, 2 % differing
    python bench/reconcile.py --orders 300000      # memory must stay flat, time linear
    python bench/reconcile.py --differ 1.0         # every order differs: the writers' worst case
    python bench/reconcile.py --tracemalloc        # Python-heap peak too (slower: ~2x)

The platform side is a statement CSV written to a temporary file in random order (as a
platform exports it) and read back row by row; OrderHub's side is generated already sorted,
as the `placed_day` index query yields it (DynamoDB's own time is not part of this: see
docs/performance.md for the Query cost per page). Peak RSS is the process's
(`resource.getrusage`), so it includes the interpreter and imports; the baseline is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import cast

# bench/ is not a package: make `import chalicelib` resolve to this repo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chalicelib.adapters.report_files import TabularFiles
from chalicelib.domain.model import PlatformStatus
from chalicelib.domain.reconcile import (
    DIFFERENCE_COLUMNS,
    SORT_CHUNK_ROWS,
    LedgerRow,
    Problems,
    StoreSummary,
    compare,
    read_statement_csv,
    sorted_rows,
)
from chalicelib.domain.reports import ReportSummary

DAY = date(2026, 11, 24)


def rss_mb() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / (1024 * 1024)


MISSING, EXTRA, MISMATCH = 1, 2, 3


def kind_of(n: int, differ: float) -> int:
    """0, or which difference order n is planted as (a hash: no set of planted ids kept)."""
    share = ((n * 2_654_435_761) % 2**32) / 2**32
    return 0 if share >= differ else 1 + int(share / differ * 3)


def order_id(n: int) -> str:
    return f"JD{3_000_000_000 + n}"


def shuffled(orders: int) -> Iterator[int]:
    """0..orders-1 in a scrambled order, streamed (an affine permutation mod `orders`)."""
    step = 1_000_003
    while math.gcd(step, orders) != 1:  # coprime: every number exactly once
        step += 2
    for i in range(orders):
        yield (i * step + 12_345) % orders


def write_statement(path: Path, orders: int, differ: float) -> None:
    """The platform's export: every order but OrderHub's extras, in scrambled order."""
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("order_id,status,amount,currency\n")
        for n in shuffled(orders):
            if kind_of(n, differ) != EXTRA:
                out.write(f"{order_id(n)},paid,{88 + n % 100}.50,CNY\n")


def ours(orders: int, differ: float) -> Iterator[LedgerRow]:
    """OrderHub's side as the index yields it: sorted by order id (ids have equal width)."""
    for n in range(orders):
        kind = kind_of(n, differ)
        if kind == MISSING:
            continue
        amount = Decimal(f"{88 + n % 100}.50") - (Decimal(5) if kind == MISMATCH else 0)
        yield LedgerRow(order_id(n), PlatformStatus.PAID, amount, "CNY", "locked")


def index_decode_seconds(items: int) -> float:
    """OrderHub's side as the adapter reads it: `items` raw index items (DynamoDB JSON, as a
    Query page holds them) through pynamodb and `DynamoOrderDays` into ledger rows. DynamoDB's
    own time is not in it."""
    from chalicelib.adapters.dynamo_models import Models, TableNames, build_models
    from chalicelib.adapters.order_days import DynamoOrderDays

    names = TableNames(**{name: "bench" for name in TableNames.__dataclass_fields__})
    orders = build_models(names, "us-east-1").orders

    class Index:
        def query(self, key: str) -> Iterator[object]:
            for n in range(items):
                yield orders.from_raw_data(
                    {
                        "order_key": {"S": f"jd#bench#{order_id(n)}"},
                        "placed_day": {"S": key},
                        "order_id": {"S": order_id(n)},
                        "status": {"S": "paid"},
                        "amount": {"S": f"{88 + n % 100}.50"},
                        "currency": {"S": "CNY"},
                        "booking": {"S": "locked"},
                    }
                )

    days = DynamoOrderDays(
        cast(Models, SimpleNamespace(orders=SimpleNamespace(by_placed_day=Index())))
    )
    started = time.perf_counter()
    count = sum(1 for _ in days.orders_of_day("jd", "bench", DAY))
    assert count == items
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=100_000, help="orders per side")
    parser.add_argument("--differ", type=float, default=0.02, help="share of orders differing")
    parser.add_argument("--chunk", type=int, default=SORT_CHUNK_ROWS, help="rows per sort chunk")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace the Python heap")
    args = parser.parse_args(argv)

    baseline = rss_mb()
    with tempfile.TemporaryDirectory(prefix="orderhub-bench-") as tmp:
        statement = Path(tmp) / "statement.csv"
        write_statement(statement, args.orders, args.differ)
        size = statement.stat().st_size
        expected = sum(1 for n in range(args.orders) if kind_of(n, args.differ))
        if args.tracemalloc:
            tracemalloc.start()
        summary = StoreSummary("jd", "bench", DAY)
        files = TabularFiles(DIFFERENCE_COLUMNS, ("platform_amount", "orderhub_amount"))
        started = time.perf_counter()
        with open(statement, encoding="utf-8", newline="") as lines:
            problems = Problems()
            theirs = sorted_rows(read_statement_csv(lines, "CNY", problems), chunk=args.chunk)
            first = next(theirs)  # the whole platform side is read and sorted by now
            sorted_at = time.perf_counter()
            rows = 0
            for difference in compare(
                _chain(first, theirs), ours(args.orders, args.differ), summary
            ):
                files.add(difference.cells())
                rows += 1
        merged_at = time.perf_counter()
        report = ReportSummary("bench", (), ("a",), (("1",),))
        csv_file, xlsx_file = files.finish(report)
        finished = time.perf_counter()
        csv_size = csv_file.seek(0, os.SEEK_END)
        xlsx_size = xlsx_file.seek(0, os.SEEK_END)
        csv_file.close()
        xlsx_file.close()
        heap = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
        if args.tracemalloc:
            tracemalloc.stop()

    total = finished - started
    decode = index_decode_seconds(args.orders)
    print(f"OrderHub reconciliation bench  {args.orders:,} orders per side")
    print(
        f"machine    {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{platform.platform()}; load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"input      statement CSV {size / 2**20:.1f} MiB, scrambled order; "
        f"sort chunk {args.chunk:,} rows"
    )
    print(
        f"found      {rows:,} differences (planted {expected:,}): missing "
        f"{summary.kinds['missing']:,}, extra {summary.kinds['extra']:,}, mismatch "
        f"{summary.kinds['mismatch']:,}; totals {summary.theirs.count:,} vs "
        f"{summary.ours.count:,}"
    )
    print(
        f"time       {total:.2f} s = read+sort {sorted_at - started:.2f} s + merge+write "
        f"{merged_at - sorted_at:.2f} s + finish (xlsx save) {finished - merged_at:.2f} s; "
        f"{2 * args.orders / total:,.0f} rows/s"
    )
    print(
        f"output     differences.csv {csv_size / 2**20:.2f} MiB, differences.xlsx "
        f"{xlsx_size / 2**20:.2f} MiB"
    )
    print(
        f"index      decoding {args.orders:,} index items (pynamodb + DynamoOrderDays) "
        f"{decode:.2f} s = {decode / args.orders * 1e6:.1f} µs/item (not in the time above)"
    )
    heap_text = f"; Python heap peak {heap:.1f} MiB (tracemalloc)" if heap is not None else ""
    print(f"memory     peak RSS {rss_mb():.1f} MiB (baseline {baseline:.1f} MiB){heap_text}")
    return 0 if rows == expected else 2


def _chain(first: LedgerRow, rest: Iterator[LedgerRow]) -> Iterator[LedgerRow]:
    yield first
    yield from rest


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
