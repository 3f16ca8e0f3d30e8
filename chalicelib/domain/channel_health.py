"""Channel health: is each store's platform still talking to us? Pure Python.

Every 5 minutes `check_stores` asks each store's platform one cheap, authenticated question
through a `HealthProbe` (chalicelib/adapters/health_probes.py: one per platform) and reads
the answer as an `Observation`: did the API answer, were our credentials accepted, how long
it took, how much rate-limit headroom is left (where the platform's headers say), and
whether our webhook subscription is still there (where the API can tell; Shopify deletes a
subscription after 8 failed deliveries, WooCommerce disables one after about 5, BigCommerce
deactivates one after 48 h of retries).

`interpret` turns an observation into a status:
- `failing`: no usable answer (unreachable, timeout, 5xx, an answer we cannot read),
  credentials refused, or our webhook subscription missing or inactive;
- `degraded`: it works, but slower than `SLOW_MS`, with under `MIN_HEADROOM` of its rate
  limit left, or with a warning (e.g. Amazon's DLQ holds messages);
- `ok`; or `no_probe`: nothing to call (the own shop has no API; a store whose secret lacks
  the probe's fields), reported as such, never counted as a failure.

`decide` compares the new status with the store's previous one. A failing check opens (or
counts, on every failing run) the P1 anomaly `channel_health#platform#store`; the first
failing check of a streak sends a P1 notice to ops, and only that one (a notice that could
not be delivered is retried by the next failing run); the first check that is not failing
after a notified streak sends a "recovered" notice. One store's probe failing, raising or
hanging never stops the others (probes run in a small thread pool, each bounded by its
adapter's timeout).

The daily `summarize` reads the per-day counters each check adds (checks, failures,
degraded, latency) into one line per store: availability, mean latency, last problem.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from chalicelib.domain.model import Anomaly, Priority
from chalicelib.domain.notices import Notice, Notifier
from chalicelib.domain.ports import Store

RULE = "channel_health"  # the anomaly rule (the anomaly engine holds its SLA and owner)
PRIORITY = Priority.P1
AUDIENCE = "ops"
SLOW_MS = 2000  # slower than this is degraded (probe timeouts, 5 s, are failures)
MIN_HEADROOM = 0.10  # under 10 % of the rate limit left is degraded
PROBE_WORKERS = 8  # probes in flight at once: a hanging platform cannot hold up the rest


class Health(StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    FAILING = "failing"
    NO_PROBE = "no_probe"


class Credentials(StrEnum):
    VALID = "valid"  # the platform accepted them
    REFUSED = "refused"  # the platform refused them (expired token, bad signature, ...)
    UNKNOWN = "unknown"  # not checked (no answer, or nothing to check)


class Webhook(StrEnum):
    PRESENT = "present"  # our subscription is listed and active
    MISSING = "missing"  # the platform lists none to our address (deleted, never made)
    INACTIVE = "inactive"  # listed, but disabled, paused or deactivated
    UNKNOWN = "unknown"  # this platform's API cannot tell us (or the check is turned off)
    NOT_APPLICABLE = "n/a"  # the platform does not post to us (pull platforms)


@dataclass(frozen=True)
class RateLimit:
    """What the platform's headers say is left of its rate limit."""

    remaining: int
    limit: int | None = None

    @property
    def headroom(self) -> float | None:
        """The fraction of the limit left, when the limit is known."""
        if not self.limit or self.limit <= 0:
            return None
        return max(0.0, min(1.0, self.remaining / self.limit))

    def text(self) -> str:
        return f"{self.remaining}/{self.limit}" if self.limit else str(self.remaining)


