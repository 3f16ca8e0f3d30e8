"""Platform times to UTC: offsets kept, Unix seconds, naive text read only in a named zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.timeutil import from_unix_seconds, parse_in_zone


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2017-03-22T19:28:08", "UTC", datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)),
        ("2026-11-25 16:00:00", "Asia/Shanghai", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),
        ("2026-11-25T16:00:00", "Asia/Shanghai", datetime(2026, 11, 25, 8, 0, tzinfo=UTC)),
        # an offset in the text wins over the zone
        ("2021-12-31T19:00:00-05:00", "Asia/Shanghai", datetime(2022, 1, 1, tzinfo=UTC)),
        ("2026-11-25T08:00:00Z", "Asia/Shanghai", datetime(2026, 11, 25, 8, tzinfo=UTC)),
        # New York in summer is UTC-4, in winter UTC-5
        ("2026-07-01T12:00:00", "America/New_York", datetime(2026, 7, 1, 16, tzinfo=UTC)),
        ("2026-01-01T12:00:00", "America/New_York", datetime(2026, 1, 1, 17, tzinfo=UTC)),
    ],
)
def test_text_times_become_utc(text, zone, expected):
    parsed = parse_in_zone(text, zone)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "zone", "message"),
    [
        ("yesterday", "UTC", "not an ISO-8601"),
        ("", "UTC", "time string"),
        ("2026-11-25T16:00:00", "Mars/Olympus", "not an IANA time zone"),
    ],
)
def test_bad_times_and_zones_are_named(text, zone, message):
    with pytest.raises(ValueError, match=message):
        parse_in_zone(text, zone)


@pytest.mark.parametrize("value", [1664095610, "1664095610"])
def test_unix_seconds_become_utc(value):
    assert from_unix_seconds(value) == datetime(2022, 9, 25, 8, 46, 50, tzinfo=UTC)


@pytest.mark.parametrize("value", [True, 1.5, "soon", None, 10**20])
def test_bad_unix_seconds_are_refused(value):
    with pytest.raises(ValueError):
        from_unix_seconds(value)
