"""The packaged templates of two stages side by side, and an upgrade from the last release.

Packaged as `make package STAGE=...` does (tools/package.py): staging's and prod's physical
names share nothing, each name is `resource_name(stage, ...)`, each SQS consumer reads its own
stage's queue and each function's rights stop at its own stage's resources. The timeouts fit
(issue 17 item 5), the template can replace the last release's (infra/releases/), and the
egress VPC (fixed IPs for platforms' allow-lists) is optional, off by default, lint-clean
either way."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.platform_api import DEFAULT_TIMEOUT, MAX_CALLS_PER_FETCH
from chalicelib.adapters.tracking_clients import secret_name as tracking_secret
from chalicelib.domain.stores import secret_name as store_secret
from chalicelib.settings import (
    METRICS_NAMESPACE_VAR,
    metrics_namespace,
    resource_name,
    secret_name,
)
from local.provision import resolve
from tools.package import package
from tools.upgrade_check import upgrade_problems

ROOT = Path(__file__).resolve().parents[2]
STAGES = ("staging", "prod")
NAME_KEYS = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::KMS::Alias": "AliasName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Events::EventBus": "Name",
    "AWS::SecretsManager::Secret": "Name",
}
# the consumers of thin events: each record may fetch the order from its platform
THIN_EVENT_CONSUMERS = ("HandleOrderEvents", "HandleAmazonNotifications")


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    return {s: package(s, tmp_path_factory.mktemp(s) / "package") for s in STAGES}


def names(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> physical name, as CloudFormation resolves it for the Stage default."""
    stage = template["Parameters"]["Stage"]["Default"]
    found = {}
    for lid, res in template["Resources"].items():
        key = NAME_KEYS.get(res["Type"])
        if key and key in res["Properties"]:
            found[lid] = str(resolve(res["Properties"][key], {}, "us-east-1", stage))
    return found


def test_the_stages_share_no_physical_name(templates):
    staging, prod = names(templates["staging"]), names(templates["prod"])
    assert len(prod) >= 45 and staging.keys() == prod.keys()
    assert set(staging.values()).isdisjoint(prod.values())


@pytest.mark.parametrize("stage", STAGES)
def test_every_name_is_the_stages_by_the_one_naming_rule(templates, stage):
    for lid, name in names(templates[stage]).items():
        bare = name.removeprefix("alias/")
        assert bare in (resource_name(stage, bare), secret_name(stage, bare.split("/")[-1])), lid
        assert f"orderhub-{stage}-" in name or name.startswith(f"orderhub/{stage}/"), (lid, name)
    env = templates[stage]["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ORDERHUB_STAGE"] == {"Ref": "Stage"}
    assert env["ORDERHUB_NOTIFICATIONS_SECRET"] == {"Fn::Sub": "orderhub/${Stage}/notifications"}


def _queue_of(source: dict[str, Any]) -> str:
    """The logical id of the queue an SQS event source reads (its own template's)."""
    queue = source["Properties"]["Queue"]
    if set(queue) == {"Fn::GetAtt"}:
        return str(queue["Fn::GetAtt"][0])
    text = queue.get("Fn::Sub", "")
    assert text.startswith("${") and text.endswith(".Arn}"), f"a literal queue ARN: {queue}"
    return str(text[2:-5])


def _sqs_consumers(template: dict[str, Any]) -> dict[str, tuple[dict[str, Any], str]]:
    found = {}
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        for source in res["Properties"].get("Events", {}).values():
            if source["Type"] == "SQS":
                found[lid] = (source, _queue_of(source))
    return found


@pytest.mark.parametrize("stage", STAGES)
def test_each_consumer_reads_its_own_stages_queue(templates, stage):
    """The queue names in the Chalice decorators are stage-less (Chalice writes them as a
    literal ARN); infra/resources.json points each event source at its stage's queue."""
    from app import app  # the decorators

    consumers = _sqs_consumers(templates[stage])
    resources = templates[stage]["Resources"]
    assert set(consumers) >= {"HandleOrderEvents", "HandleAmazonNotifications", "HandleStockNudges"}
    by_queue = {s.queue: s.name for s in app.event_sources if hasattr(s, "queue")}
    for lid, (_, queue) in consumers.items():
        assert resources[queue]["Type"] == "AWS::SQS::Queue", lid
        physical = names(templates[stage])[queue]
        decorated = {resource_name(stage, str(q)): n for q, n in by_queue.items()}
        assert physical in decorated, (lid, physical)


