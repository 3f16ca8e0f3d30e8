"""Anomalies: list, read, acknowledge, resolve (API key needed), and the 5-minute scan.

The route permission (`read_anomalies`, `handle_anomalies`) is checked by the middleware;
that the caller's role owns the anomaly's rule (or is admin) is the engine's check, as it
depends on the rule (domain/anomalies.py). Keys contain `#`: send them URL-encoded (`%23`);
every listed anomaly carries its encoded `path`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from chalice import Blueprint

from chalicelib.api.access import audit, principal_of
from chalicelib.api.http import api_errors, json_response, own_base_url, read_json
from chalicelib.deps import container
from chalicelib.domain import anomalies as engine
from chalicelib.domain.audit import Action
from chalicelib.domain.errors import NotFound
from chalicelib.domain.tracking import (
    stall_after,
    tracks_stalled,
    with_activity_signals,
)
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)


def _note() -> str:
    found = read_json(bp.current_request.raw_body)
    return "" if found is None else engine.parse_note(found)


def _state(record: engine.AnomalyRecord) -> dict[str, Any]:
    """An anomaly's lifecycle fields, for the audit's before/after (no personal data)."""
    view = engine.anomaly_view(record)
    return {k: view[k] for k in ("status", "escalation_level", "acknowledged", "resolved")}


@bp.route("/anomalies", methods=["GET"])
@api_errors
def handle_list_anomalies() -> Any:
    """`?status=open|acknowledged|resolved&priority=P0|P1|P2&rule=<name>&since=YYYY-MM-DD`;
    without status, every open and acknowledged one."""
    deps = container()
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    found = engine.list_anomalies(deps.anomalies, params, deps.now())
    return json_response(
        {"anomalies": [engine.anomaly_view(r) for r in found], "count": len(found)}
    )


@bp.route("/anomalies/{key}", methods=["GET"])
@api_errors
def handle_get_anomaly(key: str) -> Any:
    record = container().anomalies.get(unquote(key))
    if record is None:
        raise NotFound(f"no anomaly {unquote(key)!r}; list them with GET /anomalies")
    return json_response(engine.anomaly_view(record))


@bp.route("/anomalies/{key}/acknowledge", methods=["POST"])
@api_errors
def handle_acknowledge_anomaly(key: str) -> Any:
    """Someone owns it: escalation now waits for the resolve deadline. Optional {"note"}."""
    deps = container()
    request = bp.current_request
    before, after = engine.acknowledge(
        deps.anomalies, unquote(key), principal_of(request), _note(), deps.now()
    )
    audit(
        Action.ANOMALY_ACKNOWLEDGE,
        f"anomaly/{before.key}",
        before=_state(before),
        after=_state(after),
        request=request,
    )
    return json_response(engine.anomaly_view(after))


@bp.route("/anomalies/{key}/resolve", methods=["POST"])
@api_errors
def handle_resolve_anomaly(key: str) -> Any:
    """Close it (acknowledged or not); if it occurs again it reopens. Optional {"note"}."""
    deps = container()
    request = bp.current_request
    before, episode = engine.resolve(
        deps.anomalies, unquote(key), principal_of(request), _note(), deps.now()
    )
    base = own_base_url(request, deps.settings.link_base_url)
    notice = engine.resolution_notice(episode, base)
    if notice is not None:
        try:
            deps.notifier.notify(notice)
        except Exception:  # resolved all the same; the notice is what failed
            logger().exception("resolution notice not sent", extra={"anomaly": before.key})
            metrics().add_metric(name="AnomalyNoticesFailed", unit="Count", value=1)
    audit(
        Action.ANOMALY_RESOLVE,
        f"anomaly/{before.key}",
        before=_state(before),
        after=_state(episode),
        request=request,
    )
    return json_response(engine.anomaly_view(episode))


def refine_with_activity(
    deps: Any, found: list[Any], failed: list[str]
) -> tuple[list[Any], list[str]]:
    """Pick lists and carrier tracks (domain/tracking.py `with_activity_signals`); a source
    that fails is reported like a rule's and the rest still runs."""
    now = deps.now()
    picked: set[str] = set()
    stalled: list[Any] = []
    try:
        candidates = [a.subject for a in found if a.rule == "paid_not_picked"]
        picked = deps.order_activity.picked(candidates) if candidates else set()
    except Exception as exc:
        failed = [*failed, f"pick lists: {type(exc).__name__}: {exc}"]
    try:
        after = stall_after(deps.settings.track_stall_hours)
        stalled = tracks_stalled(deps.tracks.silent(now - after, limit=5000), now, after)
    except Exception as exc:
        failed = [*failed, f"carrier tracks: {type(exc).__name__}: {exc}"]
    return with_activity_signals(found, picked, stalled), failed


@bp.schedule("rate(5 minutes)")
def scan_anomalies(event: Any) -> dict[str, Any]:
    """Evaluate the time-based rules through their indexes, announce what opened, escalate
    what passed its SLA (domain/anomalies.py)."""
    deps = container()
    found, failed = engine.evaluate_time_rules(
        deps.shipment_watch,
        deps.after_sales,
        lambda: {
            name: depth
            for name, depth in deps.queue_monitor.depths().items()
            if name.endswith("_dlq")
        },
        deps.now(),
    )
    found, failed = refine_with_activity(deps, found, failed)
    report = engine.scan(
        deps.anomalies, deps.notifier, deps.now, found, deps.settings.link_base_url
    )
    collected = metrics()
    for name, keys in (
        ("AnomaliesOpened", report.opened),
        ("AnomaliesAnnounced", report.announced),
        ("AnomaliesEscalated", report.escalated),
        ("AnomalyNoticesFailed", report.notify_failed),
        ("AnomalyRulesFailed", failed),
    ):
        collected.add_metric(name=name, unit="Count", value=len(keys))
    summary = {**report.to_dict(), "rules_failed": failed}
    if failed or report.notify_failed:
        logger().warning("anomaly scan incomplete", extra=summary)
    else:
        logger().info("anomaly scan", extra=summary)
    return summary
