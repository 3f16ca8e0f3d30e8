"""Time at the edge: every stored time is UTC, parsed from text that states its offset."""

from __future__ import annotations

from datetime import UTC, datetime


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
    return parsed.astimezone(UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)
