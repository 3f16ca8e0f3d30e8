"""Personal data is sealed before it is queued or stored: the vault (real AES-256-GCM over a
fake KMS that binds data keys to their encryption context), sealing at intake and in the
processor, and what the queue, the raw archive and the orders hold afterwards."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest

from chalicelib.domain.anomaly_rules import suspicious_address
from chalicelib.domain.archive import raw_key
from chalicelib.domain.details import OrderDetailRouter, OrderDetails
from chalicelib.domain.model import Booking, Buyer, Order, OrderEvent, OrderLine, PlatformStatus
from chalicelib.domain.personal_data import (
    SealBroken,
    VaultUnavailable,
    open_buyer,
    open_raw,
    open_raw_document,
    seal_buyer,
    seal_event,
)
from chalicelib.domain.ports import Store, StoreRules
from chalicelib.domain.sealed import Sealed
from tests.builders import RECEIVED, body, event, mall_payload
from tests.privacy_fakes import FakeKms, fake_vault, opened_message
from tests.unit.test_http_api import KEY, post_webhook, signed_headers

PHONE, ID_NUMBER, EMAIL = "13955501234", "110101199003071234", "li.scan@example.com"
STREET = "88 Secretgarden Lane"
SECRETS = (PHONE, ID_NUMBER, EMAIL, STREET, "Li Lei")
ORDER = "mall#demo-shop#o-1"


def buyer() -> Buyer:
    return Buyer("Li Lei", PHONE, f"{STREET}, Shanghai", EMAIL, ID_NUMBER)


def assert_no_plaintext(value: object) -> None:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    for secret in SECRETS:
        assert secret not in text, secret


# ---- the vault ------------------------------------------------------------------------------


def test_sealed_fields_open_for_their_order_only():
    vault = fake_vault()
    sealed = vault.seal(ORDER, {"phone": PHONE, "id_number": ID_NUMBER})
    assert_no_plaintext(sealed.to_dict())
    assert sealed.names == ("id_number", "phone") and sealed.order_key == ORDER
    assert vault.open(sealed, ORDER) == {"phone": PHONE, "id_number": ID_NUMBER}
    with pytest.raises(SealBroken):  # KMS refuses another order's encryption context
        vault.open(sealed, "mall#demo-shop#o-2")
    moved = replace(sealed, order_key="mall#demo-shop#o-2")  # an envelope copied elsewhere
    with pytest.raises(SealBroken):
        vault.open(moved, "mall#demo-shop#o-2")


def test_a_field_swapped_or_altered_does_not_open():
    vault = fake_vault()
    sealed = vault.seal(ORDER, {"phone": PHONE, "name": "Li Lei"})
    fields = dict(sealed.fields)
    swapped = replace(sealed, fields=(("name", fields["phone"]), ("phone", fields["name"])))
    with pytest.raises(SealBroken):  # each field is authenticated with its own name
        vault.open(swapped, ORDER)
    blob = bytearray(fields["phone"].encode())
    blob[20] = ord("A") if blob[20] != ord("A") else ord("B")
    altered = replace(sealed, fields=(("name", fields["name"]), ("phone", blob.decode())))
    with pytest.raises(SealBroken):
        vault.open(altered, ORDER)


def test_every_seal_has_its_own_data_key_and_nonces():
    kms = FakeKms()
    vault = fake_vault(kms)
    one, two = vault.seal(ORDER, {"phone": PHONE}), vault.seal(ORDER, {"phone": PHONE})
    assert one.wrapped_key != two.wrapped_key and one.fields != two.fields
    assert kms.calls["GenerateDataKey"] == 2


def test_an_envelope_round_trips_through_json():
    sealed = fake_vault().seal(ORDER, {"phone": PHONE})
    assert Sealed.from_dict(json.loads(json.dumps(sealed.to_dict()))) == sealed
    with pytest.raises(ValueError, match="version"):
        Sealed.from_dict({**sealed.to_dict(), "v": 2})


@pytest.mark.parametrize("code", ["ThrottlingException", "DisabledException", "AccessDenied"])
def test_key_service_failures_are_transient(code):
    kms = FakeKms()
    vault = fake_vault(kms)
    sealed = vault.seal(ORDER, {"phone": PHONE})
    kms.failing = code
    with pytest.raises(VaultUnavailable):
        vault.seal(ORDER, {"phone": PHONE})
    with pytest.raises(VaultUnavailable):
        vault.open(sealed, ORDER)


# ---- sealing an event ---------------------------------------------------------------------


def plain_event() -> OrderEvent:
    return replace(event(store="demo-shop"), buyer=buyer())


def test_an_event_and_its_raw_payload_are_sealed_with_one_kms_call():
    kms = FakeKms()
    vault = fake_vault(kms)
    raw = json.dumps({"buyer": {"phone": PHONE, "id_number": ID_NUMBER, "email": EMAIL}})
    sealed, sealed_raw = seal_event(plain_event(), raw, vault, StoreRules())
    assert kms.calls["GenerateDataKey"] == 1
    assert sealed.buyer is not None and sealed.buyer.sealed is not None
    assert sealed.buyer.to_dict() | {"sealed": "..."} == {
        "name": "L*",
        "phone": "139****1234",
        "address": "Shanghai",
        "email": "l***@example.com",
        "id_number": "1101**********1234",
        "sealed": "...",
        "address_findings": [],
    }
    assert sealed.buyer.sealed.wrapped_key == sealed_raw.wrapped_key  # one data key
    assert_no_plaintext({"event": sealed.to_dict(), "raw_sealed": sealed_raw.to_dict()})
    assert OrderEvent.from_dict(json.loads(json.dumps(sealed.to_dict()))) == sealed
    assert open_buyer(sealed.buyer, ORDER, vault) == buyer()
    assert open_raw(sealed_raw, ORDER, vault) == raw


def test_what_is_sealed_already_is_not_sealed_again():
    kms = FakeKms()
    vault = fake_vault(kms)
    sealed, sealed_raw = seal_event(plain_event(), "{}", vault, StoreRules())
    again, again_raw = seal_event(sealed, sealed_raw, vault, StoreRules())
    assert (again, again_raw) == (sealed, sealed_raw)
    assert seal_buyer(sealed, vault, StoreRules()) == sealed
    assert kms.calls["GenerateDataKey"] == 1


def test_an_event_without_buyer_still_has_its_payload_sealed():
    thin = replace(plain_event(), buyer=None, complete=False, lines=())
    sealed, sealed_raw = seal_event(thin, f'{{"phone": "{PHONE}"}}', fake_vault(), StoreRules())
    assert sealed.buyer is None and sealed_raw.names == ("raw",)


def test_address_checks_run_on_the_plaintext_before_it_is_sealed():
    """The suspicious-address rule sees only the region of a sealed buyer: its findings come
    from the plaintext, with the store's rules, and a later event with the same address does
    not raise it again."""
    vault, rules = fake_vault(), StoreRules(forbid_po_box=True)
    po_box = replace(plain_event(), buyer=replace(buyer(), address="PO Box 9, Springfield"))
    first, _ = seal_event(po_box, "{}", vault, rules)
    assert first.buyer is not None and first.buyer.address == "Springfield"
    assert first.buyer.address_findings == ("a PO box, which the store does not ship to",)
    placed = order_with(first.buyer)
    flagged = suspicious_address(None, placed)
    assert flagged is not None and "PO box" in flagged.detail
    assert "Springfield" not in flagged.detail and "9" not in flagged.detail
    paid, _ = seal_event(replace(po_box, event_key="k2"), "{}", vault, rules)  # sealed anew
    assert suspicious_address(placed, order_with(paid.buyer)) is None
    fine, _ = seal_event(plain_event(), "{}", vault, rules)
    assert suspicious_address(placed, order_with(fine.buyer)) is None


def order_with(sealed: Buyer | None) -> Order:
    return Order(
        "mall",
        "demo-shop",
        "o-1",
        PlatformStatus.UNPAID,
        Booking.RESERVED,
        RECEIVED,
        "",
        "CNY",
        (OrderLine("SKU-A", 1, Decimal("1")),),
        sealed,
    )


# ---- through the app: webhook, queue, processor, storage -----------------------------------


def scan_payload() -> bytes:
    payload = mall_payload()
    payload["data"]["buyer"] = {
        "name": "Li Lei",
        "phone": PHONE,
        "address": f"{STREET}, Shanghai",
        "email": EMAIL,
        "id_number": ID_NUMBER,
    }
    return body(payload)


def process(client, deps) -> None:
    sqs = client.events.generate_sqs_event(
        message_bodies=[json.dumps(m) for m, _ in deps.queue.messages],
        queue_name="orderhub-order-events",
    )
    for i, record in enumerate(sqs["Records"]):
        record["messageId"] = f"m{i}"
    assert client.lambda_.invoke("handle_order_events", sqs).payload == {"batchItemFailures": []}


def test_webhook_queues_only_sealed_personal_data_and_the_order_stores_it_sealed(client, deps):
    raw = scan_payload()
    assert post_webhook(client, raw, signed_headers(raw, deps)).status_code == 202
    ((message, _),) = deps.queue.messages
    assert_no_plaintext(message)
    assert deps.kms.calls["GenerateDataKey"] == 1  # the webhook's one KMS call
    opened = opened_message(message, deps.personal_data)
    assert opened["raw"] == raw.decode() and opened["event"]["buyer"]["id_number"] == ID_NUMBER

    before = dict(deps.kms.calls)
    process(client, deps)
    assert deps.kms.calls == before  # the processor opens and seals nothing: no KMS call
    order = deps.orders.get_order(ORDER)
    assert order is not None and order.buyer is not None and order.buyer.sealed is not None
    assert_no_plaintext(order.buyer.to_dict())
    (batch,) = deps.raw_archive.documents.values()  # the processor batch's one object
    assert_no_plaintext(batch)
    kept_at = deps.trail.get(deps.orders.get_order(ORDER).last_event_key)["raw_key"]
    document = deps.raw_archive.read(kept_at)
    assert open_raw_document(document, ORDER, deps.personal_data) == raw.decode()
    shown = client.http.get(
        "/orders/mall/demo-shop/o-1", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert shown.json_body["buyer"] == {
        "name": "L*",
        "phone": "139****1234",
        "address": "Shanghai",
        "email": "l***@example.com",
        "id_number": "1101**********1234",
    }
    assert_no_plaintext(shown.json_body)


def test_a_message_queued_before_sealing_is_sealed_by_the_processor(client, deps):
    legacy = plain_event()
    text = scan_payload().decode()
    deps.queue.messages.append(({"event": legacy.to_dict(), "raw": text}, ORDER))
    process(client, deps)
    assert deps.kms.calls["GenerateDataKey"] == 1
    order = deps.orders.get_order(ORDER)
    assert order is not None and order.buyer is not None
    assert_no_plaintext(order.buyer.to_dict())
    document = deps.raw_archive.documents[raw_key(legacy)]
    assert_no_plaintext(document)
    assert open_raw_document(document, ORDER, deps.personal_data) == text


class Api:
    def fetch(self, store: Store, order_id: str) -> OrderDetails:
        return OrderDetails(
            PlatformStatus.PAID,
            RECEIVED,
            "2026-11-25T16:00:00+08:00",
            "CNY",
            (OrderLine("SKU-A", 1, Decimal("9.90")),),
            buyer(),
        )


def test_a_buyer_fetched_for_a_thin_event_is_sealed_before_it_is_stored(client, deps):
    deps.order_details = OrderDetailRouter({"mall": Api()})
    thin = replace(plain_event(), buyer=None, complete=False, lines=(), currency="")
    deps.queue.messages.append(({"event": thin.to_dict(), "raw": "{}"}, ORDER))
    process(client, deps)
    order = deps.orders.get_order(ORDER)
    assert order is not None and order.booking is Booking.LOCKED
    assert order.buyer is not None and order.buyer.sealed is not None
    assert_no_plaintext(order.buyer.to_dict())
    assert open_buyer(order.buyer, ORDER, deps.personal_data) == buyer()


def test_a_webhook_is_answered_503_while_the_key_service_is_down(client, deps):
    deps.kms.failing = "ThrottlingException"
    raw = scan_payload()
    response = post_webhook(client, raw, signed_headers(raw, deps))
    assert response.status_code == 503 and response.json_body["error"] == "key_service_unavailable"
    assert deps.queue.messages == []  # nothing queued: the platform sends it again
