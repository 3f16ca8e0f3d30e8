"""Time at the edge: every stored time is UTC, and the text it came from is kept beside it.

Platforms stamp times three ways: ISO-8601 with an offset (Shopify, own shop), Unix seconds
(TikTok Shop, Douyin) and naive wall-clock text (WooCommerce's `*_gmt` fields are UTC without
saying so; its other fields and the Chinese platforms' text times are the shop's local time).
Each is read here, explicitly: a naive time is only ever read in a zone the caller names
(the store's configured `Store.timezone`), never in the server's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def parse_aware(text: str) -> datetime:
    """Parse ISO-8601 text that carries an offset (or Z) into a UTC datetime.

    Raises ValueError naming what is wrong; naive times are refused because guessing their
    zone is how orders get judged "in the future" and dropped.
    """
    if not isinstance(text, str) or not text:
        raise ValueError("must be an ISO-8601 time string")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO-8601 time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError(f"'{text}' has no UTC offset (add Z or +08:00)")
    return _to_utc(parsed, text)


def _to_utc(parsed: datetime, text: str) -> datetime:
    """`parsed` in UTC; ValueError when that leaves Python's years 1-9999 (year 1 at +01:00,
    9999-12-31 at -01:00), which `astimezone` reports as an OverflowError."""
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"'{text}' is out of the range of times OrderHub handles") from None


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name` (e.g. a store's `Asia/Shanghai`); ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not an IANA time zone (e.g. Asia/Shanghai)") from None


def parse_in_zone(text: str, zone_name: str) -> datetime:
    """Parse ISO-8601 text (`T` or space between date and time) into UTC.

    Text with an offset keeps it; naive text is wall-clock time in `zone_name` (the store's
    zone, or "UTC" for fields documented as UTC). In a zone with daylight saving, a wall time
    that occurs twice is read as the first occurrence (fold=0) and one that never occurs is
    shifted by the gap, as zoneinfo does.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("must be a time string")
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO-8601 time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        parsed = parsed.replace(tzinfo=zone(zone_name))
    return _to_utc(parsed, text)


def from_unix_seconds(value: object) -> datetime:
    """Unix seconds (an integer, or its decimal text) as a UTC datetime; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("must be Unix seconds, not a boolean")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError(f"{value!r} is not whole Unix seconds")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{value} is out of range for Unix seconds") from None


def utc_now() -> datetime:
    return datetime.now(UTC)
