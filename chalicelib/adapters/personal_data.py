"""The personal-data vault on AWS KMS: envelope encryption with AES-256-GCM data keys.

`seal`: one `GenerateDataKey` (KeySpec AES_256, EncryptionContext `{"order_key": ...}`) per
call; each field is encrypted with AES-256-GCM under the plaintext data key (a fresh 96-bit
nonce per field, the order key and the field's name as associated data), and the data key as
KMS wrapped it is kept beside the ciphertext (domain/sealed.py). Without a `DataKeyCache` the
plaintext data key is used for that one call and dropped.

With a `DataKeyCache` (the functions' default, chalicelib/deps.py) one data key serves a
store's orders for a few minutes and a bounded number of seals: it is generated with the
context `{"order_key": "<platform#store>"}` (recorded in the envelope as `context`), kept in
this process's memory only, and each field is still bound to its own order by the associated
data, so a ciphertext moved to another order (even of the same store) fails GCM's tag. What a
key protects is bounded: at most `max_uses` seals (far below GCM's 2^32 random-nonce limit)
and `max_age_seconds` of a store's traffic. Envelopes sealed per order still open as before.

`open`: one `Decrypt` of the wrapped key with the same encryption context, then AES-GCM. KMS
refuses a context other than the one the key was generated with, and GCM refuses a field
authenticated for another order or name: either way `SealBroken`. Other KMS failures
(throttling, network, key disabled, access denied) are `VaultUnavailable`, transient.

The IAM policy lets the functions call both only with an `order_key` encryption context
(.chalice/policy.json, `PersonalDataKey`); the key is `alias/orderhub-pii` (infra/).
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from Crypto.Cipher import AES

from chalicelib.domain.blind_index import phone_index
from chalicelib.domain.personal_data import SealBroken, VaultUnavailable
from chalicelib.domain.sealed import Sealed

CONTEXT_KEY = "order_key"
NONCE_BYTES = 12
TAG_BYTES = 16
# KMS answers that mean this envelope will never open for this order
_BROKEN = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})


MIN_INDEX_KEY = 32


def associated_data(order_key: str, field: str) -> bytes:
    """What each field's GCM tag also authenticates: its order and its name."""
    return f"orderhub/pii/v1|{order_key}|{field}".encode()


def gcm_seal(key: bytes, nonce: bytes, plain: bytes, aad: bytes) -> bytes:
    """AES-GCM (pycryptodome): ciphertext followed by the 16-byte tag, the layout
    `cryptography`'s AESGCM wrote before it (envelopes sealed then open the same way)."""
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(aad)
    text, tag = cipher.encrypt_and_digest(plain)
    return text + tag


def gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The plaintext of `gcm_seal`'s output; ValueError when the tag does not verify (another
    key, nonce or associated data, or altered bytes) or the input is too short to hold one."""
    if len(sealed) < TAG_BYTES:
        raise ValueError(f"{len(sealed)} bytes cannot hold a {TAG_BYTES}-byte GCM tag")
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce, mac_len=TAG_BYTES)
    cipher.update(aad)
    return cipher.decrypt_and_verify(sealed[:-TAG_BYTES], sealed[-TAG_BYTES:])


def key_scope(order_key: str) -> str:
    """The store part of an order key (`platform#store`): what a cached data key may serve."""
    return "#".join(order_key.split("#", 2)[:2])


@dataclass
class _DataKey:
    plaintext: bytes
    wrapped: str
    key_id: str
    born: float
    uses: int = 0


class DataKeyCache:
    """Data keys per store scope, in memory only: each serves at most `max_uses` seals within
    `max_age_seconds` of its generation, then a new one is generated."""

    def __init__(
        self,
        max_age_seconds: float = 300.0,
        max_uses: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self.max_uses = max_uses
        self._clock = clock
        self._keys: dict[str, _DataKey] = {}
        self._lock = threading.Lock()

    def take(self, scope: str, generate: Callable[[], _DataKey]) -> _DataKey:
        """The scope's live key (counting this use), or a fresh one from `generate`."""
        with self._lock:
            now = self._clock()
            key = self._keys.get(scope)
            if key is None or key.uses >= self.max_uses or now - key.born > self.max_age_seconds:
                key = generate()
                key.born = now
                self._keys[scope] = key
            key.uses += 1
            return key


