"""Stand-in for EventBridge schedules (moto stores rules but never fires them).

Reads the app's `@app.schedule` handlers, fires each at its rate or cron (UTC, AWS's six-field
syntax), and can fire any one on demand.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from local.lambda_runtime import LocalLambdaContext, scheduled_event

log = logging.getLogger("orderhub.local.scheduler")

_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}


def _value(token: str, names: dict[str, int] | None) -> int:
    return names[token] if names and token in names else int(token)


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int]:
    """Values one cron field allows: *, ?, n, a-b, */s, a-b/s, lists; names for month/day.
    (`L` in day-of-month is read by `Schedule.next_after`.)"""
    allowed: set[int] = set()
    for part in text.upper().split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", "?"):
            start, end = low, high
        else:
            ends = [_value(token, names) for token in base.split("-")]
            start = ends[0]
            end = ends[1] if len(ends) == 2 else (high if step_text else start)
        if not (low <= start <= end <= high):
            raise ValueError(f"cron field '{text}' is outside {low}-{high}")
        allowed.update(range(start, end + 1, step))
    return allowed


@dataclass(frozen=True)
class Schedule:
    """A parsed `rate(...)` or `cron(...)` expression."""

    expression: str

    def __post_init__(self) -> None:
        self.next_after(datetime(2000, 1, 1, tzinfo=UTC))  # validate early

    def next_after(self, moment: datetime) -> datetime:
        rate = re.fullmatch(r"rate\((\d+) (\w+)\)", self.expression)
        if rate:
            return moment + timedelta(seconds=int(rate.group(1)) * _UNITS[rate.group(2)])
        cron = re.fullmatch(r"cron\((.+)\)", self.expression)
        if not cron:
            raise ValueError(f"unsupported schedule expression: {self.expression}")
        fields = cron.group(1).split()
        if len(fields) != 6:
            raise ValueError(f"cron needs 6 fields (AWS syntax): {self.expression}")
        minutes, hours, dom, months, dow, years = fields
        allowed_min = _field(minutes, 0, 59)
        allowed_hour = _field(hours, 0, 23)
        last_day = dom.upper() == "L"  # the month's last day (AWS allows L in day-of-month)
        allowed_dom = set(range(1, 32)) if last_day else _field(dom, 1, 31)
        allowed_month = _field(months, 1, 12, _MONTHS)
        allowed_dow = _field(dow, 1, 7, _DAYS)
        allowed_year = _field(years, 1970, 2199)
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = candidate + timedelta(days=366 * 5)
        while candidate < limit:
            aws_dow = (candidate.weekday() + 1) % 7 + 1  # AWS: 1 = Sunday
            if (
                candidate.year in allowed_year
                and candidate.month in allowed_month
                and candidate.day in allowed_dom
                and (not last_day or (candidate + timedelta(days=1)).month != candidate.month)
                and aws_dow in allowed_dow
            ):
                if candidate.hour in allowed_hour and candidate.minute in allowed_min:
                    return candidate
                candidate += timedelta(minutes=1)
            else:
                candidate = candidate.replace(hour=0, minute=0) + timedelta(days=1)
        raise ValueError(f"schedule never fires: {self.expression}")


@dataclass
class Job:
    name: str
    schedule: Schedule
    handler: Callable[[dict[str, Any], Any], Any]


class Scheduler(threading.Thread):
    def __init__(
        self, jobs: list[Job], region: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.jobs = {job.name: job for job in jobs}
        self._region = region
        self._now = now
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def fire(self, name: str) -> Any:
        """Run one job now, as EventBridge would invoke it."""
        job = self.jobs[name]
        return job.handler(
            scheduled_event(name, self._region, self._now()), LocalLambdaContext(name)
        )

    def run(self) -> None:
        due = {name: job.schedule.next_after(self._now()) for name, job in self.jobs.items()}
        while not self._halt.is_set():
            if not due:
                self._halt.wait(3600)
                continue
            name = min(due, key=lambda n: due[n])
            wait = (due[name] - self._now()).total_seconds()
            if wait > 0 and self._halt.wait(min(wait, 1.0)):
                break
            if due[name] > self._now():
                continue
            try:
                self.fire(name)
            except Exception:
                log.exception("scheduled job %s failed", name)
            due[name] = self.jobs[name].schedule.next_after(self._now())
