"""What the app expects of infra/resources.json, checked without AWS: queue names, the
functions' environment, and the partial-batch setting on Chalice's event source."""

from __future__ import annotations

from chalice.app import ScheduledEventConfig, SQSEventConfig

from app import app
from chalicelib import settings
from chalicelib.observability import METRICS_NAMESPACE_VAR
from chalicelib.settings import _REQUIRED, NOTIFY_TOPIC_VARS
from local.provision import Resolved, function_environment, load_template, resolve

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]


def queue_names() -> set[str]:
    return {
        r["Properties"]["QueueName"]
        for r in RESOURCES.values()
        if r.get("Type") == "AWS::SQS::Queue"
    }


def test_every_sqs_consumer_reads_a_queue_infra_defines():
    consumers = [s for s in app.event_sources if isinstance(s, SQSEventConfig)]
    assert consumers
    for source in consumers:
        assert source.queue in queue_names(), source.name


def test_every_consumer_reports_partial_batch_failures():
    for source in app.event_sources:
        if isinstance(source, SQSEventConfig):
            logical = "".join(part.capitalize() for part in source.name.split("_"))
            fragment = RESOURCES[logical]["Properties"]["Events"][f"{logical}SqsEventSource"]
            assert fragment["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_functions_get_every_setting_the_app_reads():
    """Every required variable, and otherwise only optional ones Settings reads."""
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    optional = {
        v for v in vars(settings).values() if isinstance(v, str) and v.startswith("ORDERHUB_")
    } | set(NOTIFY_TOPIC_VARS.values())
    optional.add(METRICS_NAMESPACE_VAR)  # Powertools' own, read by chalicelib/observability.py
    assert set(_REQUIRED.values()) <= set(variables) <= set(_REQUIRED.values()) | optional
    assert set(NOTIFY_TOPIC_VARS.values()) <= set(variables)


def test_globals_resolve_against_created_resources():
    done = {name: Resolved(f"ref-{name}", {"Arn": f"arn-{name}"}) for name in RESOURCES}
    env = function_environment(TEMPLATE, done, "us-east-1")
    assert env["ORDERHUB_ORDERS_TABLE"] == "ref-OrdersTable"


def test_sub_resolves_pseudo_parameters_and_attributes():
    done = {"Q": Resolved("url", {"Arn": "arn:q"})}
    value = {"Fn::Sub": "x-${AWS::AccountId}-${AWS::Region}-${Q}-${Q.Arn}"}
    assert resolve(value, done, "eu-west-1") == "x-123456789012-eu-west-1-url-arn:q"


def test_schedules_parse():
    from local.scheduler import Schedule

    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            expression = source.schedule_expression
            Schedule(expression if isinstance(expression, str) else expression.to_string())
