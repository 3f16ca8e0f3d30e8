"""Every processed event's raw payload is kept in the raw-payload bucket, large ones included."""

from __future__ import annotations

import json

from chalicelib.adapters.messaging import MAX_INLINE_BYTES
from chalicelib.api.processor import handle_order_message
from chalicelib.domain.archive import raw_key
from chalicelib.domain.ingest import enqueue_events
from chalicelib.domain.model import Outcome
from chalicelib.domain.personal_data import open_raw_document
from chalicelib.domain.ports import Store, StoreRules, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.stock_ops import Adjustment
from tests.builders import event


def test_raw_payload_of_a_booked_event_is_kept_even_when_over_sqs_limit(container):
    container.catalog_store.put_store(Store("mall", "s1", "orderhub/stores/mall/s1"))
    container.catalog_store.put_warehouse(Warehouse("w1", "east", 1))
    adjust_stock(
        Adjustment("r-1", "SKU-A", "w1", "receipt", 5, "opening"), container.orders, container.now
    )
    evt = event(platform="mall", store="s1")
    raw = '{"note": "' + "x" * (MAX_INLINE_BYTES + 100) + '"}'
    enqueue_events([evt], raw, container.queue, container.personal_data, StoreRules())
    (message,) = container.sqs.receive_message(
        QueueUrl=container.settings.order_queue_url, MaxNumberOfMessages=1
    )["Messages"]
    assert "overflow" in message["Body"]  # the queue carried a pointer
    assert handle_order_message(message["Body"], container).outcome is Outcome.BOOKED
    kept = container.raw_archive.read(raw_key(evt))
    assert "raw" not in kept and "x" * 100 not in json.dumps(kept)  # sealed (KMS, per order)
    assert open_raw_document(kept, evt.order_key, container.personal_data) == raw
    assert kept["event_key"] == evt.event_key
    assert kept["order_key"] == "mall#s1#o-1"
    # a duplicate delivery rewrites the same object, nothing new
    assert handle_order_message(message["Body"], container).outcome is Outcome.DUPLICATE
    listed = container.s3.list_objects_v2(
        Bucket=container.settings.raw_bucket, Prefix="raw/mall/s1/"
    )
    assert listed["KeyCount"] == 1


def test_missing_payload_reads_as_none(container):
    assert container.raw_archive.read("raw/mall/s1/2026/11/25/none.json") is None
