"""Finance reports: the nightly reconciliation and inventory difference reports, the monthly
anomaly review, and `GET /reports` for their links (domain/daily_reports.py,
domain/monthly_review.py, domain/reports.py)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from chalice import Blueprint

from chalicelib.adapters.deferred import deferred_imports
from chalicelib.api.http import api_errors, json_response
from chalicelib.api.indicator_reports import monthly_chase_lines
from chalicelib.deps import Container, container
from chalicelib.domain.order_notes import previous_month_label, review_note_lines
from chalicelib.domain.reconcile import previous_day
from chalicelib.observability import logger, metrics

if TYPE_CHECKING:
    from chalicelib.domain.daily_reports import (
        ReportRun,
        run_inventory_report,
        run_reconciliation,
    )
    from chalicelib.domain.monthly_review import month_start, previous_month, run_monthly_review
    from chalicelib.domain.reports import parse_kind, parse_report_date
else:  # the reports' own modules come with their first call (adapters/deferred.py)
    globals().update(deferred_imports(__file__, "chalicelib.domain"))

bp = Blueprint(__name__)


def _date_asked(event: Any) -> date | None:
    """`detail.date` when a person invokes the function for a past day
    (`aws lambda invoke --payload '{"detail": {"date": "2026-11-24"}}'`); None on schedule."""
    raw = event.to_dict() if hasattr(event, "to_dict") else dict(event or {})
    asked = (raw.get("detail") or {}).get("date")
    return parse_report_date(str(asked)) if asked else None


def _log(run: ReportRun) -> dict[str, Any]:
    result = run.to_dict()
    metrics().add_metric(name=f"ReportRows_{run.kind}", unit="Count", value=run.rows)
    if run.notify_error:
        logger().error("report notice not delivered", extra={"report": result})
    else:
        logger().info("report published", extra={"report": {**result, "link": "(presigned)"}})
    return result


def reconcile_day(deps: Container, day: date) -> dict[str, Any]:
    """The order reconciliation and the inventory difference report of one Beijing day."""
    orders = run_reconciliation(
        day,
        deps.catalog_store.list_stores(),
        deps.statements,
        deps.order_days,
        deps.reports,
        deps.notifier,
        deps.now,
    )
    stock = run_inventory_report(
        day,
        [w.warehouse_id for w in deps.catalog_store.list_warehouses()],
        deps.orders.all_stock(),
        deps.wms_snapshots,
        deps.reports,
        deps.notifier,
        deps.now,
    )
    return {"date": day.isoformat(), "reports": [_log(orders), _log(stock)]}


@bp.schedule("cron(0 17 * * ? *)")  # 01:00 Beijing: yesterday, 00:00-24:00 Beijing
def reconcile(event: Any) -> dict[str, Any]:
    """Yesterday's order reconciliation (every store) and inventory differences (every
    warehouse), written to S3 and announced to finance."""
    deps = container()
    return reconcile_day(deps, _date_asked(event) or previous_day(deps.now()))


@bp.schedule("cron(0 17 L * ? *)")  # 01:00 Beijing on the 1st (17:00 UTC, the month's last day)
def monthly_review(event: Any) -> dict[str, Any]:
    """Last month's (Beijing) top 10 anomaly types: counts, median time to resolve, SLA
    breaches; written to S3 and announced to finance. `detail.date` (any day of a month)
    re-runs that month."""
    deps = container()
    month = _date_asked(event) or previous_month(deps.now())
    chase = monthly_chase_lines(deps, month_start(month))  # the metric table's monthly row
    earlier = review_note_lines(
        deps.order_activity.review_notes(previous_month_label(month_start(month)))
    )
    run = run_monthly_review(
        month,
        deps.anomalies,
        deps.reports,
        deps.notifier,
        deps.now,
        extra_lines=chase,
        earlier_actions=earlier,
    )
    return _log(run)


@bp.route("/reports", methods=["GET"])
@api_errors
def handle_list_reports() -> Any:
    """Fresh presigned links to every file of the day's reports: ?date=YYYY-MM-DD[&kind=]."""
    params: dict[str, str] = dict(bp.current_request.query_params or {})
    day = parse_report_date(params.get("date"))
    kind = parse_kind(params.get("kind"))
    deps = container()
    files = deps.reports.links(day, kind)
    return json_response(
        {
            "date": day.isoformat(),
            "kind": kind,
            "expires_at": deps.reports.expires_at().isoformat(timespec="seconds"),
            "reports": [f.to_dict() for f in files],
        }
    )