@dataclass(frozen=True)
class Observation:
    """What one probe saw. Adapters build it and never raise."""

    answered: bool  # the API gave an answer we could read
    credentials: Credentials = Credentials.UNKNOWN
    latency_ms: int | None = None
    rate_limit: RateLimit | None = None
    webhook: Webhook = Webhook.NOT_APPLICABLE
    problem: str = ""  # why it is failing, naming what to check or fix
    warnings: tuple[str, ...] = ()  # works, but someone should look (degraded)
    facts: Mapping[str, str] = field(default_factory=dict)
    probed: bool = True  # False: nothing to call (see `no_probe`)

    @classmethod
    def no_probe(cls, why: str, facts: Mapping[str, str] | None = None) -> Observation:
        return cls(answered=False, problem=why, facts=dict(facts or {}), probed=False)

    @classmethod
    def unreachable(cls, why: str, latency_ms: int | None = None) -> Observation:
        return cls(answered=False, latency_ms=latency_ms, problem=why, webhook=Webhook.UNKNOWN)

    @classmethod
    def refused(cls, why: str, latency_ms: int | None = None) -> Observation:
        return cls(
            answered=True,
            credentials=Credentials.REFUSED,
            latency_ms=latency_ms,
            problem=why,
            webhook=Webhook.UNKNOWN,
        )


class HealthProbe(Protocol):
    def probe(self, store: Store) -> Observation:
        """Ask the store's platform one cheap authenticated question; never raise."""
        ...


def interpret(
    observation: Observation, slow_ms: int = SLOW_MS, min_headroom: float = MIN_HEADROOM
) -> tuple[Health, str]:
    """The status an observation means, and one line saying why."""
    o = observation
    if not o.probed:
        return Health.NO_PROBE, o.problem or "no probe for this store"
    if o.credentials is Credentials.REFUSED:
        return Health.FAILING, f"credentials refused: {o.problem}".rstrip(": ")
    if not o.answered:
        return Health.FAILING, o.problem or "no usable answer"
    if o.webhook is Webhook.MISSING:
        return Health.FAILING, o.problem or "our webhook subscription is missing"
    if o.webhook is Webhook.INACTIVE:
        return Health.FAILING, o.problem or "our webhook subscription is inactive"
    if o.problem:
        return Health.FAILING, o.problem
    reasons = list(o.warnings)
    if o.latency_ms is not None and o.latency_ms > slow_ms:
        reasons.append(f"slow: {o.latency_ms} ms (over {slow_ms} ms)")
    headroom = o.rate_limit.headroom if o.rate_limit else None
    if headroom is not None and headroom < min_headroom:
        reasons.append(f"rate limit nearly used up: {o.rate_limit.text()} left")  # type: ignore[union-attr]
    if reasons:
        return Health.DEGRADED, "; ".join(reasons)
    return Health.OK, "ok"


