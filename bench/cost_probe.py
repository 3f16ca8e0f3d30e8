"""The bench's cost line: what it measured, turned into bench/cost.py's `Usage` and printed.

Measured: the request mix per fully processed order (the emulator's counts, the bench's own
requests subtracted), the items of multi-item DynamoDB calls, the mean item size of a sample
of the tables the booking writes, webhook deliveries and processor batches per order.
Estimated (no Lambda clock locally, and the local stack's latencies are not AWS's; constants
below): the functions' billed time, from the AWS requests they make, and the log volume.
"""

from __future__ import annotations

from typing import Any

from bench.cost import Usage, item_kb, report_lines, write_units

BOOKING_TABLES = ("orderhub-orders", "orderhub-events", "orderhub-inventory", "orderhub-trail")
SAMPLE = 200  # items per table
LAMBDA_MEMORY_GB = 0.5  # .chalice/config.json lambda_memory_size
MS_PER_AWS_REQUEST = 8.0  # an in-region DynamoDB/SQS/KMS/S3 call, typical
MS_PER_INVOCATION = 5.0  # the handler's own work besides its AWS calls
LOG_KB_PER_EVENT = 1.0  # the webhook's and the processor's JSON log lines, about


def sample_item_kb(ddb: Any, tables: tuple[str, ...] = BOOKING_TABLES) -> float | None:
    """Mean size (KB, DynamoDB's rules) of up to SAMPLE items of each table; None if empty."""
    sizes: list[float] = []
    for table in tables:
        try:
            items = ddb.scan(TableName=table, Limit=SAMPLE).get("Items", [])
        except Exception:  # a table this stack does not have
            continue
        sizes.extend(item_kb(item) for item in items)
    return sum(sizes) / len(sizes) if sizes else None


def _projected(item: dict[str, Any], table_keys: list[str], index: dict[str, Any]) -> Any:
    """The entry `item` has in a global secondary index, or None (a sparse index's key
    attributes missing: no entry)."""
    keys = [k["AttributeName"] for k in index["KeySchema"]]
    if any(k not in item for k in keys):
        return None
    projection = index.get("Projection", {})
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return item
    names = set(table_keys) | set(keys)
    if kind == "INCLUDE":
        names |= set(projection.get("NonKeyAttributes", []))
    return {n: v for n, v in item.items() if n in names}


def table_write_units(ddb: Any, table_writes: dict[str, dict[str, int]]) -> tuple[float, float]:
    """Write units of the counted writes (bench/cost.py's rules), from each table's own
    sampled item sizes, and of the index entries they update: (items, index entries).

    Estimate: every write of an item updates each index entry the (sampled) item has, once,
    at the entry's projected size; a write that changes no indexed or projected attribute
    costs less in AWS, one that moves an index key costs two (delete + put)."""
    items_units = index_units = 0.0
    for table, kinds in table_writes.items():
        try:
            described = ddb.describe_table(TableName=table)["Table"]
            sample = ddb.scan(TableName=table, Limit=SAMPLE).get("Items", [])
        except Exception:  # a table this stack does not have: one unit an item, no index
            sample, described = [], {}
        table_keys = [k["AttributeName"] for k in described.get("KeySchema", [])]
        indexes = described.get("GlobalSecondaryIndexes", [])
        per_item = sum(write_units(item_kb(i)) for i in sample) / len(sample) if sample else 1.0
        per_index = (
            sum(
                write_units(item_kb(entry))
                for i in sample
                for index in indexes
                if (entry := _projected(i, table_keys, index)) is not None
            )
            / len(sample)
            if sample
            else 0.0
        )
        transactional, plain = kinds.get("tx", 0), kinds.get("plain", 0)
        items_units += (2 * transactional + plain) * per_item
        index_units += (transactional + plain) * per_index
    return items_units, index_units


def usage_from_report(
    report: dict[str, Any], counts: dict[str, Any], mean_item_kb: float | None, ddb: Any = None
) -> Usage | None:
    """bench/report.py's report (and the emulator's counts) as a `Usage` per order."""
    orders = report["throughput"]["orders_fully_processed"]
    if not orders:
        return None
    by_op: dict[str, int] = report["aws_requests"]["by_operation"]
    requests = {op: n / orders for op, n in by_op.items()}
    items = {op: n / orders for op, n in counts.get("items", {}).items()}
    events = report["events"]["sent"] / orders
    batches = requests.get("sqs.DeleteMessageBatch", 0.0) or events  # processor invocations
    aws_per_order = sum(n for op, n in requests.items() if op != "sqs.ReceiveMessage")
    kb = mean_item_kb if mean_item_kb is not None else 1.0
    measured: tuple[float, float] | None = None
    if ddb is not None and counts.get("table_writes"):
        measured = table_write_units(ddb, counts["table_writes"])
    return Usage(
        requests=requests,
        items=items,
        write_item_kb=kb,
        read_item_kb=kb,
        api_requests=events,
        lambda_invocations=events + batches,
        lambda_seconds=((events + batches) * MS_PER_INVOCATION + aws_per_order * MS_PER_AWS_REQUEST)
        / 1000,
        lambda_memory_gb=LAMBDA_MEMORY_GB,
        log_kb=events * LOG_KB_PER_EVENT,
        table_write_units=measured[0] / orders if measured else None,
        index_write_units=measured[1] / orders if measured else 0.0,
    )


def print_cost(report: dict[str, Any], counts: dict[str, Any], ddb: Any) -> None:
    """Print the cost lines of a bench report (nothing if no order was fully processed)."""
    usage = usage_from_report(report, counts, sample_item_kb(ddb), ddb)
    if usage is not None:
        print("\n".join(report_lines(usage, report["throughput"]["orders_fully_processed"])))
