"""The emulator's faster moto serializer (local/moto_serialize.py) answers byte for byte what
moto's own answers: the same responses serialized both ways, for items with every kind of
attribute value, and for other services' responses that go through the memoized pickers."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from moto.core import serialize
from moto.core.serialize import XFormedAttributePicker, get_serializer_class
from moto.core.utils import get_service_model

from local import moto_serialize
from local.moto_patch import patch_moto

ITEM = {
    "pk": {"S": "order#mall#demo-shop#A1"},
    "n": {"N": "12.50"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "tags": {"SS": ["a", "b"]},
    "counts": {"NS": ["1", "2"]},
    "raw": {"B": base64.b64encode(b"\x00\x01binary").decode()},
    "raws": {"BS": [b"\x02\x03", b"text"]},
    "nested": {
        "M": {
            "lines": {"L": [{"M": {"sku": {"S": "SKU-A"}, "qty": {"N": "2"}}}, {"NULL": True}]},
            "blob": {"B": b"\xff\xfe"},
            "empty": {"M": {}},
        }
    },
}

CASES = [
    ("dynamodb", "GetItem", {"Item": ITEM}),
    ("dynamodb", "Query", {"Items": [ITEM, {"pk": {"S": "x"}}], "Count": 2, "ScannedCount": 2}),
    ("dynamodb", "BatchGetItem", {"Responses": {"t": [ITEM]}, "UnprocessedKeys": {}}),
    ("dynamodb", "TransactGetItems", {"Responses": [{"Item": ITEM}, {}]}),
    (
        "dynamodb",
        "UpdateItem",
        {"Attributes": ITEM, "ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}},
    ),
    ("sqs", "ReceiveMessage", {"Messages": [{"MessageId": "m1", "Body": "{}", "Attributes": {}}]}),
]


def _serialized(service: str, operation: str, result: Any) -> Any:
    model = get_service_model(service)
    operation_model = model.operation_model(operation)
    serializer = get_serializer_class(service, model.protocol)(
        operation_model=operation_model, value_picker=XFormedAttributePicker()
    )
    return json.loads(serializer.serialize(result)["body"])


@pytest.mark.parametrize(("service", "operation", "result"), CASES)
def test_the_patched_serializer_answers_what_moto_answers(
    service: str, operation: str, result: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_moto()
    fast = [_serialized(service, operation, result) for _ in range(2)]  # cold memo, then warm
    for (cls, name), original in moto_serialize.ORIGINALS.items():
        monkeypatch.setattr(cls, name, original)
    assert (
        serialize.BaseJSONSerializer._serialize_type_structure
        is (moto_serialize.ORIGINALS[(serialize.BaseJSONSerializer, "_serialize_type_structure")])
    )
    slow = _serialized(service, operation, result)
    assert fast == [slow, slow]
    assert slow  # not an empty answer both ways


def test_an_unknown_value_takes_the_model_walk() -> None:
    with pytest.raises(moto_serialize._Unknown):
        moto_serialize._wire({"S": "a", "N": "1"})
    with pytest.raises(moto_serialize._Unknown):
        moto_serialize._wire({"X": "a"})
    assert moto_serialize._wire({"L": [{"B": b"a"}]}) == {"L": [{"B": "YQ=="}]}
