"""API key lifecycle: issue, rotate with an overlap window, revoke, and the daily review. Pure.

A key is an identity (`key_id`, owner, role) with a secret shown once. Only the secret's
SHA-256 is stored: the key's record (what admins list) and one lookup item per live secret
(what authentication reads, see `lookups`). Rotation gives the same identity a new secret
and keeps the previous one valid for an overlap window (default 24 h), so callers can switch
without an outage; a second rotation retires any older secret at once.
"""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.domain.auth import hash_api_key
from chalicelib.domain.errors import Conflict, InvalidPayload
from chalicelib.domain.permissions import validate_role
from chalicelib.domain.timeutil import parse_aware

DEFAULT_LIFETIME_DAYS = 90  # quarterly rotation
MAX_LIFETIME_DAYS = 90  # the seed: rotate quarterly; a deployment may set it lower
DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)
EXPIRY_WARNING = timedelta(days=14)  # the review warns this long before a key expires
UNUSED_LIMIT = timedelta(days=90)  # the review disables keys unused this long
KEY_PREFIX = "oh_"


@dataclass(frozen=True)
class ApiKey:
    """One key as its record stores it (never the secret itself)."""

    key_id: str
    owner: str
    role: str
    key_hash: str  # SHA-256 of the current secret
    created_at: datetime
    expires_at: datetime
    version: int = 1  # bumped by every change: saves are conditional on the version read
    created_by: str = ""
    last_used_at: datetime | None = None
    disabled: bool = False
    disabled_at: datetime | None = None
    disabled_reason: str = ""
    rotated_at: datetime | None = None
    previous_hash: str | None = None  # the secret the last rotation replaced
    previous_until: datetime | None = None  # ... valid until then

    def view(self) -> dict[str, Any]:
        """What admins see: no secret, no hash."""
        return {
            "key_id": self.key_id,
            "owner": self.owner,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "expires_at": self.expires_at.isoformat(),
            "last_used_at": _iso(self.last_used_at),
            "disabled": self.disabled,
            "disabled_at": _iso(self.disabled_at),
            "disabled_reason": self.disabled_reason,
            "rotated_at": _iso(self.rotated_at),
            "previous_valid_until": _iso(self.previous_until),
        }

    def lookups(self) -> dict[str, dict[str, Any]]:
        """The authentication lookup item of each live secret, by hash: a self-contained copy
        of what the check needs, so a request costs one (cached) read."""
        base = {"key_id": self.key_id, "owner": self.owner, "role": self.role}
        found = {
            self.key_hash: {
                **base,
                "expires_at": self.expires_at.isoformat(),
                "disabled": self.disabled,
            }
        }
        if self.previous_hash and self.previous_until is not None:
            found[self.previous_hash] = {
                **base,
                "expires_at": self.previous_until.isoformat(),
                "disabled": self.disabled,
                "rotated": True,
            }
        return found

    def to_record(self) -> dict[str, Any]:
        return {
            **self.view(),
            "version": self.version,
            "key_hash": self.key_hash,
            "previous_hash": self.previous_hash,
            "previous_until": _iso(self.previous_until),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ApiKey:
        return cls(
            key_id=str(record["key_id"]),
            owner=str(record["owner"]),
            role=str(record["role"]),
            key_hash=str(record["key_hash"]),
            created_at=parse_aware(str(record["created_at"])),
            expires_at=parse_aware(str(record["expires_at"])),
            version=int(record.get("version") or 1),
            created_by=str(record.get("created_by") or ""),
            last_used_at=_time(record.get("last_used_at")),
            disabled=bool(record.get("disabled")),
            disabled_at=_time(record.get("disabled_at")),
            disabled_reason=str(record.get("disabled_reason") or ""),
            rotated_at=_time(record.get("rotated_at")),
            previous_hash=str(record["previous_hash"]) if record.get("previous_hash") else None,
            previous_until=_time(record.get("previous_until")),
        )


def retired_lookup(key: ApiKey) -> dict[str, Any]:
    """The lookup item of a secret a rotation retired: refused from now on."""
    return {"key_id": key.key_id, "owner": key.owner, "role": key.role, "disabled": True}


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once, never stored
    retired: tuple[str, ...] = ()  # hashes whose lookup items must now refuse


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _time(value: Any) -> datetime | None:
    return parse_aware(str(value)) if value else None


def new_secret(token: Callable[[int], str] = _secrets.token_urlsafe) -> str:
    return KEY_PREFIX + token(32)


def new_key_id(token: Callable[[int], str] = _secrets.token_hex) -> str:
    return "key_" + token(6)


def lifetime(days: Any, max_days: int = MAX_LIFETIME_DAYS) -> timedelta:
    """A key's life: `days` (default the longest allowed), at most `max_days`, which is at
    most 90 whatever the configuration says."""
    longest = max(1, min(max_days, MAX_LIFETIME_DAYS))
    if days is None:
        return timedelta(days=min(DEFAULT_LIFETIME_DAYS, longest))
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= longest:
        raise InvalidPayload(f"expires_in_days must be a whole number from 1 to {longest}")
    return timedelta(days=days)


def overlap(hours: Any) -> timedelta:
    if hours is None:
        return DEFAULT_OVERLAP
    limit = int(MAX_OVERLAP.total_seconds() // 3600)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 <= hours <= limit:
        raise InvalidPayload(f"overlap_hours must be a number from 0 to {limit}")
    return timedelta(hours=hours)


def issue_key(
    owner: Any,
    role: Any,
    now: datetime,
    expires_in_days: Any = None,
    created_by: str = "",
    secret: str | None = None,
    key_id: str | None = None,
    max_days: int = MAX_LIFETIME_DAYS,
) -> IssuedKey:
    """A new key for `owner` with `role`, valid `expires_in_days` (default 90)."""
    if not isinstance(owner, str) or not owner.strip() or len(owner) > 128:
        raise InvalidPayload("owner must be a non-empty name of at most 128 characters")
    try:
        role = validate_role(role)
    except ValueError as exc:
        raise InvalidPayload(str(exc)) from None
    value = secret or new_secret()
    key = ApiKey(
        key_id=key_id or new_key_id(),
        owner=owner.strip(),
        role=role,
        key_hash=hash_api_key(value),
        created_at=now,
        expires_at=now + lifetime(expires_in_days, max_days),
        created_by=created_by,
    )
    return IssuedKey(key, value)


def rotate_key(
    key: ApiKey,
    now: datetime,
    overlap_window: timedelta = DEFAULT_OVERLAP,
    expires_in_days: Any = None,
    secret: str | None = None,
    max_days: int = MAX_LIFETIME_DAYS,
) -> IssuedKey:
    """A new secret for the same key; the current one stays valid for the overlap window (or
    until it would have expired anyway, if sooner). An older secret still in its window is
    retired at once. A revoked or disabled key cannot be rotated: issue a new one."""
    if key.disabled:
        raise Conflict(
            f"key {key.key_id} is disabled ({key.disabled_reason or 'revoked'}); "
            "issue a new key instead of rotating it"
        )
    value = secret or new_secret()
    until = min(now + overlap_window, key.expires_at)
    retired = tuple(h for h in (key.previous_hash,) if h)
    keep_previous = until > now
    rotated = replace(
        key,
        key_hash=hash_api_key(value),
        expires_at=now + lifetime(expires_in_days, max_days),
        version=key.version + 1,
        rotated_at=now,
        previous_hash=key.key_hash if keep_previous else None,
        previous_until=until if keep_previous else None,
    )
    if not keep_previous:
        retired = (*retired, key.key_hash)
    return IssuedKey(rotated, value, retired)


def disable_key(key: ApiKey, now: datetime, reason: str) -> ApiKey:
    """Revoke: every secret of the key is refused from now on (after caches expire)."""
    if key.disabled:
        return key
    return replace(
        key, disabled=True, disabled_at=now, disabled_reason=reason, version=key.version + 1
    )


@dataclass(frozen=True)
class KeyReview:
    expiring: tuple[ApiKey, ...]  # live keys expiring within EXPIRY_WARNING
    unused: tuple[ApiKey, ...]  # live keys not used (nor created) within UNUSED_LIMIT


def review_keys(keys: list[ApiKey], now: datetime) -> KeyReview:
    """What the daily review acts on. Disabled and already expired keys are left alone."""
    live = [k for k in keys if not k.disabled and k.expires_at > now]
    unused = tuple(k for k in live if (k.last_used_at or k.created_at) <= now - UNUSED_LIMIT)
    expiring = tuple(k for k in live if k.expires_at <= now + EXPIRY_WARNING and k not in unused)
    return KeyReview(expiring, unused)


class ApiKeyStore(Protocol):
    """API keys (chalicelib/domain/api_keys.py): each key's record, listed by admins, and one
    lookup item per live secret, which is what `Catalog.get_api_key(hash)` returns."""

    def get_key(self, key_id: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]: ...

    def save_key(self, key: ApiKey, retired: Sequence[str] = ()) -> None:
        """Write the record and its secrets' lookup items (`key.lookups()`), and mark the
        `retired` hashes' lookups refused, all or nothing. Version 1 creates the key; a later
        version replaces the record only if it still holds version - 1 (else ConcurrentUpdate)."""
        ...

    def touch_key(self, key_id: str, at: datetime, not_since: datetime) -> bool:
        """Set last_used_at = at unless it is already after `not_since`; best effort: never
        raises, returns whether it wrote."""
        ...