def subject(platform: str, store_id: str) -> str:
    return f"{platform}#{store_id}"


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromisoformat(str(value)).astimezone(UTC)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class StoreHealth:
    """A store's latest check, and where its failure streak stands."""

    platform: str
    store_id: str
    status: Health
    checked_at: datetime
    detail: str
    latency_ms: int | None = None
    credentials: Credentials = Credentials.UNKNOWN
    webhook: Webhook = Webhook.UNKNOWN
    rate_limit_remaining: int | None = None
    rate_limit_limit: int | None = None
    failures_in_row: int = 0
    failing_since: datetime | None = None
    alerted: bool = False  # this streak's failure notice was delivered
    last_ok_at: datetime | None = None  # last check that was ok or degraded
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return subject(self.platform, self.store_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "store": self.store_id,
            "status": self.status.value,
            "checked_at": _iso(self.checked_at),
            "detail": self.detail,
            "latency_ms": self.latency_ms,
            "credentials": self.credentials.value,
            "webhook": self.webhook.value,
            "rate_limit_remaining": self.rate_limit_remaining,
            "rate_limit_limit": self.rate_limit_limit,
            "failures_in_row": self.failures_in_row,
            "failing_since": _iso(self.failing_since),
            "alerted": self.alerted,
            "last_ok_at": _iso(self.last_ok_at),
            "facts": dict(self.facts),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoreHealth:
        def number(name: str) -> int | None:
            value = data.get(name)
            return None if value is None else int(value)

        checked_at = _time(data.get("checked_at"))
        if checked_at is None:
            raise ValueError("checked_at is required")
        return cls(
            platform=str(data["platform"]),
            store_id=str(data["store"]),
            status=Health(str(data["status"])),
            checked_at=checked_at,
            detail=str(data.get("detail") or ""),
            latency_ms=number("latency_ms"),
            credentials=Credentials(str(data.get("credentials") or "unknown")),
            webhook=Webhook(str(data.get("webhook") or "unknown")),
            rate_limit_remaining=number("rate_limit_remaining"),
            rate_limit_limit=number("rate_limit_limit"),
            failures_in_row=int(data.get("failures_in_row") or 0),
            failing_since=_time(data.get("failing_since")),
            alerted=bool(data.get("alerted")),
            last_ok_at=_time(data.get("last_ok_at")),
            facts={str(k): str(v) for k, v in dict(data.get("facts") or {}).items()},
        )


@dataclass(frozen=True)
class Decision:
    """What one check changes: the store's new state, the anomaly to open or count, the
    notice to send (failing, first of a streak or not yet delivered; or recovered)."""

    state: StoreHealth
    anomaly: Anomaly | None = None
    notice: Notice | None = None


def _facts(state: StoreHealth) -> dict[str, str]:
    facts = {
        "platform": state.platform,
        "store": state.store_id,
        "status": state.status.value,
        "credentials": state.credentials.value,
        "webhook": state.webhook.value,
    }
    if state.latency_ms is not None:
        facts["latency_ms"] = str(state.latency_ms)
    if state.rate_limit_remaining is not None:
        limit = state.rate_limit_limit
        facts["rate_limit"] = f"{state.rate_limit_remaining}/{limit}" if limit else "?"
    if state.failing_since is not None:
        facts["failing_since"] = state.failing_since.isoformat()
    return facts


def failing_notice(state: StoreHealth) -> Notice:
    name = state.key
    return Notice(
        kind="health",
        priority=PRIORITY.value,
        audience=AUDIENCE,
        title=f"{PRIORITY.value} {RULE}: {name} failing",
        body=(
            f"The health check of {state.platform} store {state.store_id} failed: "
            f"{state.detail}.\nIts orders may not be reaching OrderHub. See GET "
            "/ops/channel-health and docs/operations.md's alarm table (first thing to check)."
        ),
        at=state.checked_at,
        facts=_facts(state),
    )


def recovered_notice(state: StoreHealth, prior: StoreHealth) -> Notice:
    since = prior.failing_since.isoformat() if prior.failing_since else "?"
    return Notice(
        kind="health",
        priority=PRIORITY.value,
        audience=AUDIENCE,
        title=f"recovered: {RULE} {state.key}",
        body=(
            f"{state.platform} store {state.store_id} is {state.status.value} again after "
            f"{prior.failures_in_row} failed checks since {since} ({state.detail}). Resolve "
            f"the anomaly {RULE}#{state.key} once you know why it failed."
        ),
        at=state.checked_at,
        facts=_facts(state),
    )


def decide(
    prior: StoreHealth | None, store: Store, observation: Observation, now: datetime
) -> Decision:
    """The store's new state after one check, and what to tell whom (module docstring)."""
    status, detail = interpret(observation)
    rate = observation.rate_limit
    state = StoreHealth(
        platform=store.platform,
        store_id=store.store_id,
        status=status,
        checked_at=now,
        detail=detail,
        latency_ms=observation.latency_ms,
        credentials=observation.credentials,
        webhook=observation.webhook,
        rate_limit_remaining=rate.remaining if rate else None,
        rate_limit_limit=rate.limit if rate else None,
        last_ok_at=prior.last_ok_at if prior else None,
        facts=dict(observation.facts),
    )
    streak = prior is not None and prior.failures_in_row > 0
    if status is Health.FAILING:
        state = replace(
            state,
            failures_in_row=(prior.failures_in_row if prior and streak else 0) + 1,
            failing_since=prior.failing_since if prior and streak else now,
            alerted=bool(prior and streak and prior.alerted),
        )
        anomaly = Anomaly(RULE, state.key, PRIORITY, detail)
        return Decision(state, anomaly, None if state.alerted else failing_notice(state))
    if status in (Health.OK, Health.DEGRADED):
        state = replace(state, last_ok_at=now)
    if prior is not None and streak and prior.alerted:
        return Decision(state, None, recovered_notice(state, prior))
    return Decision(state)


# ---- the run -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    """One store's checks on one UTC day (the counters each check adds to)."""

    platform: str
    store_id: str
    checks: int = 0
    failures: int = 0
    degraded: int = 0
    no_probe: int = 0
    latency_ms_total: int = 0
    latency_samples: int = 0
    last_problem: str = ""
    last_problem_at: str = ""


class HealthRecords(Protocol):
    """Where checks are kept: the latest per store, per-day counters, daily summaries."""

    def latest(self) -> dict[str, StoreHealth]: ...

    def save(self, state: StoreHealth) -> None: ...

    def count(self, day: str, state: StoreHealth) -> None: ...

    def day_counts(self, day: str) -> list[DayCount]: ...

    def save_summary(self, summary: HealthSummary) -> None: ...

    def summary(self, day: str) -> HealthSummary | None: ...


class AnomalySink(Protocol):
    def open_anomaly(self, anomaly: Anomaly, now: datetime) -> None: ...


@dataclass(frozen=True)
class CheckResult:
    """One store's check as the run reports it (the handler logs and emits metrics)."""

    state: StoreHealth
    notified: str = ""  # "failing" | "recovered" when a notice went out
    errors: tuple[str, ...] = ()  # what could not be recorded or sent (retried next run)

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.state.platform,
            "store": self.state.store_id,
            "status": self.state.status.value,
            "latency_ms": self.state.latency_ms,
            "detail": self.state.detail,
            "notified": self.notified or None,
            "errors": list(self.errors),
        }


