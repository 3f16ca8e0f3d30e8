"""What `make package` deploys: Chalice's SAM template merged with infra/resources.json
(tools/package.py, as the Makefile runs it, for the prod stage), read as CloudFormation
would get it. Every alarm must tell someone (both actions, to an alerts topic) and every
alerts topic must reach someone (a subscriber that exists in the template), else in AWS
nobody hears about an alarm."""

from __future__ import annotations

from typing import Any

import pytest

from tools.package import package

ALERT_TOPICS = ("AlertsP0Topic", "AlertsP1Topic", "AlertsP2Topic")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return package("prod", tmp_path_factory.mktemp("package") / "package")


def _refs(value: Any) -> set[str]:
    """Every resource a value points at through Ref or Fn::GetAtt."""
    if isinstance(value, list):
        return set().union(*(_refs(v) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if set(value) == {"Ref"}:
        return {value["Ref"]}
    if set(value) == {"Fn::GetAtt"}:
        return {value["Fn::GetAtt"][0]}
    return set().union(*(_refs(v) for v in value.values())) if value else set()


def test_every_alarm_has_alarm_and_ok_actions_to_an_alerts_topic(template):
    resources = template["Resources"]
    alarms = {
        n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert len(alarms) >= 18
    for name, alarm in alarms.items():
        for key in ("AlarmActions", "OKActions"):
            targets = _refs(alarm.get(key, []))
            assert targets, (name, key)
            assert targets <= set(ALERT_TOPICS), (name, key, targets)


def test_every_alerts_topic_has_a_subscriber_that_exists_and_may_invoke(template):
    resources = template["Resources"]
    subscribed: dict[str, set[str]] = {}
    for res in resources.values():
        if res["Type"] == "AWS::SNS::Subscription":
            props = res["Properties"]
            for topic in _refs(props["TopicArn"]):
                subscribed.setdefault(topic, set()).update(_refs(props["Endpoint"]))
    permitted = {
        (topic, function)
        for res in resources.values()
        if res["Type"] == "AWS::Lambda::Permission"
        and res["Properties"]["Principal"] == "sns.amazonaws.com"
        for topic in _refs(res["Properties"]["SourceArn"])
        for function in _refs(res["Properties"]["FunctionName"])
    }
    for topic in ALERT_TOPICS:
        assert subscribed.get(topic), f"{topic} has no subscriber"
        for function in subscribed[topic]:
            relay = resources[function]
            assert relay["Type"] == "AWS::Serverless::Function"
            assert relay["Properties"]["Handler"] == "chalicelib.api.alarm_relay.relay_alarms"
            assert (topic, function) in permitted, (topic, function)


def test_functions_get_the_apis_own_url_for_links_and_the_api_takes_its_requests(template):
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert _refs(globals_env["ORDERHUB_LINK_BASE_URL"]) == set()  # a Sub, checked by text
    assert "${RestAPI}.execute-api" in globals_env["ORDERHUB_LINK_BASE_URL"]["Fn::Sub"]
    resources = template["Resources"]
    assert (
        resources["APIHandler"]["Properties"]["Environment"]["Variables"]["ORDERHUB_LINK_BASE_URL"]
        == ""
    )
    for name, res in resources.items():
        if res["Type"] == "AWS::Serverless::Function" and name != "APIHandler":
            own = res["Properties"].get("Environment", {}).get("Variables", {})
            assert "ORDERHUB_LINK_BASE_URL" not in own, name  # the global applies
