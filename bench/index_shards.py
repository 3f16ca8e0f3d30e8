"""Count the writes each sparse index's hash value takes under load: no hot partition.

Drives orders through the real code paths (domain/processing.py over the DynamoDB adapter,
the trail's receipt and final attempt, the stock pusher's clearing of its flag) against the
in-process emulator with every resource of infra/resources.json, and counts, for every write
request the adapters send (PutItem, UpdateItem, TransactWriteItems, BatchWriteItem), the value
it writes to each sparse index's hash key attribute. One index partition takes about 1,000
write units a second, whatever the table's capacity: the busiest value is the index's
ceiling, so it must stay near the fair share (writes / N).

    python bench/index_shards.py                  # 400 orders, N from Settings (16)
    python bench/index_shards.py --shards 1       # what one constant value meant
    python bench/index_shards.py --orders 2000 --shards 32
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

# bench/ is not a package: make `import chalicelib` resolve to this repo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REGION = "us-east-1"
# attribute -> the index whose hash key it is
WATCHED = {
    "holding": "open_orders",
    "reservation_partition": "reservations",
    "push_pending": "push_pending",
    "listed": "stock_list",
    "pending": "pending (trail)",
    "ledger_day": "ledger_day (events)",
}
SET_PAIR = re.compile(r"(#\w+)\s*=\s*(:\w+)")


class WriteCounter:
    """Wraps botocore's API call: counts index hash values written, then sends the request."""

    def __init__(self) -> None:
        self.writes: dict[str, Counter[str]] = defaultdict(Counter)
        self.requests = 0

    def install(self) -> None:
        import botocore.client

        original = botocore.client.BaseClient._make_api_call
        counter = self

        def counting(client: Any, operation: str, params: dict[str, Any]) -> Any:
            counter.see(operation, params)
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counting

    def see(self, operation: str, params: dict[str, Any]) -> None:
        self.requests += 1
        if operation == "PutItem":
            self._item(params["Item"])
        elif operation == "UpdateItem":
            self._update(params)
        elif operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                if "Put" in entry:
                    self._item(entry["Put"]["Item"])
                elif "Update" in entry:
                    self._update(entry["Update"])
        elif operation == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for request in requests:
                    if "PutRequest" in request:
                        self._item(request["PutRequest"]["Item"])

    def _item(self, item: dict[str, Any]) -> None:
        for attribute, index in WATCHED.items():
            if attribute in item and "S" in item[attribute]:
                self.writes[index][item[attribute]["S"]] += 1

    def _update(self, update: dict[str, Any]) -> None:
        names = update.get("ExpressionAttributeNames", {})
        values = update.get("ExpressionAttributeValues", {})
        expression = update.get("UpdateExpression", "")
        clause = expression.split("SET", 1)[1] if "SET" in expression else ""
        for name, value in SET_PAIR.findall(clause):
            index = WATCHED.get(names.get(name, ""))
            if index and "S" in values.get(value, {}):
                self.writes[index][values[value]["S"]] += 1


def drive(orders: int, shards: int, skus: int) -> WriteCounter:
    import boto3
    from moto import mock_aws

    from chalicelib.deps import Container
    from chalicelib.domain.booking import BookingContext
    from chalicelib.domain.processing import adjust_stock, process_order_event
    from chalicelib.domain.stock_ops import Adjustment
    from local.emulator import set_fake_aws_env
    from local.provision import function_environment, load_template, provision
    from tests.builders import event

    set_fake_aws_env(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    counter = WriteCounter()
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        template = load_template()
        resources = provision(template, session.client, REGION)
        environ = {
            **function_environment(template, resources, REGION),
            "AWS_REGION": REGION,
            "ORDERHUB_INDEX_SHARDS": str(shards),
        }
        deps = Container(environ=environ)
        repo, trail = deps.orders, deps.trail
        for n in range(skus):
            adjust_stock(
                Adjustment(f"open-{n}", f"SKU-{n:04d}", "wh", "receipt", 10**6, "bench"),
                repo,
                deps.now,
            )
        counter.install()  # count the load only, not the setup
        for i in range(orders):
            for status in ("unpaid", "paid"):
                ev = event(
                    order_id=f"b{i:06d}",
                    status=status,
                    updated_at=f"2026-11-11T00:{i % 60:02d}:{1 + (status == 'paid'):02d}+08:00",
                    lines=((f"SKU-{i % skus:04d}", 1),),
                )
                now = deps.now()
                trail.record_receipt(ev.event_key, "mall", "s1", now, 5, f"m-{i}-{status}")
                result = process_order_event(ev, repo, lambda: BookingContext(deps.now()))
                trail.record_attempt(ev.event_key, now, 1, result.outcome.value, final=True)
        for sku in repo.pending_skus(limit=skus):  # the pusher clears what it pushed
            state = repo.read_push_state(sku)
            repo.clear_push_pending(sku, {w: state.versions[w] for w in state.pending})
    return counter


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--shards", type=int, default=16, help="ORDERHUB_INDEX_SHARDS")
    parser.add_argument("--skus", type=int, default=200)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counter = drive(args.orders, args.shards, args.skus)
    took = time.perf_counter() - started
    print(
        f"{args.orders} orders (created, then paid), {args.skus} SKUs, N = {args.shards}: "
        f"{counter.requests} AWS requests in {took:.1f} s"
    )
    print(f"{'index':22} {'writes':>7} {'values':>7} {'max/value':>10} {'fair':>7} {'max/fair':>9}")
    worst = 0.0
    for index in WATCHED.values():
        values = counter.writes.get(index, Counter())
        total = sum(values.values())
        if not total:
            print(f"{index:22} {0:>7}")
            continue
        per_day = index.startswith("ledger_day")  # N values per day: one day here
        fair = total / args.shards
        busiest = max(values.values())
        ratio = busiest / fair
        worst = max(worst, ratio)
        print(
            f"{index:22} {total:>7} {len(values):>7} {busiest:>10} {fair:>7.1f} {ratio:>9.2f}"
            + ("  (per day)" if per_day else "")
        )
    print(
        f"busiest hash value: {worst:.2f} x its fair share; at 1,000 WCU/s per partition an index"
        f" takes ~{1000 * args.shards / max(worst, 1):,.0f} writes/s before one value throttles"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
