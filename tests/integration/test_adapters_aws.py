"""The SQS/S3, Secrets Manager and catalog adapters against moto."""

from __future__ import annotations

import json

from chalicelib.adapters.messaging import MAX_INLINE_BYTES
from chalicelib.domain.auth import hash_api_key
from chalicelib.domain.ports import Store, Warehouse


def receive_all(container):
    sqs = container.sqs
    out = sqs.receive_message(
        QueueUrl=container.settings.order_queue_url,
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )
    return out.get("Messages", [])


def test_small_message_travels_inline_with_correlation_id(container):
    container.queue.send({"event": {"order_id": "o-1"}}, "mall#s#o-1")
    (message,) = receive_all(container)
    assert json.loads(message["Body"]) == {"event": {"order_id": "o-1"}}
    assert message["MessageAttributes"]["correlation_id"]["StringValue"] == "mall#s#o-1"


def test_large_message_overflows_to_s3_and_loads_back(container):
    big = {"event": {"order_id": "o-1"}, "raw": "x" * (MAX_INLINE_BYTES + 10)}
    container.queue.send(big, "c")
    (message,) = receive_all(container)
    assert len(message["Body"]) < 1000 and "overflow" in message["Body"]
    assert container.loader.load(message["Body"]) == big


def test_secret_is_read_as_json(container, aws):
    aws.client("secretsmanager").create_secret(
        Name="orderhub/stores/mall/s1", SecretString='{"webhook_secret": "whsec_x"}'
    )
    assert container.secrets.get_secret("orderhub/stores/mall/s1") == {"webhook_secret": "whsec_x"}


def test_catalog_round_trips_stores_warehouses_and_keys(container):
    catalog = container.catalog_store
    catalog.put_store(Store("mall", "s1", "orderhub/stores/mall/s1", "Asia/Shanghai", "Shop"))
    catalog.put_warehouse(Warehouse("w2", "south", 2))
    catalog.put_warehouse(Warehouse("w1", "east", 1))
    catalog.put_api_key(hash_api_key("k"), {"key_id": "k1", "owner": "o", "role": "admin"})
    assert catalog.get_store("mall", "s1") == Store(
        "mall", "s1", "orderhub/stores/mall/s1", "Asia/Shanghai", "Shop"
    )
    assert catalog.get_store("mall", "nope") is None
    assert [w.warehouse_id for w in catalog.list_warehouses()] == ["w1", "w2"]
    assert catalog.get_api_key(hash_api_key("k"))["role"] == "admin"


def test_queue_monitor_counts_visible_messages(container):
    container.queue.send({"event": {}}, "c")
    assert container.queue_monitor.depths()["orders"]["visible"] == 1
    assert container.queue_monitor.depths()["orders_dlq"]["visible"] == 0
