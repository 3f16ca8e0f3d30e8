"""The local scheduler reads AWS rate and cron expressions as EventBridge does (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from local.scheduler import Schedule

T0 = datetime(2026, 11, 25, 10, 7, 30, tzinfo=UTC)  # a Wednesday


def test_rate_adds_its_interval():
    assert Schedule("rate(5 minutes)").next_after(T0) == datetime(
        2026, 11, 25, 10, 12, 30, tzinfo=UTC
    )


def test_beijing_midnight_is_sixteen_utc():
    assert Schedule("cron(0 16 * * ? *)").next_after(T0) == datetime(
        2026, 11, 25, 16, 0, tzinfo=UTC
    )


def test_monthly_on_the_first():
    assert Schedule("cron(0 1 1 * ? *)").next_after(T0) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def test_day_of_week_uses_aws_numbering_sunday_is_one():
    assert Schedule("cron(30 2 ? * MON-FRI *)").next_after(T0).day == 26
    assert Schedule("cron(0 0 ? * 1 *)").next_after(T0) == datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


def test_steps_and_lists():
    assert Schedule("cron(*/15 * * * ? *)").next_after(T0).minute == 15
    assert Schedule("cron(5,50 10 * * ? *)").next_after(T0).minute == 50


@pytest.mark.parametrize("bad", ["every 5 minutes", "cron(0 16 * * ?)", "cron(61 * * * ? *)"])
def test_bad_expressions_fail_early(bad):
    with pytest.raises(ValueError):
        Schedule(bad)
