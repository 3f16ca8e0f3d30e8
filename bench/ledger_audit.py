"""The nightly ledger audit's cost at 1 day and at 30 days of history: flat.

For each history length, in process on the emulator with every resource of
infra/resources.json: `--per-day` stock-moving event records a day (written as the processor
writes them: movements, Beijing `ledger_day` key), stock items whose balances equal their
sums, then the audit job (`audit_inventory`, the scheduled handler itself) twice:

1. the first run: no checkpoint, so it builds one from the full history (a Scan, once);
2. the next night, after one more day of records: the incremental run, from the checkpoint.

It prints, per run, the event records read, the AWS requests the job made (by operation) and
its time. The incremental run's numbers must not grow with history; the first run's do
(that is the cost every night had before checkpoints).

    python bench/ledger_audit.py                      # 1 and 30 days, 300 records a day
    python bench/ledger_audit.py --days 1 7 30 90 --per-day 200
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# bench/ is not a package: make `import chalicelib` resolve to this repo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGION = "us-east-1"
SKUS = 200
NIGHT = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)  # 00:30 Beijing: the job's schedule


class RequestCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def install(self) -> None:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        calls = self.calls

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            table = params.get("IndexName") or params.get("TableName") or "-"
            calls[f"{operation} {str(table).removeprefix('orderhub-')}"] += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counting


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def write_days(deps: Any, first_day: datetime, days: int, per_day: int, totals: Counter) -> None:
    """`per_day` records a day, each moving one unit of one SKU, as the processor writes them."""
    from chalicelib.domain.ledger_audit import ledger_day_value

    events = deps.models.events
    with events.batch_write() as batch:
        for d in range(days):
            for i in range(per_day):
                at = first_day + timedelta(days=d, seconds=i * 86_000 // per_day)
                key = f"mall#s1#bench-{at.isoformat()}-{i}"
                sku = f"SKU-{(d * per_day + i) % SKUS:04d}"
                move = {"sku": sku, "warehouse": "wh", "on_hand": 1, "locked": 0}
                move |= {"reserved": 0, "available": 1}
                totals[sku] += 1
                batch.save(
                    events(
                        key,
                        order_key="",
                        outcome="booked",
                        processed_at=at,
                        movements=json.dumps([move]),
                        ledger_day=ledger_day_value(key, at, deps.models.shards),
                    )
                )


def set_stock(deps: Any, totals: Counter) -> None:
    from chalicelib.domain.model import StockLevel

    for sku, units in totals.items():
        deps.orders.put_stock(StockLevel(sku, "wh", units, 0, 0, units))


def run_job(counter: RequestCounter) -> tuple[dict[str, Any], Counter[str], float]:
    from chalicelib.api import operations

    before = Counter(counter.calls)
    started = time.perf_counter()
    result = operations.audit_inventory.func({})  # the handler, without the event wrapper
    took = time.perf_counter() - started
    return result, counter.calls - before, took


def bench(days: int, per_day: int) -> list[tuple[str, int, Counter[str], float]]:
    import boto3
    from moto import mock_aws

    from chalicelib.deps import Container, use_container
    from local.emulator import set_fake_aws_env
    from local.provision import function_environment, load_template, provision

    set_fake_aws_env(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the job's log line: see the table
    rows = []
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        template = load_template()
        resources = provision(template, session.client, REGION)
        environ = {**function_environment(template, resources, REGION), "AWS_REGION": REGION}
        first_night = NOW = NIGHT - timedelta(days=1)
        clock = Clock(NOW)
        deps = Container(environ=environ, now=clock)
        use_container(deps)
        counter = RequestCounter()
        counter.install()
        totals: Counter[str] = Counter()
        start = first_night - timedelta(days=days, minutes=30)
        write_days(deps, start, days, per_day, totals)
        set_stock(deps, totals)
        result, calls, took = run_job(counter)
        assert result["drifting_items"] == 0, result
        rows.append(("first run (full history)", result["ledger"]["records_read"], calls, took))
        write_days(deps, first_night - timedelta(minutes=30), 1, per_day, totals)
        set_stock(deps, totals)
        clock.now = NIGHT
        result, calls, took = run_job(counter)
        assert result["drifting_items"] == 0, result
        rows.append(("next night (incremental)", result["ledger"]["records_read"], calls, took))
        use_container(None)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, nargs="+", default=[1, 30])
    parser.add_argument("--per-day", type=int, default=300)
    args = parser.parse_args(argv)
    print(f"{args.per_day} stock-moving records a day, {SKUS} stock items")
    for days in args.days:
        for name, records, calls, took in bench(days, args.per_day):
            events = sum(n for call, n in calls.items() if "events" in call or "ledger" in call)
            print(
                f"{days:>3} days of history, {name:25} {records:>6} records read,"
                f" {events:>3} requests to the events table, {sum(calls.values()):>3} in all,"
                f" {took:6.2f} s"
            )
            print(f"      {dict(sorted(calls.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
