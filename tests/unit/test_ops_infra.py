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
from chalicelib.domain.metric_table import BY_NAME, METRIC_TABLE
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


def test_the_runbook_has_one_line_per_alarm_with_its_priority():
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    runbook = page.split("## What each alarm means", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in runbook.splitlines() if line.startswith("| `orderhub-")]
    named = {row.split("`")[1]: row for row in rows}
    assert set(named) == set(ALARMS) and len(rows) == len(ALARMS)
    for name, row in named.items():
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == PRIORITY_OF[name], name
        assert all(cells[2:5]), (name, "meaning, what to check and how to clear it")


TOPIC_PRIORITY = {"AlertsP0Topic": "P0", "AlertsP1Topic": "P1", "AlertsP2Topic": "P2"}
PRIORITY_OF = {
    name: TOPIC_PRIORITY[alarm["AlarmActions"][0]["Ref"]]
    for name, alarm in ALARMS.items()
    if alarm.get("AlarmActions")
}


def test_every_alarm_acts_on_its_priority_topic_for_alarm_and_ok():
    for name, alarm in ALARMS.items():
        assert alarm.get("AlarmActions") and alarm.get("OKActions"), name
        assert alarm["AlarmActions"] == alarm["OKActions"], name
        assert len(alarm["AlarmActions"]) == 1, name
        assert alarm["AlarmActions"][0]["Ref"] in TOPIC_PRIORITY, name


def test_the_metric_table_is_what_the_alarms_do():
    for row in METRIC_TABLE:
        alarm = ALARMS[row.alarm]
        assert alarm["MetricName"] == row.metric, row.name
        assert alarm["Threshold"] == row.threshold, row.name
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", row.name
        assert PRIORITY_OF[row.alarm] == row.priority, row.name
    assert BY_NAME["sync_latency"].via == ("wecom", "email")
    assert BY_NAME["oversell_rate"].via == ("sms",) and BY_NAME["oversell_rate"].banner
    assert PRIORITY_OF["orderhub-oversell-rate-above-0"] == "P0"  # P0: by SMS by default


def test_the_new_alarms_watch_metrics_the_code_emits():
    expected = {
        "orderhub-stock-pushes-pending-over-10-min": "StockPushSkusPending",
        "orderhub-notification-failures": "NotificationFailures",
        "orderhub-clock-skew-events": "ClockSkewEvents",
        "orderhub-audit-write-failures": "AuditWriteFailures",
        "orderhub-events-pending-over-5-min": "EventsPendingTooLong",
    }
    for name, metric in expected.items():
        assert ALARMS[name]["MetricName"] == metric
    pending = ALARMS["orderhub-stock-pushes-pending-over-10-min"]
    assert pending["Statistic"] == "Minimum"  # pending after every run, not once
    assert pending["EvaluationPeriods"] == pending["DatapointsToAlarm"] == 10


def test_the_relay_is_subscribed_to_every_alerts_topic_and_may_be_invoked_by_it():
    subscriptions = {
        r["Properties"]["TopicArn"]["Ref"]: r["Properties"]
        for r in RESOURCES.values()
        if r.get("Type") == "AWS::SNS::Subscription"
    }
    permissions = {
        r["Properties"]["SourceArn"]["Ref"]: r["Properties"]
        for r in RESOURCES.values()
        if r.get("Type") == "AWS::Lambda::Permission"
    }
    for topic in TOPIC_PRIORITY:
        assert subscriptions[topic]["Protocol"] == "lambda"
        assert subscriptions[topic]["Endpoint"] == {"Fn::GetAtt": ["RelayAlarms", "Arn"]}
        assert permissions[topic]["Principal"] == "sns.amazonaws.com"
        assert permissions[topic]["FunctionName"] == {"Fn::GetAtt": ["RelayAlarms", "Arn"]}
    assert "relay_alarms" in app.handler_map


def test_link_base_url_is_the_apis_own_url_except_in_the_api_function():
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ORDERHUB_LINK_BASE_URL"] == {
        "Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"
    }
    # the API function cannot reference its own REST API (a dependency cycle): it takes the
    # URL a request came in on (chalicelib/api/http.py own_base_url)
    api_env = RESOURCES["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert api_env["ORDERHUB_LINK_BASE_URL"] == ""
