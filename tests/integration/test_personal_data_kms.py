"""The personal-data vault on KMS (moto), with the key infra/resources.json defines: data keys
bound to their order by the encryption context, and nothing in clear in SQS, DynamoDB or S3
after an event has been queued and booked."""

from __future__ import annotations

import base64
import json
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from chalicelib.adapters.personal_data import DataKeyCache, KmsEnvelopeVault
from chalicelib.api.processor import handle_order_message
from chalicelib.domain.ingest import enqueue_events
from chalicelib.domain.model import Buyer, Outcome
from chalicelib.domain.personal_data import SealBroken, reveal_personal_data
from chalicelib.domain.ports import Store, StoreRules, Warehouse
from chalicelib.domain.processing import adjust_stock
from chalicelib.domain.sealed import Sealed
from chalicelib.domain.stock_ops import Adjustment
from tests.builders import event

PHONE, ID_NUMBER, EMAIL = "13955501234", "110101199003071234", "li.scan@example.com"
ORDER = "mall#s1#o-1"


def test_the_key_is_the_one_infra_defines_with_rotation_and_alias(container):
    kms = container._client("kms")
    key_arn = container.settings.pii_key_id
    meta = kms.describe_key(KeyId="alias/orderhub-pii")["KeyMetadata"]
    assert meta["Arn"] == key_arn and meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    functions = next(s for s in policy["Statement"] if s["Sid"] == "FunctionsSealAndOpenPerOrder")
    assert functions["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert functions["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:EncryptionContextKeys": ["order_key"]
    }


def test_a_data_key_opens_only_with_its_orders_context(container):
    vault = KmsEnvelopeVault(container._client("kms"), container.settings.pii_key_id)
    sealed = vault.seal(ORDER, {"phone": PHONE, "id_number": ID_NUMBER})
    assert sealed.key_id == container.settings.pii_key_id
    assert vault.open(sealed, ORDER) == {"phone": PHONE, "id_number": ID_NUMBER}
    with pytest.raises(SealBroken, match="InvalidCiphertextException"):
        vault.open(sealed, "mall#s1#o-2")  # KMS: another order's context
    with pytest.raises(SealBroken):
        vault.open(replace(sealed, order_key="mall#s1#o-2"), "mall#s1#o-2")
    kms = container._client("kms")
    wrapped = base64.b64decode(sealed.wrapped_key)
    for context in ({}, {"order_key": "mall#s1#o-2"}, {"order_key": ORDER, "x": "y"}):
        with pytest.raises(ClientError, match="InvalidCiphertextException"):
            kms.decrypt(CiphertextBlob=wrapped, EncryptionContext=context)
    unwrapped = kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"order_key": ORDER})
    assert len(unwrapped["Plaintext"]) == 32  # AES-256


def test_a_cached_data_key_serves_a_store_but_binds_each_order_by_its_aad(container):
    kms = container._client("kms")
    calls = []
    kms.meta.events.register("before-send.kms.GenerateDataKey", lambda **kw: calls.append(1))
    vault = KmsEnvelopeVault(kms, container.settings.pii_key_id, key_cache=DataKeyCache())
    first = vault.seal(ORDER, {"phone": PHONE})
    second = vault.seal("mall#s1#o-2", {"phone": "13900000000"})
    assert len(calls) == 1  # one GenerateDataKey for both orders of the store
    assert first.wrapped_key == second.wrapped_key and first.context == "mall#s1"
    assert vault.open(first, ORDER) == {"phone": PHONE}
    assert vault.open(Sealed.from_dict(second.to_dict()), "mall#s1#o-2") == {"phone": "13900000000"}
    with pytest.raises(SealBroken, match="another order"):
        vault.open(first, "mall#s1#o-2")  # same key, another order's associated data
    moved = replace(first, order_key="mall#s1#o-2")
    with pytest.raises(SealBroken):
        vault.open(moved, "mall#s1#o-2")
    with pytest.raises(SealBroken, match="another store"):
        vault.open(first, "mall#s2#o-1")
    other_store = vault.seal("mall#s2#o-1", {"phone": PHONE})
    assert other_store.wrapped_key != first.wrapped_key and len(calls) == 2
    # what is stored unwraps only under the store's context, as KMS checks it
    wrapped = base64.b64decode(first.wrapped_key)
    with pytest.raises(ClientError, match="InvalidCiphertextException"):
        kms.decrypt(CiphertextBlob=wrapped, EncryptionContext={"order_key": ORDER})