@pytest.mark.parametrize("stage", STAGES)
def test_functions_rights_stop_at_their_stages_resources(templates, stage):
    for lid, res in templates[stage]["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        text = json.dumps(res["Properties"]["Policies"])
        assert "orderhub-*" not in text and "orderhub-audit" not in text, lid
        assert "orderhub-${Stage}-*" in text, lid


def _timeout(template: dict[str, Any], lid: str) -> int:
    props = template["Resources"][lid]["Properties"]
    return int(props.get("Timeout") or template["Globals"]["Function"].get("Timeout", 3))


def test_queue_visibility_is_six_times_its_consumers_timeout(templates):
    template = templates["prod"]
    consumers = _sqs_consumers(template)
    for lid, (_, queue) in consumers.items():
        visibility = template["Resources"][queue]["Properties"].get("VisibilityTimeout", 30)
        assert visibility >= 6 * _timeout(template, lid), (lid, queue, visibility)


def test_a_batch_of_thin_events_fits_in_the_timeout(templates):
    """Each record may fetch its order: up to MAX_CALLS_PER_FETCH calls of DEFAULT_TIMEOUT."""
    template = templates["prod"]
    consumers = _sqs_consumers(template)
    for lid in THIN_EVENT_CONSUMERS:
        source, _ = consumers[lid]
        batch = source["Properties"]["BatchSize"]
        needed = batch * MAX_CALLS_PER_FETCH * DEFAULT_TIMEOUT
        assert _timeout(template, lid) >= needed, (lid, _timeout(template, lid), needed)


def test_batches_above_ten_wait_a_window_on_a_standard_queue(templates):
    """Lambda refuses an SQS batch size above 10 without a batching window of at least 1 s,
    and a FIFO queue's mapping takes at most 10; the processor gathers 20 (docs/performance.md)."""
    template = templates["prod"]
    consumers = _sqs_consumers(template)
    assert consumers["HandleOrderEvents"][0]["Properties"]["BatchSize"] == 20
    for lid, (source, queue) in consumers.items():
        props = source["Properties"]
        if props["BatchSize"] > 10:
            assert props.get("MaximumBatchingWindowInSeconds", 0) >= 1, lid
            assert not template["Resources"][queue]["Properties"].get("FifoQueue"), lid


def _last_release() -> dict[str, Any]:
    newest = sorted((ROOT / "infra" / "releases").glob("*/sam.json"))[-1]  # by YYYY-MM-DD
    return dict(json.loads(newest.read_text(encoding="utf-8")))


def test_the_template_can_replace_the_last_releases(templates):
    assert upgrade_problems(_last_release(), templates["prod"]) == []


# the functions whose calls reach platforms (order details, stock pushes, pollers, statements,
# health probes): in the egress VPC when it is on
PLATFORM_CALLERS = {
    "HandleOrderEvents",
    "HandleAmazonNotifications",
    "PushStock",
    "HandleStockNudges",
    "RefreshListings",
    "PollTaobao",
    "PollPinduoduo",
    "PollJd",
    "PollAmazon",
    "PollPinduoduoAfterSales",
    "PollJdAfterSales",
    "CheckChannelHealth",
    "Reconcile",
}


def test_the_egress_vpc_is_optional_and_off_by_default(templates):
    template = templates["prod"]
    assert template["Parameters"]["EnableEgressVpc"]["Default"] == "false"
    condition = template["Conditions"]["WithEgressVpc"]
    assert condition == {"Fn::Equals": [{"Ref": "EnableEgressVpc"}, "true"]}
    resources = template["Resources"]
    ec2 = {lid for lid, r in resources.items() if r["Type"].startswith("AWS::EC2::")}
    assert {"EgressVpc", "EgressNatA", "EgressNatB", "EgressIpA", "EgressIpB"} <= ec2
    assert all(resources[lid].get("Condition") == "WithEgressVpc" for lid in ec2)
    assert template["Outputs"]["EgressIps"]["Condition"] == "WithEgressVpc"
    for lid in PLATFORM_CALLERS:
        vpc = resources[lid]["Properties"]["VpcConfig"]["Fn::If"]
        assert vpc[0] == "WithEgressVpc" and vpc[2] == {"Ref": "AWS::NoValue"}, lid
        assert vpc[1]["SubnetIds"] == [
            {"Ref": "EgressPrivateSubnetA"},
            {"Ref": "EgressPrivateSubnetB"},
        ]
        role = resources[f"{lid}Role"]["Properties"]["ManagedPolicyArns"]["Fn::If"]
        assert "AWSLambdaVPCAccessExecutionRole" in json.dumps(role[1]), lid
    # each private subnet leaves through its own zone's NAT, each NAT through its fixed IP
    for zone in "AB":
        route = resources[f"EgressPrivateRoute{zone}"]["Properties"]
        assert route["NatGatewayId"] == {"Ref": f"EgressNat{zone}"}
        nat = resources[f"EgressNat{zone}"]["Properties"]
        assert nat["AllocationId"] == {"Fn::GetAtt": [f"EgressIp{zone}", "AllocationId"]}
        assert resources[f"EgressIp{zone}"]["DeletionPolicy"] == "Retain"  # the IPs stay


@pytest.mark.parametrize("egress", ["false", "true"])
def test_cfn_lint_is_clean_with_the_egress_vpc_off_and_on(templates, tmp_path, egress):
    template = json.loads(json.dumps(templates["prod"]))
    template["Parameters"]["EnableEgressVpc"]["Default"] = egress
    path = tmp_path / "sam.json"
    path.write_text(json.dumps(template), encoding="utf-8")
    lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(lint), str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def _policy_texts(template: dict[str, Any]) -> list[str]:
    """Every OrderHub policy resource of the functions' roles, `${Stage}` written out."""
    stage = template["Parameters"]["Stage"]["Default"]
    found = []
    for res in template["Resources"].values():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for policy in res["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                listed = statement.get("Resource", [])
                for value in listed if isinstance(listed, list) else [listed]:
                    text = value.get("Fn::Sub", "") if isinstance(value, dict) else value
                    if isinstance(text, str) and "orderhub" in text.lower():
                        found.append(text.replace("${Stage}", stage))
    return found


def _secrets_read(template: dict[str, Any]) -> set[str]:
    """Every secret the stage's functions read: the template's (blind index, notifications)
    and the ones named by rule (a new store's, the tracking providers')."""
    stage = template["Parameters"]["Stage"]["Default"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    named = {
        str(resolve(env["ORDERHUB_NOTIFICATIONS_SECRET"], {}, "us-east-1", stage)),
        store_secret("shopify", "acme", stage),
        tracking_secret("kuaidi100", stage),
        tracking_secret("aftership", stage),
    }
    assert env["ORDERHUB_BLIND_INDEX_SECRET"] == {"Ref": "BlindIndexSecret"}
    for lid in names(template):
        if template["Resources"][lid]["Type"] == "AWS::SecretsManager::Secret":
            named.add(names(template)[lid])
    return named


@pytest.mark.parametrize("stage", STAGES)
def test_the_functions_read_only_their_stages_secrets(templates, stage):
    texts = _policy_texts(templates[stage])
    secret_rights = [t for t in texts if ":secret:" in t]
    assert secret_rights == [f"arn:*:secretsmanager:*:*:secret:orderhub/{stage}/*"] * len(
        secret_rights
    )
    assert secret_rights, "no secrets statement"
    for name in _secrets_read(templates[stage]):
        assert name.startswith(f"orderhub/{stage}/"), name
        arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbC123"
        assert any(fnmatchcase(arn, right) for right in secret_rights), name


def test_the_stages_policies_and_secrets_share_nothing(templates):
    staging, prod = templates["staging"], templates["prod"]
    assert set(_policy_texts(staging)).isdisjoint(_policy_texts(prod))
    assert _secrets_read(staging).isdisjoint(_secrets_read(prod))
    for right in _policy_texts(prod):  # staging's names are outside every prod right
        for name in _secrets_read(staging):
            arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbC123"
            assert not fnmatchcase(arn, right), (name, right)


SEARCH_NAMESPACE = re.compile(r"""SEARCH\('\{"([^"]+)",""")  # a dashboard search's namespace


def _namespace(template: dict[str, Any]) -> str:
    """The namespace the stage's functions emit their metrics in (infra Globals)."""
    stage = template["Parameters"]["Stage"]["Default"]
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    return str(resolve(env[METRICS_NAMESPACE_VAR], {}, "us-east-1", stage))


@pytest.mark.parametrize("stage", STAGES)
def test_each_alarm_watches_its_stages_metrics_namespace(templates, stage):
    template = templates[stage]
    assert _namespace(template) == metrics_namespace(stage) == f"OrderHub-{stage}"
    resources = template["Resources"]
    for lid, res in resources.items():  # no function emits elsewhere
        if res["Type"] == "AWS::Serverless::Function":
            own = res["Properties"].get("Environment", {}).get("Variables", {})
            assert METRICS_NAMESPACE_VAR not in own, lid
    watched = [
        (lid, str(resolve(res["Properties"]["Namespace"], {}, "us-east-1", stage)))
        for lid, res in resources.items()
        if res["Type"] == "AWS::CloudWatch::Alarm" and "Namespace" in res["Properties"]
    ]
    ours = [(lid, ns) for lid, ns in watched if not ns.startswith("AWS/")]
    assert len(ours) >= 12
    assert all(ns == _namespace(template) for _, ns in ours), ours
    body = next(
        r["Properties"]["DashboardBody"]["Fn::Sub"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Dashboard"
    )
    shown = []  # the namespace of each of the dashboard's metrics and searches
    for widget in json.loads(body.replace("${Stage}", stage))["widgets"]:
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], str) and row[0] not in (".", "..."):
                shown.append(row[0])
            elif isinstance(row[0], dict):
                found = SEARCH_NAMESPACE.match(row[0]["expression"])
                shown.append(found[1] if found else row[0]["expression"])
    ours = [ns for ns in shown if not ns.startswith("AWS/")]
    assert len(ours) >= 6 and set(ours) == {_namespace(template)}, shown


def test_the_stages_metrics_namespaces_differ(templates):
    assert _namespace(templates["staging"]) != _namespace(templates["prod"])
