"""Bounds at the edge: what OrderHub accepts as an id, a SKU, a warehouse, a header value, a
time, a quantity, an amount, a currency and a JSON document, in one place. Pure.

The rule they serve: whatever OrderHub answers 2xx is booked, or rejected by booking for a
business reason. An input problem is refused at the door with a 4xx naming the field; it
never reaches the queue, a table (whose key and item limits would refuse it as a 5xx) or the
DLQ. Every channel parser (through `check_event`, at intake) and every API route that takes
input (path and query values in the http middleware, bodies in their parsers) calls these.

Each check raises `InvalidPayload` whose message names the field as the caller gave it
(`$.line_items[0].sku`, `path parameter 'sku'`, `header 'webhook-id'`).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from chalicelib.domain.errors import InvalidPayload

# Lengths in characters. DynamoDB keys hold at most 2,048 (hash) / 1,024 (range) UTF-8 bytes,
# and a composite key (`platform#store#order_id`, `sku` + `warehouse`) must stay well inside.
MAX_ID = 128  # order, delivery, event, adjustment, shipment ids; store ids; key ids
MAX_SKU = 128
MAX_WAREHOUSE = 64
MAX_HEADER = 1024  # any header value a channel reads
MAX_QUERY_VALUE = 1024
MAX_PATH_VALUE = 256  # any path parameter, before its own rule
MAX_TEXT = 500  # a reason, a note, an owner's name
MAX_NAME = 200  # a buyer's name
MAX_PHONE = 64
MAX_EMAIL = 254  # RFC 5321's path limit
MAX_ID_NUMBER = 64
MAX_ADDRESS = 1000  # the longest real address we have seen is ~300
MAX_REGION = 64

YEAR_MIN, YEAR_MAX = 2000, 2100
EARLIEST = datetime(YEAR_MIN, 1, 1, tzinfo=UTC)
LATEST = datetime(YEAR_MAX, 12, 31, 23, 59, 59, tzinfo=UTC)

QUANTITY_MIN, QUANTITY_MAX = 1, 1_000_000
# Amounts: DynamoDB numbers hold 38 significant digits between 1E-130 and 9.99E+125; an order
# amount is far inside both. Kept to 15 integer digits and 10 decimals (25 digits at most).
AMOUNT_MAX = Decimal(10) ** 15
AMOUNT_MAX_DECIMALS = 10

MAX_JSON_DEPTH = 32  # the deepest real payload (Shopify refunds) is 6
# DynamoDB items hold 400 KB. An event's own JSON is budgeted at 128 KB: the order item
# carries it sealed (base64 and a masked copy: ~2x) beside its history.
MAX_EVENT_BYTES = 128 * 1024

# ISO 4217 active codes (the SIX list, 2024), without the fund and precious-metal codes no
# platform sells in.
_ISO_4217 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL "
    "BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP "
    "ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR "
    "IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL "
    "LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR "
    "NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD "
    "SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX "
    "USD UYU UZS VED VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG "
)
CURRENCIES = frozenset(_ISO_4217.split())


def _refuse(field: str, why: str) -> InvalidPayload:
    return InvalidPayload(f"{field} {why}")


def check_text(value: object, field: str, max_length: int, *, allow_empty: bool = False) -> str:
    """Text of at most `max_length` characters, valid Unicode (no lone surrogates, so it
    encodes as UTF-8) and free of control characters (tabs and newlines included: ids and
    header values never hold them)."""
    if not isinstance(value, str):
        raise _refuse(field, "must be text")
    if not value and not allow_empty:
        raise _refuse(field, "must not be empty")
    if len(value) > max_length:
        raise _refuse(field, f"is {len(value)} characters long; at most {max_length} are accepted")
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise _refuse(field, "is not valid UTF-8 text (it holds a lone surrogate)")
        if category == "Cc":
            raise _refuse(field, f"holds the control character U+{ord(char):04X}")
    return value


def check_free_text(value: object, field: str, max_length: int = MAX_TEXT) -> str:
    """Free text a person typed (a reason, a note, an address): newlines and tabs allowed,
    every other control character and lone surrogates refused; at most `max_length`."""
    if not isinstance(value, str):
        raise _refuse(field, "must be text")
    if len(value) > max_length:
        raise _refuse(field, f"is {len(value)} characters long; at most {max_length} are accepted")
    for char in value:
        category = unicodedata.category(char)
        if category == "Cs":
            raise _refuse(field, "is not valid UTF-8 text (it holds a lone surrogate)")
        if category == "Cc" and char not in "\n\t\r":
            raise _refuse(field, f"holds the control character U+{ord(char):04X}")
    return value


def check_id(value: object, field: str) -> str:
    return check_text(value, field, MAX_ID)


def check_sku(value: object, field: str) -> str:
    sku = check_text(value, field, MAX_SKU)
    if sku != sku.strip():
        raise _refuse(field, "must not start or end with spaces")
    return sku


def check_warehouse(value: object, field: str) -> str:
    """A warehouse id's shape; whether it exists is the catalog's (`stock_ops`)."""
    return check_text(value, field, MAX_WAREHOUSE)


def check_header(name: str, value: object) -> str:
    return check_text(value, f"header '{name}'", MAX_HEADER, allow_empty=True)


def check_time(moment: datetime, field: str) -> datetime:
    """A UTC time between 2000 and 2100, the years an order, event or query can be about."""
    if not EARLIEST <= moment <= LATEST:
        raise _refuse(field, f"is {moment.isoformat()}; times must lie in {YEAR_MIN}-{YEAR_MAX}")
    return moment


def check_quantity(value: object, field: str, minimum: int = QUANTITY_MIN) -> int:
    """A whole number of units, `minimum` (1, or 0 for a count) to 1,000,000."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _refuse(field, "must be a whole number")
    if not minimum <= value <= QUANTITY_MAX:
        shown = str(value) if abs(value) < 10**12 else f"a {len(str(abs(value)))}-digit number"
        raise _refuse(field, f"is {shown}; it must be {minimum} to {QUANTITY_MAX:,}")
    return value


