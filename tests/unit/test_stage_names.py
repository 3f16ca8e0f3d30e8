"""One naming rule for a stage's resources (chalicelib/settings.py), and the alarm relay reading
its stage's alarm names (`orderhub-prod-...`) as the stage-less ones its tables know."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain.alarms import (
    AlarmChange,
    alarm_notice,
    banner_alarm,
    link_for_alarm,
    stageless,
)
from chalicelib.settings import _REQUIRED as REQUIRED
from chalicelib.settings import Settings, resource_name, secret_name
from local.provision import load_template


@pytest.mark.parametrize(
    ("stage", "name", "expected"),
    [
        ("prod", "order-events", "orderhub-prod-order-events"),
        ("prod", "orderhub-order-events", "orderhub-prod-order-events"),  # the docs' name
        ("prod", "orderhub-prod-order-events", "orderhub-prod-order-events"),  # already staged
        ("staging", "orderhub-inventory-tap", "orderhub-staging-inventory-tap"),
        ("", "orderhub-orders", "orderhub-orders"),  # no stage: the stage-less name
        ("", "orders", "orderhub-orders"),
    ],
)
def test_resource_name(stage, name, expected):
    assert resource_name(stage, name) == expected


def test_secret_name():
    assert secret_name("prod", "notifications") == "orderhub/prod/notifications"
    assert secret_name("", "notifications") == "orderhub/notifications"


def test_the_template_loads_with_a_stages_names():
    for stage, prefix in (("dev", "orderhub-dev-"), ("", "orderhub-")):
        resources = load_template(stage=stage)["Resources"]
        assert resources["OrdersTable"]["Properties"]["TableName"] == f"{prefix}orders"
        queue = resources["OrderEventsQueue"]["Properties"]["QueueName"]
        assert queue == resource_name(stage, "order-events")
        alias = resources["PiiKeyAlias"]["Properties"]["AliasName"]
        assert alias == f"alias/{prefix}pii"
        secret = resources["BlindIndexSecret"]["Properties"]["Name"]
        assert secret == secret_name(stage, "blind-index")
    bucket = load_template(stage="dev")["Resources"]["RawPayloadBucket"]["Properties"]
    assert bucket["BucketName"] == {
        "Fn::Sub": "orderhub-dev-raw-payloads-${AWS::AccountId}-${AWS::Region}"
    }


def _change(name: str, stage: str) -> AlarmChange:
    at = datetime(2026, 11, 11, tzinfo=UTC)
    return AlarmChange(name, "", "ALARM", "OK", "", at, "ap-east-1", stage=stage)


def test_the_relay_knows_its_stages_alarms_by_their_stageless_names():
    assert stageless("orderhub-prod-oversell-rate-above-0", "prod") == (
        "orderhub-oversell-rate-above-0"
    )
    assert stageless("orderhub-oversell-rate-above-0", "") == "orderhub-oversell-rate-above-0"
    # another stage's alarm stays as it is (the relay is subscribed to its own topics only)
    assert stageless("orderhub-staging-processor-errors", "prod") == (
        "orderhub-staging-processor-errors"
    )
    staged = _change("orderhub-prod-oversell-rate-above-0", "prod")
    assert link_for_alarm(staged, "https://api.example") == (
        "https://api.example/console#/anomalies"
    )
    assert banner_alarm("orderhub-prod-oversell-rate-above-0", "prod")
    assert not banner_alarm("orderhub-prod-oversell-rate-above-0", "")
    notice = alarm_notice(staged, "alarm", "P0", "https://api.example")
    assert "target" in notice.facts and notice.facts["alarm"] == staged.name


def test_infrastructure_alarms_link_to_their_stages_dashboard():
    link = link_for_alarm(_change("orderhub-prod-processor-errors", "prod"), "https://api")
    assert link.endswith("#dashboards/dashboard/orderhub-prod-operations")
    local = link_for_alarm(_change("orderhub-processor-errors", ""), "https://api")
    assert local.endswith("#dashboards/dashboard/orderhub-operations")


def test_settings_read_the_stage():
    env = {var: "x" for var in (*REQUIRED.values(), "AWS_REGION")}
    assert Settings.from_env(env).stage == ""
    assert Settings.from_env({**env, "ORDERHUB_STAGE": "prod"}).stage == "prod"
