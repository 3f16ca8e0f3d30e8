"""bench/cost.py against a hand-computed example (prices: the module's named constants)."""

from __future__ import annotations

import pytest

from bench.cost import Usage, cost_per_million, http_api_saving_per_million, item_kb
from bench.cost_probe import table_write_units, usage_from_report

# The mix issue 16 measured (per order, one event each), three items per transaction.
MIX = Usage(
    requests={
        "dynamodb.UpdateItem": 2,
        "dynamodb.GetItem": 1,
        "dynamodb.Query": 2,
        "dynamodb.TransactWriteItems": 1,
        "kms.GenerateDataKey": 1,
        "s3.PUT": 1,
        "sqs.SendMessage": 1,
        "sqs.ReceiveMessage": 0.2,
        "sqs.DeleteMessageBatch": 0.1,
    },
    items={"dynamodb.TransactWriteItems": 3},
    write_item_kb=1.5,
    read_item_kb=1.5,
    api_requests=1,
    lambda_invocations=1.1,
    lambda_seconds=0.2,
    lambda_memory_gb=0.5,
    log_kb=2,
)


def test_a_million_orders_of_the_issue_16_mix_by_hand():
    lines = cost_per_million(MIX)
    # 1.5 KB items: 2 write units each, twice in a transaction: 2 x 2 + 3 x 2 x 2 = 16 WRU;
    # reads: 1.5 KB < 4 KB, one unit each: GetItem + 2 Query = 3 RRU
    assert lines["dynamodb"] == pytest.approx(16 * 0.625 + 3 * 0.125)  # 10.375
    assert lines["api_gateway"] == pytest.approx(3.50)
    # 1.1 invocations x $0.20/M + 0.2 s x 0.5 GB x $0.0000166667 x 1M
    assert lines["lambda"] == pytest.approx(0.22 + 1.66667, rel=1e-5)
    assert lines["sqs"] == pytest.approx(1.3 * 0.40)
    assert lines["kms"] == pytest.approx(3.00)
    assert lines["s3"] == pytest.approx(5.00)
    assert lines["cloudwatch"] == pytest.approx(2 / 1024 / 1024 * 0.50 * 1e6)  # 2 GB of logs
    assert lines["total"] == pytest.approx(25.2353, abs=1e-3)
    assert http_api_saving_per_million(MIX) == pytest.approx(2.50)


def test_without_item_counts_a_multi_item_call_is_one_item_and_sizes_round_up():
    one = Usage(requests={"dynamodb.TransactWriteItems": 1}, write_item_kb=0.1)
    assert cost_per_million(one)["dynamodb"] == pytest.approx(2 * 0.625)  # 1 item, 1 WRU x 2
    big = Usage(requests={"dynamodb.GetItem": 1}, read_item_kb=4.1)
    assert cost_per_million(big)["dynamodb"] == pytest.approx(2 * 0.125)  # 4.1 KB: 2 RRU


def test_item_size_follows_dynamodbs_rules():
    item = {
        "pk": {"S": "order#1"},  # 2 + 7
        "n": {"N": "123.45"},  # 1 + (5 digits: 3 bytes + 1)
        "ok": {"BOOL": True},  # 2 + 1
        "m": {"M": {"a": {"S": "xy"}}},  # 1 + 3 + (1 + 1 + 2)
    }
    assert item_kb(item) * 1024 == pytest.approx(9 + 5 + 3 + 8)


def test_usage_is_taken_per_fully_processed_order_from_the_bench_report():
    report = {
        "throughput": {"orders_fully_processed": 10},
        "events": {"sent": 12},
        "aws_requests": {"by_operation": {"sqs.SendMessage": 12, "sqs.DeleteMessageBatch": 2}},
    }
    usage = usage_from_report(report, {"items": {"dynamodb.BatchGetItem": 40}}, 2.0)
    assert usage is not None
    assert usage.requests == {"sqs.SendMessage": 1.2, "sqs.DeleteMessageBatch": 0.2}
    assert usage.items == {"dynamodb.BatchGetItem": 4.0}
    assert usage.api_requests == 1.2 and usage.lambda_invocations == pytest.approx(1.4)
    assert usage.write_item_kb == 2.0
    # (1.2 webhook + 0.2 processor invocations) x 5 ms + 1.4 AWS requests x 8 ms
    assert usage.lambda_seconds == pytest.approx((1.4 * 5 + 1.4 * 8) / 1000)
    report["throughput"]["orders_fully_processed"] = 0
    assert usage_from_report(report, {}, None) is None


class _Tables:
    """describe_table and scan of one table: key `pk`, a sparse ALL index on `day` and a
    KEYS_ONLY index on `phone`."""

    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def describe_table(self, TableName: str) -> dict:
        if TableName != "orders":
            raise KeyError(TableName)
        return {
            "Table": {
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                "GlobalSecondaryIndexes": [
                    {
                        "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                    },
                    {
                        "KeySchema": [{"AttributeName": "phone", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    },
                ],
            }
        }

    def scan(self, TableName: str, Limit: int) -> dict:
        return {"Items": self.items[:Limit]}


def test_write_units_are_priced_per_table_with_the_index_entries_each_write_updates():
    big = {"pk": {"S": "a"}, "day": {"S": "d"}, "blob": {"S": "x" * 1500}}  # 2 units, ALL
    small = {"pk": {"S": "b"}, "phone": {"S": "p"}}  # 1 unit; only the KEYS_ONLY entry
    ddb = _Tables([big, small])
    items, index = table_write_units(ddb, {"orders": {"tx": 3, "plain": 1}, "gone": {"plain": 2}})
    # orders: mean 1.5 units an item; 3 transactional (x2) + 1 plain = 7 x 1.5; "gone": 2 x 1
    assert items == pytest.approx(7 * 1.5 + 2)
    # entries: big's ALL entry 2 units, small's keys-only entry 1 -> 1.5 per write, 4 writes
    assert index == pytest.approx(4 * 1.5)
    usage = Usage(requests={}, table_write_units=items, index_write_units=index)
    assert cost_per_million(usage)["dynamodb"] == pytest.approx((12.5 + 6) * 0.625)
