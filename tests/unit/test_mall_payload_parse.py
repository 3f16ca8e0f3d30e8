"""The own-shop contract: valid payloads become canonical events in UTC; each broken rule is
refused with the field's path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from chalicelib.channels.mall import parse_mall_payload
from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.ports import Store
from tests.builders import body, mall_payload

STORE = Store("mall", "demo-shop", "orderhub/stores/mall/demo-shop")
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def parse(payload):
    return parse_mall_payload(body(payload), STORE, "msg_1", NOW)


def test_valid_payload_becomes_canonical_event_in_utc():
    ev = parse(mall_payload(updated_at="2026-11-25T16:00:00+08:00"))
    assert ev.updated_at == datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    assert ev.updated_at_raw == "2026-11-25T16:00:00+08:00"
    assert ev.event_key == "mall#demo-shop#msg_1"
    assert ev.order_key == "mall#demo-shop#o-1"
    assert ev.lines[0].unit_price == Decimal("12.50") and ev.lines[0].quantity == 2
    assert ev.to_dict() == type(ev).from_dict(ev.to_dict()).to_dict()


def broken(path, value):
    payload = mall_payload()
    target = payload
    *parents, last = path
    for key in parents:
        target = target[key]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return payload


DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("type",), "order.returned", "$.type"),
        (("data", "order_id"), DELETE, "$.data.order_id is required"),
        (("data", "order_id"), "  ", "$.data.order_id must not be empty"),
        (("data", "status"), "returned", "$.data.status"),
        (("data", "updated_at"), "2026-11-25T16:00:00", "no UTC offset"),
        (("data", "updated_at"), "yesterday", "not an ISO-8601"),
        (("data", "currency"), "yuan", "$.data.currency"),
        (("data", "lines"), [], "at least one line"),
        (("data", "lines", 0, "quantity"), 0, "positive integer"),
        (("data", "lines", 0, "quantity"), True, "must be an integer"),
        (("data", "lines", 0, "quantity"), "2", "must be an integer"),
        (("data", "lines", 0, "unit_price"), 12.5, "must be a string"),
        (("data", "lines", 0, "unit_price"), "-1", "decimal string"),
        (("data", "buyer"), DELETE, "$.data.buyer is required"),
        (("data", "buyer", "phone"), 138, "$.data.buyer.phone must be a string"),
    ],
)
def test_broken_rule_is_refused_with_its_path(path, value, message):
    with pytest.raises(InvalidPayload, match=message.replace("$", r"\$").replace(".", r"\.")):
        parse(broken(path, value))


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_non_object_bodies_are_refused(raw):
    with pytest.raises(InvalidPayload):
        parse_mall_payload(raw, STORE, "msg_1", NOW)
