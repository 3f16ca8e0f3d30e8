"""The request diet (issue 16): a processed event costs at most 3.5 AWS requests, counted on
every botocore client while events go the whole way (intake -> SQS -> the processor's batch ->
booked), and what the diet batched is still found: an order's raw payload in its batch object.

Counted, not timed: the number does not depend on load. Under `mock_aws`, in-process."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from app import app
from chalicelib.api.intake import queue_and_record
from chalicelib.api.personal_data import last_raw_document
from chalicelib.api.processor import ORDER_BATCH_SIZE, ORDER_BATCHING_WINDOW_SECONDS
from chalicelib.deps import use_container
from chalicelib.domain.model import Outcome
from chalicelib.domain.personal_data import open_raw_document
from chalicelib.domain.ports import Store, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from local.worker import SqsPoller
from tests.builders import event

REGION = "us-east-1"
EVENTS = 40  # two full processor batches of 20 (no batching window waited out)
MAX_REQUESTS_PER_EVENT = 3.5


@pytest.fixture
def deps(container):
    use_container(container)
    container.catalog_store.put_store(Store("mall", "s1", "orderhub/stores/mall/s1"))
    for warehouse in ("w1", "w2"):
        container.catalog_store.put_warehouse(Warehouse(warehouse, "east", 1))
    for sku in ("SKU-A", "SKU-B", "SKU-C"):
        adjust_stock(
            Adjustment(f"r-{sku}", sku, "w1", "receipt", 500, "opening"),
            container.orders,
            container.now,
        )
    yield container
    use_container(None)


def orders(count: int) -> list:
    skus = ("SKU-A", "SKU-B", "SKU-C")
    return [
        event(order_id=f"o-{i}", lines=((skus[i % 3], 1), (skus[(i + 1) % 3], 2)))
        for i in range(count)
    ]


def order_poller(deps) -> SqsPoller:
    """The processor as the local stack runs it (the event source mapping's part)."""
    queue = deps.settings.order_queue_url
    arn = deps.sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    return SqsPoller(
        deps.sqs,
        queue,
        arn["Attributes"]["QueueArn"],
        "handle_order_events",
        app.handler_map["handle_order_events"],
        REGION,
        batch_size=ORDER_BATCH_SIZE,
        wait_seconds=0,
        batching_window=ORDER_BATCHING_WINDOW_SECONDS,
    )


def run_processor(deps, poller: SqsPoller | None = None) -> int:
    poller = poller or order_poller(deps)
    processed = 0
    while batch := poller.poll_once():
        processed += batch
    return processed


def test_a_processed_event_costs_at_most_three_and_a_half_requests(deps, calls):
    # a warm function: its caches hold the catalog and the blind index key
    deps.catalog.get_store("mall", "s1")
    deps.warehouses()
    deps.personal_data.index_phone("13800000000")
    poller = order_poller(deps)
    calls.clear()
    for created in orders(EVENTS):  # each as a webhook queues it: sealed, one message
        queue_and_record(
            deps, "mall", "s1", [created], json.dumps({"id": created.order_id}), deps.now()
        )
    assert run_processor(deps, poller) == EVENTS
    per_event = sum(calls.values()) / EVENTS
    assert per_event <= MAX_REQUESTS_PER_EVENT, sorted(calls.items())
    # what each part costs now: one read, one transaction, one message; the rest amortised
    assert (
        calls["dynamodb.BatchGetItem"] == EVENTS and calls["dynamodb.TransactWriteItems"] == EVENTS
    )
    assert calls["sqs.SendMessage"] == EVENTS and calls["kms.GenerateDataKey"] == 1
    assert calls["dynamodb.UpdateItem"] == calls["dynamodb.GetItem"] == calls["dynamodb.Query"] == 0
    # one archive object per batch of 20; SQS deletes and receives ten messages at most
    assert calls["s3.PutObject"] == EVENTS // ORDER_BATCH_SIZE
    assert calls["sqs.DeleteMessageBatch"] == EVENTS // 10
    assert calls["sqs.ReceiveMessage"] == EVENTS // 10 + 1  # and the last, empty, poll
    for created in orders(EVENTS):  # every one booked, its trail final with its receipt
        assert deps.orders.get_event_outcome(created.event_key)["outcome"] == "booked"
        trail = deps.trail.get(created.event_key)
        assert trail["final_outcome"] == "booked" and not trail["pending"]
        assert trail["platform"] == "mall" and trail["received_at"] and trail["message_id"]
        assert trail["attempts"][0]["attempt"] == 1


def test_a_redelivered_batch_books_nothing_and_still_closes_its_trails(deps, calls):
    for created in orders(10):
        queue_and_record(deps, "mall", "s1", [created], "{}", deps.now())
    queue = deps.settings.order_queue_url
    messages = deps.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    for message in messages:  # visible again at once: the batch is delivered twice
        deps.sqs.change_message_visibility(
            QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    stock_before = deps.orders.get_stock(["SKU-A"])
    assert run_processor(deps) == 10
    once = deps.orders.get_stock(["SKU-A"])
    for message in messages:
        deps.sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])  # a redelivery
    assert run_processor(deps) == 10
    assert deps.orders.get_stock(["SKU-A"]) == once != stock_before
    for created in orders(10):
        trail = deps.trail.get(created.event_key)
        assert trail["final_outcome"] == "booked"
        assert [a["outcome"] for a in trail["attempts"]] == ["booked", "duplicate"]


