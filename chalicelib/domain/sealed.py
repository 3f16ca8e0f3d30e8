"""Personal data as it is queued and stored: fields sealed under one order's data key. Pure.

An envelope (domain/personal_data.py seals and opens it through the `PersonalDataVault` port;
adapters/personal_data.py does the cryptography) holds:

    {"v": 1, "alg": "AES-256-GCM",
     "key_id": "<the KMS key's ARN>",
     "wrapped_key": "<base64: the 256-bit data key as KMS encrypted it (CiphertextBlob)>",
     "order_key": "<platform#store#order_id: the KMS encryption context>",
     "fields": {"<name>": "<base64: 12-byte nonce | ciphertext | 16-byte GCM tag>", ...}}

The data key is generated for one order (`GenerateDataKey` with the encryption context
`{"order_key": ...}`) and unwrapped only with that same context, so an envelope copied onto
another order does not open. Each field has its own nonce and is authenticated with the order
key and its own name as associated data, so fields cannot be swapped either. `order_key` is
kept for people reading the item; opening always uses the order the caller names.

A data key may also be shared by several orders of one store (adapters/personal_data.py caches
it for a few minutes): the envelope then says so in `"context": "<platform#store>"`, the
encryption context KMS wrapped it under, and each field stays bound to its own order by the
associated data. An envelope without `context` was sealed under its order's own key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

VERSION = 1
ALGORITHM = "AES-256-GCM"


@dataclass(frozen=True)
class Sealed:
    """Some fields of one order's personal data, encrypted under one data key."""

    order_key: str
    key_id: str
    wrapped_key: str
    fields: tuple[tuple[str, str], ...]  # (name, base64 nonce|ciphertext|tag), sorted by name
    context: str = ""  # the KMS encryption context's value when not the order key (a store's)

    @property
    def key_context(self) -> str:
        """The `order_key` encryption context the data key was wrapped under."""
        return self.context or self.order_key

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.fields)

    def ciphertext(self, name: str) -> str | None:
        return dict(self.fields).get(name)

    def only(self, names: Iterable[str]) -> Sealed:
        """The same envelope with only the named fields (one data key can seal a buyer and a
        raw payload that are stored apart)."""
        wanted = set(names)
        return Sealed(
            self.order_key,
            self.key_id,
            self.wrapped_key,
            tuple((n, c) for n, c in self.fields if n in wanted),
            self.context,
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": VERSION,
            "alg": ALGORITHM,
            "key_id": self.key_id,
            "wrapped_key": self.wrapped_key,
            "order_key": self.order_key,
            "fields": dict(self.fields),
        }
        if self.context:
            data["context"] = self.context
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Sealed:
        if data.get("v") != VERSION or data.get("alg") != ALGORITHM:
            raise ValueError(
                f"sealed data of version {data.get('v')!r} ({data.get('alg')!r}) is not "
                f"readable here: expected {VERSION} ({ALGORITHM})"
            )
        fields = data["fields"]
        if not isinstance(fields, Mapping):
            raise ValueError("sealed fields must be an object")
        return cls(
            order_key=str(data["order_key"]),
            key_id=str(data["key_id"]),
            wrapped_key=str(data["wrapped_key"]),
            fields=tuple(sorted((str(n), str(c)) for n, c in fields.items())),
            context=str(data.get("context") or ""),
        )


def sealed_or_none(data: Any) -> Sealed | None:
    """A stored envelope, if the value is one."""
    return Sealed.from_dict(data) if isinstance(data, Mapping) else None