def test_a_cached_data_key_is_renewed_by_age_and_by_uses_and_old_envelopes_still_open(container):
    kms = container._client("kms")
    calls = []
    kms.meta.events.register("before-send.kms.GenerateDataKey", lambda **kw: calls.append(1))
    per_order = KmsEnvelopeVault(kms, container.settings.pii_key_id).seal(ORDER, {"phone": PHONE})
    now = [0.0]
    cache = DataKeyCache(max_age_seconds=300, max_uses=3, clock=lambda: now[0])
    vault = KmsEnvelopeVault(kms, container.settings.pii_key_id, key_cache=cache)
    keys = [vault.seal(f"mall#s1#o-{i}", {"phone": PHONE}).wrapped_key for i in range(4)]
    assert len(set(keys)) == 2 and keys[0] == keys[2] != keys[3]  # the 4th: over max_uses
    now[0] = 301.0
    assert vault.seal("mall#s1#o-9", {"phone": PHONE}).wrapped_key != keys[3]  # too old
    assert len(calls) == 4  # 1 per-order + 3 cached generations
    assert vault.open(per_order, ORDER) == {"phone": PHONE}  # sealed before the cache
    with pytest.raises(SealBroken):
        vault.open(per_order, "mall#s1#o-2")


def test_an_unknown_key_is_a_transient_failure(container):
    from chalicelib.domain.personal_data import VaultUnavailable

    vault = KmsEnvelopeVault(container._client("kms"), "alias/no-such-key")
    with pytest.raises(VaultUnavailable, match="NotFoundException"):
        vault.seal(ORDER, {"phone": PHONE})


def test_nothing_is_in_clear_in_the_queue_the_tables_or_the_bucket(container):
    container.catalog_store.put_store(Store("mall", "s1", "orderhub/stores/mall/s1"))
    container.catalog_store.put_warehouse(Warehouse("w1", "east", 1))
    adjust_stock(
        Adjustment("r-1", "SKU-A", "w1", "receipt", 5, "opening"), container.orders, container.now
    )
    buyer = Buyer("Li Lei", PHONE, "88 Secretgarden Lane, Shanghai", EMAIL, ID_NUMBER)
    evt = replace(event(platform="mall", store="s1"), buyer=buyer)
    raw = json.dumps({"buyer": {"phone": PHONE, "id": ID_NUMBER, "email": EMAIL}})
    enqueue_events([evt], raw, container.queue, container.personal_data, StoreRules())
    (message,) = container.sqs.receive_message(
        QueueUrl=container.settings.order_queue_url, MaxNumberOfMessages=1
    )["Messages"]
    assert_clear_of_personal_data(message["Body"])
    assert handle_order_message(message["Body"], container).outcome is Outcome.BOOKED

    ddb, s3 = container._client("dynamodb"), container.s3
    for table in ddb.list_tables()["TableNames"]:
        for item in ddb.scan(TableName=table)["Items"]:
            assert_clear_of_personal_data(json.dumps(item, default=str, ensure_ascii=False))
    bucket = container.settings.raw_bucket
    for listed in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        stored = s3.get_object(Bucket=bucket, Key=listed["Key"])["Body"].read().decode()
        assert_clear_of_personal_data(stored)

    order = container.orders.get_order(ORDER)
    assert order is not None
    assert reveal_personal_data(order, container.personal_data).buyer == {
        "name": "Li Lei",
        "phone": PHONE,
        "address": "88 Secretgarden Lane, Shanghai",
        "email": EMAIL,
        "id_number": ID_NUMBER,
    }


def assert_clear_of_personal_data(text: str) -> None:
    for secret in (PHONE, ID_NUMBER, EMAIL, "Secretgarden", "Li Lei"):
        assert secret not in text, secret
