"""Rotating a store's signing secret with an overlap. Pure Python.

A platform does not switch secrets at one instant: Shopify keeps signing with the old secret
for up to an hour after a rotation, and deliveries signed before it are still being retried.
So a rotation keeps the previous secret valid for a grace window. The store's secret JSON
(Secrets Manager) then reads:

    {"webhook_secret": "<new>", ...,
     "rotation": {"previous": {"webhook_secret": "<old>"}, "until": "2026-11-25T15:00:00+00:00"}}

`effective_secret` turns that into what the channels read: until `until`, the signing field
lists the new secret first and the old one after it (`"webhook_secrets": [new, old]`, the
form every channel's `credentials` already accepts), so either verifies; from `until` on,
only the new one. Outbound signing (the pull pollers) uses the first, the new one.
The rotation itself (`rotate`) is what `bin/orderhub secrets rotate` writes.
"""

from __future__ import annotations

import base64
import secrets as random_source
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.errors import InvalidPayload
from chalicelib.domain.timeutil import parse_aware

# The fields that sign or verify, each with the plural form listing several during overlap.
SIGNING_FIELDS = {
    "webhook_secret": "webhook_secrets",
    "app_secret": "app_secrets",
    "client_secret": "client_secrets",
}
DEFAULT_GRACE = timedelta(hours=1)  # Shopify signs with the old secret for up to an hour
MAX_GRACE = timedelta(days=7)


def _values(secret: Mapping[str, Any], field: str) -> list[str]:
    many = secret.get(SIGNING_FIELDS[field])
    if isinstance(many, list):
        return [str(v) for v in many if v]
    one = secret.get(field)
    return [str(one)] if one else []


def signing_field(secret: Mapping[str, Any]) -> str:
    """The one signing field this store's secret uses; InvalidPayload if none or several."""
    present = [f for f in SIGNING_FIELDS if _values(secret, f)]
    if len(present) != 1:
        found = ", ".join(present) or "none"
        raise InvalidPayload(
            "the store's secret must hold exactly one of "
            + ", ".join(SIGNING_FIELDS)
            + f" (found: {found})"
        )
    return present[0]


def effective_secret(secret: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The secret as channels read it at `now`: during a rotation's grace window the
    previous signing values follow the current ones; afterwards they are gone."""
    # the rotation block and the secret's age are bookkeeping, not credentials
    result = {k: v for k, v in secret.items() if k not in ("rotation", "secret_set_at")}
    rotation = secret.get("rotation")
    if not isinstance(rotation, Mapping):
        return result
    try:
        until = parse_aware(str(rotation.get("until", "")))
    except ValueError:
        return result  # a broken rotation block never widens what verifies
    previous = rotation.get("previous")
    if now >= until or not isinstance(previous, Mapping):
        return result
    for field, plural in SIGNING_FIELDS.items():
        old = [v for v in _values(previous, field) if v not in _values(secret, field)]
        current = _values(secret, field)
        if old and current:
            result.pop(field, None)
            result[plural] = [*current, *old]
    return result


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes): for the own
    shop, whose secret OrderHub issues. Platform-issued secrets (Shopify, TikTok Shop, ...) are
    taken from the platform's console instead."""
    return "whsec_" + base64.b64encode(random_source.token_bytes(32)).decode()


def rotate(
    secret: Mapping[str, Any],
    new_value: str,
    now: datetime,
    grace: timedelta = DEFAULT_GRACE,
) -> dict[str, Any]:
    """The secret after rotating its signing field to `new_value`, the current value staying
    valid for `grace`. A rotation during another's window drops the oldest secret: at most
    two verify at any time."""
    if not new_value or not new_value.strip():
        raise InvalidPayload("the new secret must not be empty")
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise InvalidPayload("the grace window must be between 0 and 7 days")
    field = signing_field(secret)
    current = _values(secret, field)
    if new_value in current:
        raise InvalidPayload("the new secret is the one in use; rotating to it changes nothing")
    result = {
        k: v for k, v in secret.items() if k not in (field, SIGNING_FIELDS[field], "rotation")
    }
    result[field] = new_value
    result["secret_set_at"] = now.isoformat()  # its age, for the quarterly reminder
    if grace > timedelta(0):
        result["rotation"] = {
            "previous": {field: current[0]},
            "until": (now + grace).isoformat(),
            "rotated_at": now.isoformat(),
        }
    return result
