"""A fake KMS client for the personal-data vault, and helpers to read sealed messages in tests.

`FakeKms` answers `generate_data_key` and `decrypt` as KMS does where it matters: a data key
unwraps only with the encryption context it was generated with (else
InvalidCiphertextException). The real `KmsEnvelopeVault` runs on it, so unit tests exercise
the real AES-256-GCM sealing without AWS.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.personal_data import KmsEnvelopeVault
from chalicelib.domain.model import Buyer, OrderEvent
from chalicelib.domain.personal_data import PersonalDataVault, open_buyer, open_raw, raw_of

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-fake-4000-8000-000000000001"


class FakeKms:
    def __init__(self) -> None:
        self._keys: dict[bytes, tuple[bytes, dict[str, str]]] = {}
        self.calls: Counter[str] = Counter()
        self.failing: str | None = None  # an error code every call raises, until reset

    def _maybe_fail(self, operation: str) -> None:
        if self.failing:
            raise ClientError({"Error": {"Code": self.failing, "Message": "fake"}}, operation)

    def generate_data_key(
        self, KeyId: str, KeySpec: str, EncryptionContext: Mapping[str, str]
    ) -> dict[str, Any]:
        self.calls["GenerateDataKey"] += 1
        self._maybe_fail("GenerateDataKey")
        assert KeySpec == "AES_256"
        plaintext, blob = os.urandom(32), b"fake-kms-wrapped:" + os.urandom(32)
        self._keys[blob] = (plaintext, dict(EncryptionContext))
        return {"Plaintext": plaintext, "CiphertextBlob": blob, "KeyId": KEY_ARN}

    def decrypt(
        self,
        CiphertextBlob: bytes,
        EncryptionContext: Mapping[str, str] | None = None,
        KeyId: str | None = None,
    ) -> dict[str, Any]:
        self.calls["Decrypt"] += 1
        self._maybe_fail("Decrypt")
        found = self._keys.get(CiphertextBlob)
        if found is None or found[1] != dict(EncryptionContext or {}):
            raise ClientError(
                {"Error": {"Code": "InvalidCiphertextException", "Message": "context"}}, "Decrypt"
            )
        return {"Plaintext": found[0], "KeyId": KEY_ARN}


def fake_vault(kms: FakeKms | None = None) -> KmsEnvelopeVault:
    return KmsEnvelopeVault(kms or FakeKms(), "alias/orderhub-pii")


def opened_message(message: Mapping[str, Any], vault: PersonalDataVault) -> dict[str, Any]:
    """A queued message with its buyer and raw payload opened: what tests assert on."""
    event = OrderEvent.from_dict(dict(message["event"]))
    buyer = open_buyer(event.buyer, event.order_key, vault) if event.buyer else None
    return {
        "event": {**message["event"], "buyer": buyer.to_dict() if buyer else None},
        "raw": open_raw(raw_of(message), event.order_key, vault),
    }


def plain_buyer(buyer: Buyer | None, order_key: str, vault: PersonalDataVault) -> Buyer | None:
    return open_buyer(buyer, order_key, vault) if buyer is not None else None


def text_of(value: Any) -> str:
    """Everything in a stored value as one string, for "no plaintext here" assertions."""
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