def test_a_failed_record_of_a_batch_of_twenty_is_retried_alone_and_booked_once(deps, monkeypatch):
    created = orders(ORDER_BATCH_SIZE)
    for order in created:
        queue_and_record(deps, "mall", "s1", [order], "{}", deps.now())
    failing = created[13].event_key  # past the first ten: nothing assumes ten a batch
    real_commit, real_delay, delayed = deps.orders.commit, deps.visibility.delay, []

    def commit(plan, *args, **kwargs):
        if plan.record.event_key == failing and not delayed:
            raise RuntimeError("DynamoDB throttled (injected)")
        return real_commit(plan, *args, **kwargs)

    def delay(handle: str, seconds: int) -> None:
        delayed.append(handle)
        real_delay(handle, seconds)

    monkeypatch.setattr(deps.orders, "commit", commit)
    monkeypatch.setattr(deps.visibility, "delay", delay)

    def available() -> int:
        return sum(level.available for level in deps.orders.get_stock(["SKU-A"]).values())

    stock_before = available()
    assert order_poller(deps).poll_once() == ORDER_BATCH_SIZE  # one batch of twenty
    assert len(delayed) == 1  # only the failed record backs off; the others are deleted
    booked = [o for o in created if deps.orders.get_event_outcome(o.event_key)]
    assert [o.event_key for o in created if o not in booked] == [failing]
    queue = deps.settings.order_queue_url
    deps.sqs.change_message_visibility(  # its backoff over
        QueueUrl=queue, ReceiptHandle=delayed[0], VisibilityTimeout=0
    )
    assert run_processor(deps) == 1  # the failed record alone comes back
    for order in created:
        assert deps.orders.get_event_outcome(order.event_key)["outcome"] == "booked"
    ordered = sum(line.quantity for o in created for line in o.lines if line.sku == "SKU-A")
    assert stock_before - available() == ordered  # each booked once


def test_the_batched_archive_still_serves_an_orders_raw_payload(deps):
    payloads = {}
    count = ORDER_BATCH_SIZE + 2  # more than one batch
    for created in orders(count):
        payloads[created.order_key] = json.dumps(
            {"order": created.order_id, "phone": "13812345678"}
        )
        queue_and_record(deps, "mall", "s1", [created], payloads[created.order_key], deps.now())
    assert run_processor(deps) == count
    listed = deps.s3.list_objects_v2(Bucket=deps.settings.raw_bucket, Prefix="raw/")
    keys = [o["Key"] for o in listed["Contents"]]
    assert len(keys) == 2 and all(k.startswith("raw/batch/") for k in keys)  # one per batch
    assert "13812345678" not in json.dumps(
        json.loads(deps.s3.get_object(Bucket=deps.settings.raw_bucket, Key=keys[0])["Body"].read())
    )  # sealed, as before
    for created in orders(count):
        order = deps.orders.get_order(created.order_key)
        event_key, document = last_raw_document(deps, order)  # the reveal's lookup
        assert event_key == created.event_key and document["event_key"] == created.event_key
        opened = open_raw_document(document, created.order_key, deps.personal_data)
        assert opened == payloads[created.order_key]
        # and another order's key does not open it (its associated data names its order)
        other = orders(count)[(orders(count).index(created) + 1) % count].order_key
        with pytest.raises(Exception, match="does not open"):
            open_raw_document(document, other, deps.personal_data)


def test_an_event_archived_before_batches_is_still_found_by_its_own_key(deps):
    from chalicelib.api.processor import handle_order_message

    created = replace(event(order_id="o-old"), received_at=deps.now() - timedelta(days=1))
    queue_and_record(deps, "mall", "s1", [created], '{"old": true}', deps.now())
    (message,) = deps.sqs.receive_message(QueueUrl=deps.settings.order_queue_url)["Messages"]
    assert handle_order_message(message["Body"], deps).outcome is Outcome.BOOKED  # one object
    deps.trail.record_receipt(created.event_key, "mall", "s1", created.received_at, 1, "m")
    _, document = last_raw_document(deps, deps.orders.get_order(created.order_key))
    assert open_raw_document(document, created.order_key, deps.personal_data) == '{"old": true}'


def test_a_delivery_of_many_events_is_queued_in_batches_of_ten(deps, calls):
    many = orders(12)  # a poller's page, a multi-event delivery
    ids = queue_and_record(deps, "mall", "s1", many, '{"page": 1}', deps.now())
    assert calls["sqs.SendMessageBatch"] == 2 and calls["sqs.SendMessage"] == 0
    assert len(set(ids)) == 12
    assert run_processor(deps) == 12
    for created, message_id in zip(many, ids, strict=True):  # ids in the events' order
        assert deps.orders.get_event_outcome(created.event_key)["outcome"] == "booked"
        assert deps.trail.get(created.event_key)["message_id"] == message_id


def test_a_batch_is_cut_by_size_before_sqs_refuses_it(deps, calls):
    big = "x" * (100 * 1024)  # each sealed message carries it: ~135 KiB
    ids = queue_and_record(deps, "mall", "s1", orders(3), big, deps.now())
    assert len(ids) == 3 and calls["sqs.SendMessageBatch"] == 3  # one each: 256 KiB in all
    assert run_processor(deps) == 3
