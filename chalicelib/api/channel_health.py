"""Channel health: the 5-minute check, the daily summary, and `GET /ops/channel-health`.

The rules live in chalicelib/domain/channel_health.py, the probes in
chalicelib/adapters/health_probes.py. Metrics (EMF, namespace OrderHub):
`ChannelHealthLatencyMs` and `ChannelHealthFailures` per platform (dimensions service,
platform) for the dashboard, and `ChannelHealthFailures` / `ChannelHealthChecks` across all
stores (dimension service) for the alarm.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from chalice import Blueprint

from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import Container, container
from chalicelib.domain.channel_health import (
    CheckResult,
    Health,
    check_stores,
    summarize,
    summary_notice,
    utc_day,
)
from chalicelib.domain.conservation import parse_day
from chalicelib.domain.errors import InvalidPayload, NotFound
from chalicelib.observability import SERVICE, logger, metrics, namespace

bp = Blueprint(__name__)


def emit_health_metrics(results: list[CheckResult]) -> None:
    """Per platform (dashboard) and across stores (alarm). `no_probe` stores emit nothing
    but are counted as checked."""
    failures_by_platform: dict[str, int] = {}
    for result in results:
        state = result.state
        if state.status is Health.NO_PROBE:
            continue
        failing = int(state.status is Health.FAILING)
        failures_by_platform[state.platform] = failures_by_platform.get(state.platform, 0) + failing
        if state.latency_ms is not None:
            with single_metric(
                name="ChannelHealthLatencyMs",
                unit=MetricUnit.Milliseconds,
                value=state.latency_ms,
                namespace=namespace(),
                default_dimensions={"service": SERVICE, "platform": state.platform},
            ):
                pass
    for platform, failures in sorted(failures_by_platform.items()):
        with single_metric(
            name="ChannelHealthFailures",
            unit=MetricUnit.Count,
            value=failures,
            namespace=namespace(),
            default_dimensions={"service": SERVICE, "platform": platform},
        ):
            pass
    collected = metrics()
    collected.add_metric(
        name="ChannelHealthFailures",
        unit=MetricUnit.Count,
        value=sum(failures_by_platform.values()),
    )
    collected.add_metric(name="ChannelHealthChecks", unit=MetricUnit.Count, value=len(results))


def run_health_checks(deps: Container) -> dict[str, Any]:
    results = check_stores(
        deps.catalog.list_stores(),
        deps.health_probes.get,
        deps.ops_stats,
        deps.orders,
        deps.notifier,
        deps.now,
    )
    emit_health_metrics(results)
    log = logger()
    for result in results:
        if result.state.status is Health.FAILING or result.errors:
            log.warning("channel health", extra=result.to_dict())
    counts: dict[str, int] = {}
    for result in results:
        counts[result.state.status.value] = counts.get(result.state.status.value, 0) + 1
    log.info("channel health checked", extra={"counts": counts})
    return {"counts": counts, "stores": [r.to_dict() for r in results]}


@bp.schedule("rate(5 minutes)")
def check_channel_health(event: Any) -> dict[str, Any]:
    """Probe every store's platform: credentials, latency, rate-limit headroom, webhook
    subscription; a failure opens the P1 `channel_health` anomaly and notifies ops once per
    streak, a recovery notifies again."""
    return run_health_checks(container())


@bp.schedule("cron(10 0 * * ? *)")  # 00:10 UTC (08:10 Beijing): yesterday's UTC day
def channel_health_summary(event: Any) -> dict[str, Any]:
    """Yesterday's checks per store (availability, mean latency, last problem), stored and
    sent to ops as an `info` notice."""
    deps = container()
    now = deps.now()
    day = utc_day(now - timedelta(days=1))
    summary = summarize(day, deps.ops_stats.day_counts(day), deps.ops_stats.latest())
    deps.ops_stats.save_summary(summary)
    notified = True
    try:
        deps.notifier.notify(summary_notice(summary, now))
    except Exception as exc:  # the summary is stored and served either way
        notified = False
        logger().warning("channel health summary not sent", extra={"error": str(exc)})
    return {**summary.to_dict(), "notified": notified}


@bp.route("/ops/channel-health", methods=["GET"])
@api_errors
def handle_channel_health() -> Any:
    """The latest check of every store (`?date=YYYY-MM-DD`: that UTC day's summary)."""
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    deps = container()
    if "date" in params:
        try:
            day = parse_day(params["date"]).isoformat()
        except ValueError:
            raise InvalidPayload(f"date must be YYYY-MM-DD, got '{params['date']}'") from None
        summary = deps.ops_stats.summary(day)
        if summary is None:
            raise NotFound(f"no channel health summary for {day} (made daily at 00:10 UTC)")
        return json_response(summary.to_dict())
    latest = sorted(deps.ops_stats.latest().values(), key=lambda s: (s.platform, s.store_id))
    return json_response(
        {
            "stores": [s.to_dict() for s in latest],
            "failing": [s.key for s in latest if s.status is Health.FAILING],
        }
    )
