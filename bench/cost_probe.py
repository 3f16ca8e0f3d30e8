"""The bench's cost line: what it measured, turned into bench/cost.py's `Usage` and printed.

Measured: the request mix per fully processed order (the emulator's counts, the bench's own
requests subtracted), the items of multi-item DynamoDB calls, the mean item size of a sample
of the tables the booking writes, webhook deliveries and processor batches per order.
Estimated (no Lambda clock locally, and the local stack's latencies are not AWS's; constants
below): the functions' billed time, from the AWS requests they make, and the log volume.
"""

from __future__ import annotations

from typing import Any

from bench.cost import Usage, item_kb, report_lines

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


def usage_from_report(
    report: dict[str, Any], counts: dict[str, Any], mean_item_kb: float | None
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
    )


def print_cost(report: dict[str, Any], counts: dict[str, Any], ddb: Any) -> None:
    """Print the cost lines of a bench report (nothing if no order was fully processed)."""
    usage = usage_from_report(report, counts, sample_item_kb(ddb))
    if usage is not None:
        print("\n".join(report_lines(usage, report["throughput"]["orders_fully_processed"])))
