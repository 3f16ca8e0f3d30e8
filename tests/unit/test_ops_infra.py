"""The alarms, the dashboard and the ops-stats resources in infra/resources.json, checked as
configuration (moto stores alarms but never evaluates them): thresholds from the issue's
targets, the statistics and missing-data choices, every watched metric emitted by the code,
and a dashboard that shows them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chalice.app import ScheduledEventConfig

from app import app
from chalicelib.domain.kpis import TARGETS
from local.provision import Resolved, load_template, resolve

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
ALARMS = {
    r["Properties"]["AlarmName"]: r["Properties"]
    for r in RESOURCES.values()
    if r.get("Type") == "AWS::CloudWatch::Alarm"
}
SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "chalicelib").rglob("*.py"))


def dashboard() -> dict:
    props = RESOURCES["OpsDashboard"]["Properties"]
    done = {name: Resolved(name) for name in RESOURCES}
    return dict(json.loads(resolve(props["DashboardBody"], done, "us-east-1")))


def test_each_target_has_its_alarm_with_the_targets_threshold():
    latency = ALARMS["orderhub-sync-latency-p50-over-60s"]
    assert latency["ExtendedStatistic"] == "p50" and "Statistic" not in latency
    assert latency["Threshold"] == TARGETS["sync_latency_p50_seconds"]
    assert latency["MetricName"] == "WebhookToBookedSeconds"
    assert latency["EvaluationPeriods"] == latency["DatapointsToAlarm"] == 3
    assert ALARMS["orderhub-oversell-rate-above-0"]["Threshold"] == TARGETS["oversell_rate_pct"]
    assert ALARMS["orderhub-anomaly-ratio-over-3-pct"]["Threshold"] == TARGETS["anomaly_ratio_pct"]
    chase = ALARMS["orderhub-customer-chase-rate-over-1.5-pct"]
    assert chase["Threshold"] == TARGETS["customer_chase_rate_pct"]
    assert ALARMS["orderhub-oversold-stock-items"]["Threshold"] == 0
    for name in (
        "orderhub-oversell-rate-above-0",
        "orderhub-anomaly-ratio-over-3-pct",
        "orderhub-customer-chase-rate-over-1.5-pct",
        "orderhub-oversold-stock-items",
    ):
        assert ALARMS[name]["Period"] == 86400 and ALARMS[name]["EvaluationPeriods"] == 1, name


def test_missing_data_is_treated_deliberately():
    treat = {name: a["TreatMissingData"] for name, a in ALARMS.items()}
    assert treat["orderhub-sync-latency-p50-over-60s"] == "notBreaching"  # no orders, no lag
    assert treat["orderhub-anomaly-ratio-over-3-pct"] == "notBreaching"  # no orders, no rate
    assert treat["orderhub-customer-chase-rate-over-1.5-pct"] == "notBreaching"  # no orders
    assert treat["orderhub-channel-health-failing"] == "breaching"  # the checks stopped
    assert all(t in ("notBreaching", "breaching", "missing", "ignore") for t in treat.values())


def test_every_orderhub_metric_an_alarm_watches_is_emitted_by_the_code():
    for name, alarm in ALARMS.items():
        if alarm.get("Namespace") == "OrderHub":
            metric = alarm["MetricName"]
            assert re.search(rf"[\"']{metric}[\"']", SOURCE), (name, metric)
            assert alarm["Dimensions"] == [{"Name": "service", "Value": "orderhub"}], name


def test_the_dashboard_shows_every_alarm_and_the_key_metrics():
    body = dashboard()
    alarm_widget = next(w for w in body["widgets"] if w["type"] == "alarm")
    shown = {arn.rsplit(":alarm:", 1)[1] for arn in alarm_widget["properties"]["alarms"]}
    assert shown == set(ALARMS)
    text = json.dumps(body)
    for metric in (
        "WebhookToBookedSeconds",
        "OversellRate",
        "AnomalyRatio",
        "CustomerChaseRate",
        "OversoldStockItems",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "orderhub-order-events-dlq",
        '"Errors"',
        '"Throttles"',
        "ChannelHealthFailures",
        "ChannelHealthLatencyMs",
    ):
        assert metric in text, metric
    for widget in body["widgets"]:
        if widget["type"] == "metric":
            assert widget["properties"]["region"] == "us-east-1"
            assert widget["x"] + widget["width"] <= 24


def test_ops_stats_table_and_the_anomaly_index_the_kpis_read():
    table = RESOURCES["OpsStatsTable"]["Properties"]
    assert table["TableName"] == "orderhub-ops-stats"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ORDERHUB_OPS_STATS_TABLE"] == {"Ref": "OpsStatsTable"}
    anomalies = RESOURCES["AnomaliesTable"]["Properties"]
    index = next(i for i in anomalies["GlobalSecondaryIndexes"] if i["IndexName"] == "rule_opened")
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["rule", "opened_at"]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}


def test_schedules_and_timeouts():
    schedules = {
        s.name: (s.schedule_expression if isinstance(s.schedule_expression, str) else "")
        for s in app.event_sources
        if isinstance(s, ScheduledEventConfig)
    }
    assert schedules["check_channel_health"] == "rate(5 minutes)"
    assert schedules["channel_health_summary"] == "cron(10 0 * * ? *)"
    assert schedules["publish_daily_kpis"] == "cron(20 16 * * ? *)"  # 00:20 Beijing
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())["lambda_functions"]
    assert config["check_channel_health"]["lambda_timeout"] >= 60


def test_the_operations_page_says_what_each_alarm_means():
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    section = page.split("## What each alarm means", 1)[1].split("\n## ", 1)[0]
    for name in ALARMS:
        assert f"`{name}`" in section, name