class KmsEnvelopeVault:
    """`PersonalDataVault` (domain/personal_data.py) over a boto3 KMS client."""

    def __init__(
        self,
        kms: Any,
        key_id: str,
        random_bytes: Callable[[int], bytes] = os.urandom,
        index_key: Callable[[], bytes] | None = None,
        key_cache: DataKeyCache | None = None,
    ) -> None:
        self._kms = kms
        self._key_id = key_id
        self._random = random_bytes
        self._index_key = index_key  # the blind index's HMAC key (Secrets Manager, cached)
        self._cache = key_cache  # None: one data key per seal, wrapped under the order key

    def index_phone(self, phone: str) -> str:
        """The phone's blind index (domain/blind_index.py); "" without a key configured."""
        if self._index_key is None:
            return ""
        try:
            key = self._index_key()
        except Exception as exc:  # Secrets Manager via Powertools: its own error types
            raise VaultUnavailable(f"could not read the blind index key: {exc}") from exc
        return phone_index(key, phone)

    def _generate(self, context: str) -> _DataKey:
        try:
            response = self._kms.generate_data_key(
                KeyId=self._key_id, KeySpec="AES_256", EncryptionContext={CONTEXT_KEY: context}
            )
        except (ClientError, BotoCoreError) as exc:
            raise _unavailable("generate a data key", exc) from exc
        return _DataKey(
            response["Plaintext"], _b64(response["CiphertextBlob"]), str(response["KeyId"]), 0.0
        )

    def seal(self, order_key: str, fields: Mapping[str, str]) -> Sealed:
        if self._cache is None:
            context, key = "", self._generate(order_key)
        else:
            context = key_scope(order_key)
            key = self._cache.take(context, lambda: self._generate(context))
        sealed = []
        for name, value in fields.items():
            nonce = self._random(NONCE_BYTES)
            aad = associated_data(order_key, name)
            text = gcm_seal(key.plaintext, nonce, value.encode("utf-8"), aad)
            sealed.append((name, _b64(nonce + text)))
        return Sealed(
            order_key=order_key,
            key_id=key.key_id,
            wrapped_key=key.wrapped,
            fields=tuple(sorted(sealed)),
            context=context,
        )

    def open(self, sealed: Sealed, order_key: str) -> dict[str, str]:
        # A store's shared key opens only for that store's orders (the AAD then decides the
        # order); a per-order key only with the order's own context (KMS decides).
        context = sealed.context or order_key
        if sealed.context and key_scope(order_key) != sealed.context:
            raise SealBroken(
                f"the personal data sealed for {sealed.order_key} does not open for order "
                f"{order_key}: it was sealed for another store"
            )
        try:
            response = self._kms.decrypt(
                CiphertextBlob=base64.b64decode(sealed.wrapped_key),
                EncryptionContext={CONTEXT_KEY: context},
                KeyId=sealed.key_id,
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _BROKEN:
                raise SealBroken(
                    f"the personal data sealed for {sealed.order_key} does not open for order "
                    f"{order_key} (KMS: {code}): it belongs to another order or was altered"
                ) from exc
            raise _unavailable("unwrap a data key", exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("unwrap a data key", exc) from exc
        except ValueError as exc:  # the wrapped key is not base64
            raise SealBroken(f"the sealed data of {order_key} is damaged: {exc}") from exc
        data_key = response["Plaintext"]
        opened = {}
        for name, blob in sealed.fields:
            try:
                raw = base64.b64decode(blob)
                plain = gcm_open(
                    data_key, raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(order_key, name)
                )
            except ValueError as exc:
                raise SealBroken(
                    f"the sealed field '{name}' does not open for order {order_key}: it belongs "
                    "to another order or field, or was altered"
                ) from exc
            opened[name] = plain.decode("utf-8")
        return opened


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unavailable(what: str, exc: Exception) -> VaultUnavailable:
    code = exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
    return VaultUnavailable(
        f"could not {what} with the personal-data key ({code or type(exc).__name__}); "
        "check that alias/orderhub-pii exists and is enabled and that the function may use "
        "it, then retry"
    )


def blind_index_key(secret: Mapping[str, Any]) -> bytes:
    """The HMAC key from the secret's JSON `{"key": "<at least 32 characters>"}`."""
    key = str(secret.get("key") or "")
    if len(key) < MIN_INDEX_KEY:
        raise ValueError(f"the blind index secret needs a 'key' of {MIN_INDEX_KEY}+ characters")
    return key.encode("utf-8")
