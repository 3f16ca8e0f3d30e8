"""Benchmark: 3-item TransactWriteItems/s on the local emulator vs. table size.

Each transaction puts two new items into a table prefilled with N items and conditionally
updates a counter in a one-item table. Run from the repo root:

    python bench/emulator_tx.py              # patched (item-level snapshots)
    python bench/emulator_tx.py --unpatched  # stock moto (deep-copies whole tables)

``patch_moto()`` changes moto's class for the whole process, so ``--unpatched`` must (and
does) run in a process that never patched. Each N stops after ``--tx`` transactions or
``--budget`` seconds, whichever comes first, so stock moto's slow case stays short.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script from anywhere: make `import local.emulator` resolve to this repo.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import boto3

import local.emulator as emulator_module
from local.emulator import Emulator, is_moto_patched, set_fake_aws_env

BATCH = 25  # BatchWriteItem's per-request limit


def _create(ddb: Any, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _prefill(ddb: Any, table: str, n: int) -> None:
    for start in range(0, n, BATCH):
        requests = [
            {"PutRequest": {"Item": {"pk": {"S": f"seed-{i}"}, "payload": {"S": "x" * 64}}}}
            for i in range(start, min(start + BATCH, n))
        ]
        unprocessed: dict[str, Any] = {table: requests}
        while unprocessed:
            unprocessed = ddb.batch_write_item(RequestItems=unprocessed)["UnprocessedItems"]


def _transaction(big: str, small: str, i: int) -> list[dict[str, Any]]:
    return [
        {
            "Put": {
                "TableName": big,
                "Item": {"pk": {"S": f"order-{i}"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {"Put": {"TableName": big, "Item": {"pk": {"S": f"line-{i}"}, "qty": {"N": "1"}}}},
        {
            "Update": {
                "TableName": small,
                "Key": {"pk": {"S": "counter"}},
                "UpdateExpression": "SET n = n + :one",
                "ConditionExpression": "attribute_exists(pk)",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }
        },
    ]


def measure(ddb: Any, run: int, n: int, max_tx: int, budget: float) -> tuple[int, float]:
    """Prefill a fresh table with ``n`` items; return (transactions done, seconds)."""
    big, small = f"big-{run}-{n}", f"small-{run}-{n}"
    _create(ddb, big)
    _create(ddb, small)
    _prefill(ddb, big, n)
    ddb.put_item(TableName=small, Item={"pk": {"S": "counter"}, "n": {"N": "0"}})
    done = 0
    started = time.perf_counter()
    while done < max_tx and (done == 0 or time.perf_counter() - started < budget):
        ddb.transact_write_items(TransactItems=_transaction(big, small, done))
        done += 1
    elapsed = time.perf_counter() - started
    counter = ddb.get_item(TableName=small, Key={"pk": {"S": "counter"}})["Item"]["n"]["N"]
    assert int(counter) == done, (counter, done)  # every transaction committed
    return done, elapsed


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run the benchmark and print a table of N -> tx/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--unpatched", action="store_true", help="benchmark stock moto")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 2000, 10000])
    parser.add_argument("--tx", type=int, default=200, help="transactions per size")
    parser.add_argument("--budget", type=float, default=8.0, help="max seconds per size")
    args = parser.parse_args(argv)

    set_fake_aws_env(os.environ)
    if args.unpatched:
        # Emulator.start() patches; neutralize that for this process only.
        emulator_module.patch_moto = lambda: None
    with Emulator() as emu:
        assert is_moto_patched() != args.unpatched
        ddb = boto3.client("dynamodb", endpoint_url=emu.endpoint_url)
        mode = "unpatched (stock moto)" if args.unpatched else "patched (item snapshots)"
        print(f"TransactWriteItems, 3 items, {mode}")
        print(f"{'N items':>8} {'tx':>5} {'seconds':>8} {'tx/s':>8}")
        for run, n in enumerate(args.sizes):
            done, elapsed = measure(ddb, run, n, args.tx, args.budget)
            print(f"{n:>8} {done:>5} {elapsed:>8.2f} {done / elapsed:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