def _safe_probe(probe: HealthProbe | None, store: Store) -> Observation:
    if probe is None:
        return Observation.no_probe(f"no health probe for platform '{store.platform}'")
    try:
        return probe.probe(store)
    except Exception as exc:  # a probe must never stop the run
        return Observation.unreachable(f"the probe itself failed: {type(exc).__name__}: {exc}")


def probe_all(
    stores: Sequence[Store],
    probe_for: Callable[[str], HealthProbe | None],
    workers: int = PROBE_WORKERS,
) -> list[Observation]:
    """Every store's observation, in the stores' order, probed `workers` at a time."""
    if not stores:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(lambda s: _safe_probe(probe_for(s.platform), s), stores))


def utc_day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


def check_stores(
    stores: Sequence[Store],
    probe_for: Callable[[str], HealthProbe | None],
    records: HealthRecords,
    anomalies: AnomalySink,
    notifier: Notifier,
    now: Callable[[], datetime],
    workers: int = PROBE_WORKERS,
) -> list[CheckResult]:
    """Probe every store, record each result, open/count anomalies and send notices.
    Per-store errors are reported in the results, never raised."""
    try:
        prior_states = records.latest()
        prior_error = ""
    except Exception as exc:  # still probe and report; streak state cannot be followed
        prior_states, prior_error = {}, f"previous states unreadable: {type(exc).__name__}"
    observations = probe_all(stores, probe_for, workers)
    results = []
    for store, observation in zip(stores, observations, strict=True):
        at = now()
        prior = prior_states.get(subject(store.platform, store.store_id))
        decision = decide(prior, store, observation, at)
        state, notified = decision.state, ""
        errors = [prior_error] if prior_error else []
        if decision.anomaly is not None:
            try:
                anomalies.open_anomaly(decision.anomaly, at)
            except Exception as exc:
                errors.append(f"anomaly not opened: {type(exc).__name__}: {exc}")
        if decision.notice is not None:
            try:
                notifier.notify(decision.notice)
                notified = "failing" if state.status is Health.FAILING else "recovered"
                if state.status is Health.FAILING:
                    state = replace(state, alerted=True)
            except Exception as exc:  # failing: the next failing run tries again
                errors.append(f"notice not sent: {type(exc).__name__}: {exc}")
        try:
            records.save(state)
            records.count(utc_day(at), state)
        except Exception as exc:
            errors.append(f"result not stored: {type(exc).__name__}: {exc}")
        results.append(CheckResult(state, notified, tuple(errors)))
    return results


