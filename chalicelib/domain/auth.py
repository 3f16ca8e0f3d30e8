"""API keys: who may call the non-webhook endpoints. The check is a port so Cognito or IAM can
replace it; this implementation looks up the key's hash (keys are never stored in clear)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Protocol

from chalicelib.domain.errors import Unauthenticated
from chalicelib.domain.ports import Catalog
from chalicelib.domain.principal import Principal
from chalicelib.domain.timeutil import parse_aware

TOUCH_EVERY = timedelta(hours=1)  # last_used_at is written at most this often per key


class KeyUsage(Protocol):
    def touch_key(self, key_id: str, at: datetime, not_since: datetime) -> bool: ...


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def bearer_token(authorization: str | None) -> str:
    """The key from an `Authorization: Bearer <key>` header."""
    if not authorization:
        raise Unauthenticated(
            "missing Authorization header; send 'Authorization: Bearer <api key>'"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Authorization header must be 'Bearer <api key>'")
    return token.strip()


class ApiKeyAuthenticator:
    """Resolves a bearer token to a Principal through the catalog's hashed keys, and records
    the key's last use (at most once per TOUCH_EVERY per key and warm function)."""

    def __init__(
        self, catalog: Catalog, usage: KeyUsage | None = None, touch_every: timedelta = TOUCH_EVERY
    ) -> None:
        self._catalog = catalog
        self._usage = usage
        self._touch_every = touch_every
        self._touched: dict[str, datetime] = {}

    def authenticate(self, authorization: str | None, now: datetime) -> Principal:
        token = bearer_token(authorization)
        record = self._catalog.get_api_key(hash_api_key(token))
        if record is None or record.get("disabled"):
            raise Unauthenticated(
                "API key is not recognised or has been disabled (revoked, rotated out, or "
                "unused for 90 days); ask an admin for a new one"
            )
        expires = record.get("expires_at")
        if expires and parse_aware(str(expires)) <= now:
            if record.get("rotated"):
                raise Unauthenticated(
                    "API key was replaced by a rotation and its overlap window has ended; "
                    "use the new key"
                )
            raise Unauthenticated("API key has expired; ask an admin for a new one")
        principal = Principal(
            key_id=str(record.get("key_id", "")),
            owner=str(record.get("owner", "")),
            role=str(record.get("role", "")),
        )
        self._note_use(principal.key_id, now)
        return principal

    def _note_use(self, key_id: str, now: datetime) -> None:
        if self._usage is None or not key_id:
            return
        last = self._touched.get(key_id)
        if last is not None and now - last < self._touch_every:
            return
        self._touched[key_id] = now
        self._usage.touch_key(key_id, now, now - self._touch_every)
