"""What every channel shares: the delivery as received, the store's credentials, and payload
readers whose errors name the field's path (`$.line_items[1].price`), so a refusal says what
to fix. Pure Python.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.bounds import check_amount, check_header, check_json_depth
from chalicelib.domain.errors import InvalidPayload, TransientFailure
from chalicelib.domain.model import Buyer
from chalicelib.domain.timeutil import from_unix_seconds, parse_aware, parse_in_zone

CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^\d+(\.\d+)?$")
MAX_LINES = 500


@dataclass(frozen=True)
class Delivery:
    """One HTTP delivery exactly as received: the raw body bytes (already base64-decoded when
    API Gateway flagged it) and the headers, names lower-cased (they arrive in any case)."""

    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    @classmethod
    def of(cls, headers: Mapping[str, str], body: bytes, received_at: datetime) -> Delivery:
        return cls({name.lower(): value for name, value in headers.items()}, body, received_at)

    def header(self, name: str) -> str:
        """The header's value, stripped; InvalidPayload naming it if it is over 1,024
        characters or holds control characters (domain/bounds.py)."""
        return check_header(name.lower(), str(self.headers.get(name.lower(), ""))).strip()

    @property
    def digest(self) -> str:
        """A content id for platforms whose deliveries carry none: for logs and replies only;
        their dedupe keys are built from the signed payload."""
        return "sha256:" + hashlib.sha256(self.body).hexdigest()[:32]


@dataclass(frozen=True)
class Credentials:
    """What a store's secret (Secrets Manager JSON) gives a channel to verify with.

    `secrets` are the signing secrets, several during a rotation's overlap (any one verifies);
    `app_key` is the public half of app-signed schemes (TikTok Shop, Douyin); `shop_id`, when
    set, binds the store to one shop of an app that serves several (see docs/platforms.md's table).
    """

    secrets: tuple[str, ...]
    app_key: str = ""
    shop_id: str = ""


def _listed(secret: Mapping[str, Any], many: str, one: str) -> tuple[str, ...]:
    values = secret.get(many)
    if isinstance(values, list):
        return tuple(str(v) for v in values if v)
    value = secret.get(one)
    return (str(value),) if value else ()


def _missing(fields: str) -> TransientFailure:
    # Our configuration, not the sender's fault: 503 so the platform retries once it is fixed.
    return TransientFailure(
        f"the store's credentials lack {fields} (Secrets Manager); see docs/platforms.md's "
        "platform table for the fields each platform needs"
    )


def webhook_credentials(secret: Mapping[str, Any]) -> Credentials:
    """`{"webhook_secret": "..."}`, or `{"webhook_secrets": ["new", "old"]}` while rotating."""
    secrets = _listed(secret, "webhook_secrets", "webhook_secret")
    if not secrets:
        raise _missing("webhook_secret (or webhook_secrets)")
    return Credentials(secrets)


def app_credentials(secret: Mapping[str, Any]) -> Credentials:
    """`{"app_key": "...", "app_secret": "..."}` (or `"app_secrets": [...]` while rotating),
    optionally `"shop_id"`: the platform shop this store is."""
    app_key = str(secret.get("app_key") or "")
    secrets = _listed(secret, "app_secrets", "app_secret")
    missing = [name for name, ok in (("app_key", app_key), ("app_secret", secrets)) if not ok]
    if missing:
        raise _missing(" and ".join(missing))
    return Credentials(secrets, app_key, str(secret.get("shop_id") or ""))


def api_fields(
    secret: Mapping[str, Any], names: tuple[str, ...]
) -> tuple[dict[str, str], list[str]]:
    """The named fields of a store's secret as text, for signing outbound API calls, and the
    names of those missing. `app_secret` is the newest of `app_secrets` during a rotation's
    overlap (outbound calls sign with the new one)."""
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        if name == "app_secret":
            value = (_listed(secret, "app_secrets", "app_secret") or ("",))[0]
        else:
            value = str(secret.get(name) or "")
        values[name] = value.strip()
        if not values[name]:
            missing.append("app_secret (or app_secrets)" if name == "app_secret" else name)
    return values, missing


# ---- payload readers -------------------------------------------------------------------------


def load_json(body: bytes) -> Any:
    """JSON with every non-integer number read as Decimal (money never passes through float);
    integers stay exact whatever their size (64-bit platform ids). Nesting is limited before
    parsing (domain/bounds.py), so a deep document is a 400, never a RecursionError."""
    check_json_depth(body)
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidPayload(f"body is not valid JSON: {exc}") from None


_KINDS = {str: "a string", int: "an integer", dict: "an object", list: "an array"}


def require(obj: Mapping[str, Any], key: str, path: str, kind: type) -> Any:
    """`obj[key]`, present, not null, of `kind` and (for text) not blank."""
    if not isinstance(obj, Mapping) or obj.get(key) is None:
        raise InvalidPayload(f"{path}.{key} is required")
    return check_kind(obj[key], f"{path}.{key}", kind)


def optional(obj: Mapping[str, Any], key: str, path: str, kind: type) -> Any:
    """`obj[key]` if present and not null (checked like `require`), else None."""
    if not isinstance(obj, Mapping) or obj.get(key) is None:
        return None
    return check_kind(obj[key], f"{path}.{key}", kind)


def check_kind(value: Any, path: str, kind: type) -> Any:
    if kind is int and isinstance(value, bool):
        raise InvalidPayload(f"{path} must be an integer")
    if not isinstance(value, kind):
        raise InvalidPayload(f"{path} must be {_KINDS[kind]}")
    if isinstance(value, str) and not value.strip():
        raise InvalidPayload(f"{path} must not be empty")
    return value


def text(obj: Mapping[str, Any], key: str) -> str:
    """A display field that may be absent, null or not text: its stripped text, or ""."""
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return value.strip() if isinstance(value, str) else ""


def id_text(obj: Mapping[str, Any], key: str, path: str) -> str:
    """A platform id given as a string or an integer, as text (64-bit ids stay exact)."""
    if not isinstance(obj, Mapping) or obj.get(key) is None:
        raise InvalidPayload(f"{path}.{key} is required")
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidPayload(f"{path}.{key} must be an id (string or integer)")
    result = str(value).strip()
    if not result:
        raise InvalidPayload(f"{path}.{key} must not be empty")
    return result


def quantity(obj: Mapping[str, Any], key: str, path: str) -> int:
    value = require(obj, key, path, int)
    if value < 0:
        raise InvalidPayload(f"{path}.{key} must not be negative")
    return int(value)


def money(obj: Mapping[str, Any], key: str, path: str) -> Decimal:
    """A non-negative amount given as decimal text ("12.50") or a JSON number."""
    if not isinstance(obj, Mapping) or obj.get(key) is None:
        raise InvalidPayload(f"{path}.{key} is required")
    value = obj[key]
    if isinstance(value, bool):
        raise InvalidPayload(f"{path}.{key} must be an amount")
    if isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, str) and _DECIMAL.match(value.strip()):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the pattern already excludes this
            raise InvalidPayload(f"{path}.{key} must be an amount") from None
    else:
        raise InvalidPayload(f'{path}.{key} must be an amount such as "12.50"')
    if amount < 0 or not amount.is_finite():
        raise InvalidPayload(f"{path}.{key} must not be negative")
    return check_amount(amount, f"{path}.{key}")


def per_unit(total: Decimal, count: int) -> Decimal:
    """`total / count` at the total's own precision when it divides evenly ("6.00" / 2 =
    "3.00"), else rounded half-even to 4 places (the precision unit prices are kept at)."""
    exact = total / count
    places = Decimal(1).scaleb(min(int(total.as_tuple().exponent), 0))
    if exact == exact.quantize(places):
        return exact.quantize(places)
    return exact.quantize(Decimal("0.0001"))


def currency(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = require(obj, key, path, str).strip().upper()
    if not CURRENCY.match(value):
        raise InvalidPayload(f'{path}.{key} must be an ISO 4217 code such as "USD"')
    return str(value)


def aware_time(obj: Mapping[str, Any], key: str, path: str) -> tuple[datetime, str]:
    """An ISO-8601 time that must carry its offset: (UTC, original text)."""
    raw = require(obj, key, path, str)
    try:
        return parse_aware(raw), raw
    except ValueError as exc:
        raise InvalidPayload(f"{path}.{key}: {exc}") from None


def zoned_time(obj: Mapping[str, Any], key: str, path: str, zone_name: str) -> tuple[datetime, str]:
    """An ISO-8601 time, naive text read in `zone_name`: (UTC, original text)."""
    raw = require(obj, key, path, str)
    try:
        return parse_in_zone(raw, zone_name), raw
    except ValueError as exc:
        raise InvalidPayload(f"{path}.{key}: {exc}") from None


def platform_time(
    obj: Mapping[str, Any], key: str, path: str, zone_name: str
) -> tuple[datetime, str]:
    """Unix seconds (integer or digits), or time text (naive text read in `zone_name`):
    (UTC, original as text)."""
    if not isinstance(obj, Mapping) or obj.get(key) is None:
        raise InvalidPayload(f"{path}.{key} is required")
    value = obj[key]
    try:
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            return from_unix_seconds(value), str(value).strip()
        if isinstance(value, str):
            return parse_in_zone(value, zone_name), value
    except ValueError as exc:
        raise InvalidPayload(f"{path}.{key}: {exc}") from None
    raise InvalidPayload(f"{path}.{key} must be Unix seconds or a time string")


def joined(parts: Iterable[str], separator: str = ", ") -> str:
    """The non-empty parts, joined: an address from its lines, a name from first and last."""
    return separator.join(part for part in parts if part)


def buyer_or_none(
    name: str, phone: str, address: str, email: str = "", id_number: str = ""
) -> Buyer | None:
    """The buyer when the platform sent anything about them, else None.

    Platforms differ: the own shop must send all three; Shopify and WooCommerce send what the
    order has (a pickup order has no address, many have no phone): absent fields are "".
    TikTok Shop and Douyin webhooks carry no buyer at all (None); booking keeps the buyer an
    earlier event gave (`booking._order_state`), so a buyer-less event never erases one.
    """
    if not (name or phone or address or email or id_number):
        return None
    return Buyer(name=name, phone=phone, address=address, email=email, id_number=id_number)


def accepted_reply(
    delivery_id: str, event_keys: Iterable[str], status: int = 200
) -> tuple[int, dict[str, Any]]:
    """The usual success answer: what was queued under which keys (none for pings and topics
    that are not orders)."""
    keys = list(event_keys)
    return status, {
        "status": "accepted" if keys else "ignored",
        "delivery_id": delivery_id,
        "events": keys,
    }
