"""API keys: who may call the non-webhook endpoints. The check is a port so Cognito or IAM can
replace it; this implementation looks up the key's hash (keys are never stored in clear)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from chalicelib.domain.errors import Unauthenticated
from chalicelib.domain.ports import Catalog, Principal
from chalicelib.domain.timeutil import parse_aware


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
    """Resolves a bearer token to a Principal through the catalog's hashed keys."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def authenticate(self, authorization: str | None, now: datetime) -> Principal:
        token = bearer_token(authorization)
        record = self._catalog.get_api_key(hash_api_key(token))
        if record is None or record.get("disabled"):
            raise Unauthenticated("API key is not recognised or has been disabled")
        expires = record.get("expires_at")
        if expires and parse_aware(str(expires)) <= now:
            raise Unauthenticated("API key has expired; ask an admin for a new one")
        return Principal(
            key_id=str(record.get("key_id", "")),
            owner=str(record.get("owner", "")),
            role=str(record.get("role", "")),
        )
