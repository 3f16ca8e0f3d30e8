"""A shorter way through moto's response serializer for DynamoDB's attribute values.

moto (5.x) serializes every response through botocore's model: each member of each structure
is looked up by the value picker (memoized in local/moto_patch.py), and every AttributeValue
of every item has ten members (S, N, M, L, ...), walked recursively. moto hands the
serializer each AttributeValue as a dict already in the wire's shape (`{"S": ...}`,
`{"M": {...}}`), so `_wire` copies such a value straight, base64-encoding binaries as the
walk does; a value it does not recognise goes the model's way as before. On a 60-attribute
order item this is most of what is left of a GetItem's serialization.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from typing import Any

from moto.core import serialize

_MARK = "_orderhub_direct"
_LOCK = threading.Lock()
ORIGINALS: dict[tuple[type, str], Any] = {}  # (class, method) -> moto's own, for the tests


class _Unknown(Exception):
    """A value `_wire` does not know: the model's walk serializes it."""


_PLAIN = {"S": str, "N": str, "BOOL": bool, "NULL": bool}
_PLAIN_SETS = ("SS", "NS")


def _blob(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not isinstance(value, bytes):
        raise _Unknown
    return base64.b64encode(value).strip().decode("utf-8")


def _wire(value: Any) -> dict[str, Any]:
    """One AttributeValue as the JSON wire carries it (what the model walk would produce)."""
    if not isinstance(value, dict) or len(value) != 1:
        raise _Unknown
    ((kind, inner),) = value.items()
    if kind in _PLAIN and isinstance(inner, _PLAIN[kind]):
        return {kind: inner}
    if kind in _PLAIN_SETS and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
        return {kind: list(inner)}
    if kind == "M" and isinstance(inner, dict):
        return {"M": {k: _wire(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_wire(v) for v in inner]}
    if kind == "B":
        return {"B": _blob(inner)}
    if kind == "BS" and isinstance(inner, list):
        return {"BS": [_blob(v) for v in inner]}
    raise _Unknown


def _direct_attribute_values(original: Callable[..., None]) -> Callable[..., None]:
    def _serialize_type_structure(
        self: Any, serialized: Any, value: Any, shape: Any, key: str
    ) -> None:
        if (
            key
            and shape.name == "AttributeValue"
            and self.operation_model.service_model.service_name == "dynamodb"
        ):
            try:
                wired = _wire(value)
            except _Unknown:
                pass
            else:
                self._default_serialize(serialized, wired, shape, key)
                return
        original(self, serialized, value, shape, key)

    setattr(_serialize_type_structure, _MARK, True)
    return _serialize_type_structure


def patch_serializer() -> None:
    """Copy DynamoDB's attribute values straight into moto's JSON responses. Idempotent,
    process-wide."""
    with _LOCK:
        json_cls = serialize.BaseJSONSerializer
        current_structure = json_cls.__dict__["_serialize_type_structure"]
        if not getattr(current_structure, _MARK, False):
            ORIGINALS[(json_cls, "_serialize_type_structure")] = current_structure
            fast = _direct_attribute_values(current_structure)
            json_cls._serialize_type_structure = fast  # type: ignore[method-assign]