def check_amount(value: object, field: str) -> Decimal:
    """A non-negative, finite amount below 10^15 with at most 10 decimals (inside DynamoDB's
    number range and precision)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _refuse(field, "must be an amount")
    try:
        amount = Decimal(value)
        if not amount.is_finite() or amount < 0:
            raise _refuse(field, "must be a finite amount, not negative")
        if amount >= AMOUNT_MAX:
            raise _refuse(field, f"is too large; amounts must be below {AMOUNT_MAX:,.0f}")
        exponent = amount.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -AMOUNT_MAX_DECIMALS:
            raise _refuse(field, f"has more than {AMOUNT_MAX_DECIMALS} decimals")
    except (InvalidOperation, OverflowError, ValueError):
        raise _refuse(field, "must be an amount") from None
    return amount


def check_currency(value: object, field: str) -> str:
    if not isinstance(value, str) or value not in CURRENCIES:
        shown = repr(value)[:20]
        raise _refuse(field, f'is {shown}; it must be an ISO 4217 currency code such as "USD"')
    return value


def json_depth(raw: bytes | str) -> int:
    """How deep the JSON text nests (arrays and objects), counted without parsing it, so a
    document nested thousands deep is refused before the parser recurses into it. Brackets
    inside strings are skipped."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def check_json_depth(raw: bytes | str, field: str = "body") -> None:
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise _refuse(field, f"nests {depth} levels deep; at most {MAX_JSON_DEPTH} are accepted")


def check_params(params: Mapping[str, Any] | None, kind: str, max_length: int) -> None:
    """Every path or query value: text within `max_length`, no control characters."""
    for name, value in (params or {}).items():
        check_text(str(value), f"{kind} '{name}'", max_length, allow_empty=True)


def check_event(event: Any) -> None:
    """An `OrderEvent` a channel parsed, checked before it is sealed and queued: ids, SKUs,
    quantities, amounts, currency, times, buyer fields, and its size against what a DynamoDB
    item holds. Raises InvalidPayload naming the field."""
    check_id(event.order_id, "order id")
    check_text(event.event_key, "event key (the delivery's id)", 3 * MAX_ID + 64)
    check_text(event.platform_event_id, "platform event id", MAX_ID, allow_empty=True)
    check_time(event.updated_at, "the event's time (updated_at)")
    if event.currency:  # thin events (and Amazon's) carry none until their details come
        check_currency(event.currency, "currency")
    check_text(event.region, "shipping region", MAX_REGION, allow_empty=True)
    for index, line in enumerate(event.lines):
        where = f"lines[{index}]"
        check_sku(line.sku, f"{where}.sku")
        check_quantity(line.quantity, f"{where}.quantity")
        check_amount(line.unit_price, f"{where}.unit_price")
    buyer = event.buyer
    if buyer is not None and buyer.sealed is None:
        check_free_text(buyer.name, "buyer name", MAX_NAME)
        check_free_text(buyer.phone, "buyer phone", MAX_PHONE)
        check_free_text(buyer.email, "buyer email", MAX_EMAIL)
        check_free_text(buyer.id_number, "buyer id number", MAX_ID_NUMBER)
        check_free_text(buyer.address, "buyer address", MAX_ADDRESS)
    size = len(json.dumps(event.to_dict(), ensure_ascii=False).encode("utf-8"))
    if size > MAX_EVENT_BYTES:
        raise InvalidPayload(
            f"the order is {size:,} bytes as OrderHub stores it; at most {MAX_EVENT_BYTES:,} "
            "fit the order's record (DynamoDB items hold 400 KB): fewer lines or shorter fields"
        )


def check_events(events: Iterable[Any]) -> None:
    for event in events:
        check_event(event)
