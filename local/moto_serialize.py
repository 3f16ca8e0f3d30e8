"""A memo for moto's response serializer: where it spends most of a DynamoDB call.

moto (5.x) serializes every response through botocore's model: for each member of each
structure (every AttributeValue of every item has ten members: S, N, M, L, ...) its
`AttributePicker` asks six alias providers which attribute names to try, building a provider
object per question. Under the chaos proof (tests/integration/test_chaos_aws_layer*.py:
~24,000 DynamoDB calls a run) that question was ~60% of the run's time, and its answer never
changes: it depends only on the key, the member's shape (and the structure it belongs to:
`shape.parent`, which moto sets before asking) and the value's class (its `Meta`
aliases and its name). So the answer is kept per (method, provider list, value class,
key, shape and its parent).

Objects carrying their own `Meta` on the instance are asked every time, as before. Shapes
are keyed by identity and held by the memo, so an id is never reused for another shape.

DynamoDB's items get a shorter way still: moto hands the serializer each AttributeValue as a
dict already in the wire's shape (`{"S": ...}`, `{"M": {...}}`), which the model walk then
rebuilds member by member (ten members per value, recursively). `_wire` copies such a value
straight, base64-encoding binaries as the walk does; a value it does not recognise goes the
model's way as before.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.core import serialize

_MARK = "_orderhub_memo"
_LOCK = threading.Lock()
_MEMO: dict[tuple[Any, ...], tuple[str, ...]] = {}
_HELD: list[Any] = []  # the shapes the memo is keyed by, kept alive
MEMO_LIMIT = 100_000  # entries; a model that makes new shapes per call would refill it
ORIGINALS: dict[tuple[type, str], Any] = {}  # (class, method) -> moto's own, for the tests


def _memoized(original: Callable[..., Iterator[str]]) -> Callable[..., Iterator[str]]:
    def get_possible_keys(self: Any, context: Any) -> Iterator[str]:
        obj = context.obj
        if "Meta" in getattr(obj, "__dict__", ()):
            return original(self, context)
        shape = context.shape
        parent = getattr(shape, "parent", None)
        key = (
            original,  # the class's own method (XFormed calls its parent's through super())
            tuple(self.alias_providers),
            type(obj),
            context.key,
            id(shape),
            id(parent),
        )
        found = _MEMO.get(key)
        if found is None:
            found = tuple(original(self, context))
            with _LOCK:
                if len(_MEMO) >= MEMO_LIMIT:
                    _MEMO.clear()
                    _HELD.clear()
                _HELD.append((shape, parent))
                _MEMO[key] = found
        return iter(found)

    setattr(get_possible_keys, _MARK, True)
    return get_possible_keys


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
    """Memoize `get_possible_keys` on moto's attribute pickers and copy DynamoDB's attribute
    values straight. Idempotent, process-wide."""
    with _LOCK:
        json_cls = serialize.BaseJSONSerializer
        current_structure = json_cls.__dict__["_serialize_type_structure"]
        if not getattr(current_structure, _MARK, False):
            ORIGINALS[(json_cls, "_serialize_type_structure")] = current_structure
            fast = _direct_attribute_values(current_structure)
            json_cls._serialize_type_structure = fast  # type: ignore[method-assign]
        for cls in (serialize.AttributePicker, serialize.XFormedAttributePicker):
            current = cls.__dict__.get("get_possible_keys")
            if current is not None and not getattr(current, _MARK, False):
                ORIGINALS[(cls, "get_possible_keys")] = current
                cls.get_possible_keys = _memoized(current)  # type: ignore[method-assign,assignment]
