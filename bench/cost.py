"""What a million orders cost in AWS at list prices, from the request mix a bench measured.

Pure: `make bench` (bench/drive.py) feeds it the emulator's request counts per order, the
mean item sizes it sampled and the webhook's latency; tests/unit/test_cost_model.py checks it
against a hand-computed example. The emulator's operation names ("dynamodb.UpdateItem",
"s3.PUT", ...) are local/emulator.py's `classify_request`.

Prices: us-east-1, list (no free tier, no savings plans), read 2026-12-07 from
- DynamoDB on-demand  https://aws.amazon.com/dynamodb/pricing/on-demand/
- API Gateway         https://aws.amazon.com/api-gateway/pricing/
- Lambda              https://aws.amazon.com/lambda/pricing/
- SQS                 https://aws.amazon.com/sqs/pricing/
- KMS                 https://aws.amazon.com/kms/pricing/
- S3 Standard         https://aws.amazon.com/s3/pricing/
- CloudWatch (logs, metrics), SNS, EventBridge, Secrets Manager: their /pricing/ pages.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MILLION = 1_000_000

# --- prices in USD (see the module docstring for the pages and the date) ---
DYNAMODB_PER_MILLION_WRITE_UNITS = 0.625  # on-demand write request units
DYNAMODB_PER_MILLION_READ_UNITS = 0.125  # on-demand read request units
API_GATEWAY_REST_PER_MILLION = 3.50  # REST API, first 333 million a month
API_GATEWAY_HTTP_PER_MILLION = 1.00  # HTTP API, first 300 million a month (per 512 KB)
LAMBDA_PER_MILLION_REQUESTS = 0.20
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86
SQS_PER_MILLION = 0.40  # standard queue, per 64 KB chunk
KMS_PER_MILLION = 3.00  # $0.03 per 10,000 requests
S3_PUT_PER_MILLION = 5.00  # PUT, COPY, POST, LIST: $0.005 per 1,000
S3_GET_PER_MILLION = 0.40  # GET and others: $0.0004 per 1,000
SNS_PER_MILLION = 0.50
EVENTBRIDGE_PER_MILLION = 1.00  # custom events
CLOUDWATCH_PUT_METRIC_PER_MILLION = 10.00  # $0.01 per 1,000 requests
SECRETS_MANAGER_PER_MILLION = 5.00  # $0.05 per 10,000 API calls
LOGS_PER_GB = 0.50  # CloudWatch Logs ingestion (standard class)

# --- DynamoDB's units ---
WRITE_UNIT_KB = 1.0
READ_UNIT_KB = 4.0

DYNAMODB_WRITES = ("dynamodb.PutItem", "dynamodb.UpdateItem", "dynamodb.DeleteItem")
DYNAMODB_READS = ("dynamodb.GetItem", "dynamodb.Query", "dynamodb.Scan")


@dataclass(frozen=True)
class Usage:
    """What one order uses, on average (all "per order")."""

    requests: Mapping[str, float]  # emulator operation -> requests per order
    items: Mapping[str, float] = field(default_factory=dict)  # multi-item op -> items per order
    write_item_kb: float = 1.0  # mean size of an item written (DynamoDB's size rules)
    read_item_kb: float = 1.0  # mean size of an item read
    api_requests: float = 1.0  # webhook deliveries per order (API Gateway requests)
    lambda_invocations: float = 1.0  # webhook and processor invocations per order
    lambda_seconds: float = 0.1  # billed duration of those, summed, per order
    lambda_memory_gb: float = 0.5
    log_kb: float = 2.0  # CloudWatch Logs ingested per order
    # measured per table (bench/cost_probe.py) when known: the write units of the items
    # written (transactional ones twice) and of the index entries those writes update
    table_write_units: float | None = None
    index_write_units: float = 0.0


def write_units(kb: float) -> int:
    return max(1, math.ceil(kb / WRITE_UNIT_KB))


def _read_units(kb: float) -> int:
    return max(1, math.ceil(kb / READ_UNIT_KB))


def _sum(requests: Mapping[str, float], prefix: str, ops: tuple[str, ...] = ()) -> float:
    return sum(n for op, n in requests.items() if op.startswith(prefix) and op not in ops)


def cost_per_million(usage: Usage) -> dict[str, float]:
    """USD per million orders, by line ("dynamodb", "api_gateway", ...) and "total".

    DynamoDB: a write of an item takes ceil(kb / 1) write units, twice in a transaction; a
    read ceil(kb / 4) read units (strongly consistent, the dearer case), twice in a
    transaction; a Query or Scan is counted as reading one item. Items of BatchWriteItem,
    BatchGetItem and the Transact* operations come from `usage.items` (per order); without
    them one item per request is assumed. When the write units were measured per table
    (`usage.table_write_units`, from each table's own item sizes) they replace that estimate;
    `usage.index_write_units` (global secondary index entries updated) are added either way.
    """
    r, items = usage.requests, usage.items
    w, rd = write_units(usage.write_item_kb), _read_units(usage.read_item_kb)

    def n_items(op: str) -> float:
        return items.get(op, r.get(op, 0.0))

    item_write_units = (
        usage.table_write_units
        if usage.table_write_units is not None
        else sum(r.get(op, 0.0) for op in DYNAMODB_WRITES) * w
        + n_items("dynamodb.BatchWriteItem") * w
        + n_items("dynamodb.TransactWriteItems") * 2 * w
    ) + usage.index_write_units
    read_units = (
        sum(r.get(op, 0.0) for op in DYNAMODB_READS) * rd
        + n_items("dynamodb.BatchGetItem") * rd
        + n_items("dynamodb.TransactGetItems") * 2 * rd
    )
    s3_put = sum(r.get(f"s3.{m}", 0.0) for m in ("PUT", "POST")) + r.get("s3.ListObjectsV2", 0.0)
    s3_other = _sum(r, "s3.") - s3_put
    lines = {
        "dynamodb": item_write_units * DYNAMODB_PER_MILLION_WRITE_UNITS
        + read_units * DYNAMODB_PER_MILLION_READ_UNITS,
        "api_gateway": usage.api_requests * API_GATEWAY_REST_PER_MILLION,
        "lambda": usage.lambda_invocations * LAMBDA_PER_MILLION_REQUESTS
        + usage.lambda_seconds * usage.lambda_memory_gb * LAMBDA_PER_GB_SECOND * MILLION,
        "sqs": _sum(r, "sqs.") * SQS_PER_MILLION,
        "kms": _sum(r, "kms.") * KMS_PER_MILLION,
        "s3": s3_put * S3_PUT_PER_MILLION + s3_other * S3_GET_PER_MILLION,
        "sns": _sum(r, "sns.") * SNS_PER_MILLION,
        "eventbridge": _sum(r, "events.") * EVENTBRIDGE_PER_MILLION,
        "cloudwatch": r.get("monitoring.PutMetricData", 0.0) * CLOUDWATCH_PUT_METRIC_PER_MILLION
        + usage.log_kb / (1024 * 1024) * LOGS_PER_GB * MILLION,
        "secretsmanager": _sum(r, "secretsmanager.") * SECRETS_MANAGER_PER_MILLION,
    }
    lines["total"] = sum(lines.values())
    return lines


def http_api_saving_per_million(usage: Usage) -> float:
    """USD per million orders saved by an HTTP API front door instead of the REST API."""
    return usage.api_requests * (API_GATEWAY_REST_PER_MILLION - API_GATEWAY_HTTP_PER_MILLION)


# --------------------------------------------------------------------------- item sizes


def _value_size(value: Mapping[str, Any]) -> float:
    """Bytes of one attribute value by DynamoDB's item size rules (wire format input)."""
    ((kind, v),) = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = v.lstrip("-").replace(".", "").lstrip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(v) if isinstance(v, bytes | bytearray) else len(v) * 3 / 4  # base64 text
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: x}) for x in v)
    if kind == "L":
        return 3 + sum(1 + _value_size(x) for x in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_size(x) for k, x in v.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_kb(item: Mapping[str, Mapping[str, Any]]) -> float:
    """An item's size in KB (1,024 bytes) as DynamoDB meters it."""
    return sum(len(name.encode()) + _value_size(v) for name, v in item.items()) / 1024


def report_lines(usage: Usage, orders: int) -> list[str]:
    """The bench report's cost lines."""
    lines = cost_per_million(usage)
    r, items = usage.requests, usage.items
    tx_items = items.get("dynamodb.TransactWriteItems", r.get("dynamodb.TransactWriteItems", 0.0))
    plain_writes = sum(r.get(op, 0.0) for op in DYNAMODB_WRITES) + items.get(
        "dynamodb.BatchWriteItem", r.get("dynamodb.BatchWriteItem", 0.0)
    )
    reads = sum(r.get(op, 0.0) for op in DYNAMODB_READS) + items.get(
        "dynamodb.BatchGetItem", r.get("dynamodb.BatchGetItem", 0.0)
    )
    parts = ", ".join(f"{k} {v:.2f}" for k, v in lines.items() if k != "total" and v >= 0.005)
    return [
        f"cost       ${lines['total']:.2f} per million orders at list prices (target <= $15; "
        f"from {orders} orders): {parts}",
        f"           items {usage.write_item_kb:.2f} KB written / {usage.read_item_kb:.2f} KB "
        f"read (mean sampled), {usage.api_requests:.2f} API requests, "
        f"{usage.lambda_invocations:.2f} invocations, {usage.lambda_seconds * 1000:.0f} ms "
        f"at {usage.lambda_memory_gb:g} GB and ~{usage.log_kb:g} KB of logs per order; an "
        f"HTTP API front door would save ${http_api_saving_per_million(usage):.2f}",
        f"           dynamodb per order: {tx_items:.2f} items written in transactions (2 write "
        f"units each per KB), {plain_writes:.2f} other writes, {reads:.2f} item reads; "
        + (
            f"{usage.table_write_units:.1f} write units for the items and "
            f"{usage.index_write_units:.1f} for the index entries they update"
            if usage.table_write_units is not None
            else "index writes not counted"
        ),
    ]