# ---- the daily summary -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreDay:
    platform: str
    store_id: str
    checks: int
    failures: int
    degraded: int
    availability_pct: float | None  # checks not failing / checks probed; None: never probed
    mean_latency_ms: int | None
    last_problem: str
    status_now: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "store": self.store_id,
            "checks": self.checks,
            "failures": self.failures,
            "degraded": self.degraded,
            "availability_pct": self.availability_pct,
            "mean_latency_ms": self.mean_latency_ms,
            "last_problem": self.last_problem,
            "status_now": self.status_now,
        }


@dataclass(frozen=True)
class HealthSummary:
    day: str
    stores: tuple[StoreDay, ...]

    @property
    def failing_stores(self) -> list[StoreDay]:
        return [s for s in self.stores if s.failures]

    def to_dict(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "stores": [s.to_dict() for s in self.stores],
            "stores_with_failures": len(self.failing_stores),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HealthSummary:
        stores = tuple(
            StoreDay(
                platform=str(s["platform"]),
                store_id=str(s["store"]),
                checks=int(s["checks"]),
                failures=int(s["failures"]),
                degraded=int(s["degraded"]),
                availability_pct=None
                if s.get("availability_pct") is None
                else float(s["availability_pct"]),
                mean_latency_ms=None
                if s.get("mean_latency_ms") is None
                else int(s["mean_latency_ms"]),
                last_problem=str(s.get("last_problem") or ""),
                status_now=str(s.get("status_now") or ""),
            )
            for s in data.get("stores", [])
        )
        return cls(str(data["day"]), stores)


def summarize(
    day: str, counts: Iterable[DayCount], latest: Mapping[str, StoreHealth]
) -> HealthSummary:
    """One line per store checked on `day`, worst first (most failures)."""
    lines = []
    for c in counts:
        probed = c.checks - c.no_probe
        now_state = latest.get(subject(c.platform, c.store_id))
        lines.append(
            StoreDay(
                platform=c.platform,
                store_id=c.store_id,
                checks=c.checks,
                failures=c.failures,
                degraded=c.degraded,
                availability_pct=round(100 * (probed - c.failures) / probed, 2) if probed else None,
                mean_latency_ms=round(c.latency_ms_total / c.latency_samples)
                if c.latency_samples
                else None,
                last_problem=c.last_problem,
                status_now=now_state.status.value if now_state else "",
            )
        )
    lines.sort(key=lambda s: (-s.failures, -s.degraded, s.platform, s.store_id))
    return HealthSummary(day, tuple(lines))


def summary_notice(summary: HealthSummary, at: datetime) -> Notice:
    """The day's summary for ops: informational (`info`), the failing stores listed first."""
    failing = summary.failing_stores
    lines = [
        f"- {s.platform}/{s.store_id}: {s.failures} failed of {s.checks} checks "
        f"({s.availability_pct}% available), last problem: {s.last_problem or '-'}"
        for s in failing
    ]
    healthy = len(summary.stores) - len(failing)
    body = "\n".join(
        [
            f"Channel health on {summary.day} (UTC): {len(failing)} store(s) with failures, "
            f"{healthy} without.",
            *lines,
            "Details: GET /ops/channel-health?date=" + summary.day,
        ]
    )
    return Notice(
        kind="health",
        priority="info",
        audience=AUDIENCE,
        title=f"channel health {summary.day}: {len(failing)} store(s) with failures",
        body=body,
        at=at,
        facts={"day": summary.day, "stores": str(len(summary.stores))},
    )
