"""A known-answer vector for the personal-data envelope (issue 12, item 8).

The envelope below was sealed once and is kept verbatim, as a sealed order sits in the tables:
whatever changes in the vault (the associated-data label, the nonce size, the field layout,
the encoding), an envelope sealed today must still open, and a seal with the same key and
nonces must still produce these bytes. The expected plaintext is also checked with AES-GCM
directly, not through the vault, so the vector cannot drift with the code it checks."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.adapters.personal_data import KmsEnvelopeVault
from chalicelib.domain.sealed import Sealed

DATA_KEY = bytes(range(32))
WRAPPED = b"kat-wrapped-data-key-v1"
ORDER_KEY = "mall#demo-shop#KAT-1"
PLAIN = {"phone": "13812345678", "name": "李雷"}
ENVELOPE = {
    "v": 1,
    "alg": "AES-256-GCM",
    "key_id": "arn:kat",
    "wrapped_key": "a2F0LXdyYXBwZWQtZGF0YS1rZXktdjE=",
    "order_key": ORDER_KEY,
    "fields": {
        "name": "AgICAgICAgICAgICfbWXUiJubTsK01LJkgZh4EEmiDCUBQ==",
        "phone": "AQEBAQEBAQEBAQEBRvDdBFq2XFPiY18k2CF6CNTSMmXtE5H5X9XR",
    },
}


class VectorKms:
    """KMS answering with the vector's data key, and only for the vector's wrapped key and
    encryption context."""

    def generate_data_key(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["EncryptionContext"] == {"order_key": ORDER_KEY}
        return {"Plaintext": DATA_KEY, "CiphertextBlob": WRAPPED, "KeyId": "arn:kat"}

    def decrypt(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["CiphertextBlob"] == WRAPPED
        assert kwargs["EncryptionContext"] == {"order_key": ORDER_KEY}
        return {"Plaintext": DATA_KEY, "KeyId": "arn:kat"}


def test_the_stored_envelope_opens_to_its_plaintext():
    vault = KmsEnvelopeVault(VectorKms(), "alias/orderhub-pii")
    assert vault.open(Sealed.from_dict(ENVELOPE), ORDER_KEY) == PLAIN


def test_sealing_with_the_vector_key_and_nonces_gives_the_same_bytes():
    nonces = iter([b"\x01" * 12, b"\x02" * 12])  # phone first, then name
    vault = KmsEnvelopeVault(VectorKms(), "alias/orderhub-pii", random_bytes=lambda n: next(nonces))
    assert vault.seal(ORDER_KEY, PLAIN).to_dict() == ENVELOPE


def test_the_vector_decrypts_with_aes_gcm_directly():
    """Layout: base64(12-byte nonce + ciphertext + 16-byte tag); associated data
    `orderhub/pii/v1|<order key>|<field>`."""
    for name, value in PLAIN.items():
        blob = base64.b64decode(ENVELOPE["fields"][name])  # type: ignore[index]
        nonce, sealed = blob[:12], blob[12:]
        label = f"orderhub/pii/v1|{ORDER_KEY}|{name}".encode()
        assert AESGCM(DATA_KEY).decrypt(nonce, sealed, label).decode() == value
