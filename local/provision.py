"""Create infra/resources.json's resources on the emulator, so local and AWS cannot drift.

moto's CloudFormation cannot deploy a Chalice/SAM template, so this module reads the same
CloudFormation file AWS deploys and calls the matching create APIs for each resource type it
knows. A type it does not know is an error, not a silent skip: add it here when infra/ gains one.
Resources without a `Type` are fragments merged into Chalice's own resources (functions, event
source mappings); Lambda does not exist locally, the stack's worker and scheduler stand in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.settings import (
    APP_NAME,
    METRICS_NAMESPACE,
    metrics_namespace,
    resource_name,
    secret_name,
)

ACCOUNT_ID = "123456789012"  # moto's default account
TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "resources.json"


# how infra/resources.json writes a stage's names (tools/package.py sets `Stage` in AWS)
_STAGED, _STAGED_SECRET = f"{APP_NAME}-${{Stage}}-", f"{APP_NAME}/${{Stage}}/"
_STAGED_NAMESPACE = f"{METRICS_NAMESPACE}-${{Stage}}"  # metrics: `metrics_namespace(stage)`


class UnsupportedResource(RuntimeError):
    pass


@dataclass
class Resolved:
    """What `Ref` and `Fn::GetAtt` give for one created resource."""

    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


def load_template(path: Path = TEMPLATE_PATH, stage: str = "") -> dict[str, Any]:
    """The template with the names of `stage` written out: `{"Fn::Sub": "orderhub-${Stage}-x"}`
    becomes `resource_name(stage, "x")` (the stage-less `orderhub-x` for the default ""), so
    local names, and the checks that read the template, are plain strings."""
    with open(path, encoding="utf-8") as fh:
        template: dict[str, Any] = _with_stage(json.load(fh), stage)
        return template


def _with_stage(value: Any, stage: str) -> Any:
    if isinstance(value, list):
        return [_with_stage(v, stage) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        text = value["Fn::Sub"].replace(_STAGED, resource_name(stage, ""))
        text = text.replace(_STAGED_SECRET, secret_name(stage, ""))
        text = text.replace(_STAGED_NAMESPACE, metrics_namespace(stage))
        return text if "${" not in text else {"Fn::Sub": text}
    return {k: _with_stage(v, stage) for k, v in value.items()}


class _Unresolved(Exception):
    """A value refers to a resource not created yet."""


def resolve(value: Any, done: Mapping[str, Resolved], region: str, stage: str = "") -> Any:
    """Evaluate Ref, Fn::GetAtt and Fn::Sub against created resources, pseudo parameters and
    the `Stage` parameter. Names written `orderhub-${Stage}-x` become `resource_name(stage, x)`
    (chalicelib/settings.py): `orderhub-dev-x` for stage dev, the stage-less `orderhub-x` for
    the default local stage ""; `orderhub/${Stage}/x` likewise `secret_name(stage, x)`."""
    pseudo = {
        "Stage": stage,
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": "orderhub-local",
        "AWS::URLSuffix": "amazonaws.com",
    }
    if isinstance(value, list):
        return [resolve(v, done, region, stage) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        name = value["Ref"]
        if name in pseudo:
            return pseudo[name]
        if name not in done:
            raise _Unresolved(name)
        return done[name].ref
    if set(value) == {"Fn::GetAtt"}:
        name, attr = value["Fn::GetAtt"]
        if name not in done:
            raise _Unresolved(name)
        return done[name].attrs[attr]
    if set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"].replace(_STAGED, resource_name(stage, ""))
        text = text.replace(_STAGED_SECRET, secret_name(stage, ""))
        text = text.replace(_STAGED_NAMESPACE, metrics_namespace(stage))

        def substitute(match: re.Match[str]) -> str:
            token = match.group(1)
            if token in pseudo:
                return pseudo[token]
            name, _, attr = token.partition(".")
            if name not in done:
                raise _Unresolved(name)
            return done[name].attrs[attr] if attr else done[name].ref

        return re.sub(r"\$\{([^}]+)\}", substitute, text)
    return {k: resolve(v, done, region, stage) for k, v in value.items()}


def _table(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    ddb = clients("dynamodb")
    args: dict[str, Any] = {
        "TableName": props["TableName"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for key in (
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
        "StreamSpecification",
        "ProvisionedThroughput",
    ):
        if key in props:
            args[key] = props[key]
    description = ddb.create_table(**args)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)
    pitr = props.get("PointInTimeRecoverySpecification")
    if pitr:
        ddb.update_continuous_backups(
            TableName=props["TableName"], PointInTimeRecoverySpecification=pitr
        )
    attrs = {"Arn": description["TableArn"]}
    if "LatestStreamArn" in description:
        attrs["StreamArn"] = description["LatestStreamArn"]
    return Resolved(props["TableName"], attrs)


_QUEUE_ATTRIBUTES = (
    "VisibilityTimeout",
    "MessageRetentionPeriod",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "MaximumMessageSize",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def _queue(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    sqs = clients("sqs")
    attributes = {
        k: str(props[k]).lower() if isinstance(props[k], bool) else str(props[k])
        for k in _QUEUE_ATTRIBUTES
        if k in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
    arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{props['QueueName']}"
    return Resolved(url, {"Arn": arn, "QueueName": props["QueueName"], "QueueUrl": url})


def _queue_policy(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """Set the policy on each queue (`Queues` are URLs, as `Ref` gives them). moto stores it
    and does not enforce it: locally anyone may send, in AWS only the policy's principals."""
    sqs = clients("sqs")
    policy = json.dumps(props["PolicyDocument"])
    for url in props["Queues"]:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    return Resolved(str(props["PolicyDocument"].get("Id", "queue-policy")))


def _bucket(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    s3 = clients("s3")
    name = props["BucketName"]
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    if "BucketEncryption" in props:
        # CloudFormation says ServerSideEncryptionByDefault where the API says Apply...
        rules = [
            {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
            for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "LifecycleConfiguration" in props:
        rules = []
        for r in props["LifecycleConfiguration"]["Rules"]:
            rule: dict[str, Any] = {
                "ID": r["Id"],
                "Status": r["Status"],
                "Filter": {"Prefix": r.get("Prefix", "")},
            }
            if "ExpirationInDays" in r:
                rule["Expiration"] = {"Days": r["ExpirationInDays"]}
            if "AbortIncompleteMultipartUpload" in r:
                rule["AbortIncompleteMultipartUpload"] = r["AbortIncompleteMultipartUpload"]
            rules.append(rule)
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    return Resolved(name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"})


def _event_bus(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    name = props["Name"]
    arn = clients("events").create_event_bus(Name=name)["EventBusArn"]
    return Resolved(name, {"Arn": arn, "Name": name})


_ALARM_FIELDS = (
    "AlarmName",
    "AlarmDescription",
    "Namespace",
    "MetricName",
    "Dimensions",
    "Statistic",
    "ExtendedStatistic",
    "Period",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "AlarmActions",
    "OKActions",
)


def _alarm(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """Stored, never evaluated (moto): tests check the definition and use set_alarm_state."""
    args = {k: props[k] for k in _ALARM_FIELDS if k in props}
    clients("cloudwatch").put_metric_alarm(**args)
    name = props["AlarmName"]
    return Resolved(name, {"Arn": f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{name}"})


def _dashboard(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """Stored by moto (nothing renders it locally): the parity test reads it back."""
    name = props["DashboardName"]
    clients("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=props["DashboardBody"])
    return Resolved(name, {})


def _topic(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """`Ref` of a topic is its ARN. Subscriptions are the consumers' (locally: notify_local)."""
    attributes = {k: str(props[k]) for k in ("DisplayName", "KmsMasterKeyId") if k in props}
    arn = clients("sns").create_topic(Name=props["TopicName"], Attributes=attributes)["TopicArn"]
    return Resolved(arn, {"TopicArn": arn, "TopicName": props["TopicName"]})


def _kms_key(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """A symmetric key with its policy and rotation. moto stores the policy (it does not
    evaluate it) and honours encryption contexts on GenerateDataKey/Decrypt."""
    kms = clients("kms")
    args: dict[str, Any] = {
        "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
        "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
    }
    if "Description" in props:
        args["Description"] = props["Description"]
    if "KeyPolicy" in props:
        args["Policy"] = json.dumps(props["KeyPolicy"])
    meta = kms.create_key(**args)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=meta["KeyId"])
    if props.get("Enabled") is False:
        kms.disable_key(KeyId=meta["KeyId"])
    return Resolved(meta["KeyId"], {"Arn": meta["Arn"], "KeyId": meta["KeyId"]})


def _kms_alias(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    clients("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return Resolved(props["AliasName"])


LAMBDA_QUEUE_PREFIX = "local-lambda-"
LAMBDA_QUEUE_VISIBILITY = 5  # seconds before a failed invocation is retried locally


def _subscription(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """A topic subscription. moto hands `lambda` subscriptions to its own Lambda backend
    (functions in Docker), so locally a `lambda` subscription of one of our functions becomes
    an SQS queue `local-lambda-<Function>-<topic>` subscribed to the topic, which the stack's
    worker reads and turns into the SNS event Lambda would get (local/worker.py,
    `SnsLambdaPoller`). Other protocols are subscribed as written."""
    sns = clients("sns")
    topic_arn, protocol, endpoint = props["TopicArn"], props["Protocol"], props["Endpoint"]
    if protocol != "lambda":
        arn = sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
        return Resolved(arn["SubscriptionArn"])
    function = endpoint.rsplit(":", 1)[-1]
    queue = f"{LAMBDA_QUEUE_PREFIX}{function}-{topic_arn.rsplit(':', 1)[-1]}"[:80]
    sqs = clients("sqs")
    url = sqs.create_queue(
        QueueName=queue, Attributes={"VisibilityTimeout": str(LAMBDA_QUEUE_VISIBILITY)}
    )["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{queue}"
    arn = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    attrs = {"Function": function, "QueueUrl": url, "QueueArn": queue_arn, "TopicArn": topic_arn}
    return Resolved(arn, attrs)


def _lambda_permission(
    clients: Callable[[str], Any], props: dict[str, Any], region: str
) -> Resolved:
    """Who may invoke a function: nothing to create locally (the worker invokes it)."""
    return Resolved(f"{props['FunctionName']}-{props['Principal']}")


def _secret(clients: Callable[[str], Any], props: dict[str, Any], region: str) -> Resolved:
    """A secret; `GenerateSecretString` is generated here as Secrets Manager would (a random
    string of the asked length under `GenerateStringKey` in the template's JSON)."""
    value = props.get("SecretString")
    generate = props.get("GenerateSecretString")
    if value is None and generate:
        import secrets as random_source

        length = int(generate.get("PasswordLength", 32))
        text = random_source.token_hex(length)[:length]
        template = json.loads(generate.get("SecretStringTemplate", "{}"))
        template[generate["GenerateStringKey"]] = text
        value = json.dumps(template)
    args: dict[str, Any] = {"Name": props["Name"], "SecretString": value or "{}"}
    if "Description" in props:
        args["Description"] = props["Description"]
    arn = clients("secretsmanager").create_secret(**args)["ARN"]
    return Resolved(arn, {"Id": arn})


CREATORS: dict[str, Callable[[Callable[[str], Any], dict[str, Any], str], Resolved]] = {
    "AWS::DynamoDB::Table": _table,
    "AWS::SQS::Queue": _queue,
    "AWS::SQS::QueuePolicy": _queue_policy,
    "AWS::S3::Bucket": _bucket,
    "AWS::Events::EventBus": _event_bus,
    "AWS::CloudWatch::Alarm": _alarm,
    "AWS::CloudWatch::Dashboard": _dashboard,
    "AWS::SNS::Topic": _topic,
    "AWS::SNS::Subscription": _subscription,
    "AWS::Lambda::Permission": _lambda_permission,
    "AWS::KMS::Key": _kms_key,
    "AWS::KMS::Alias": _kms_alias,
    "AWS::SecretsManager::Secret": _secret,
}


def tap_event_buses(
    template: Mapping[str, Any], clients: Callable[[str], Any], region: str, stage: str = ""
) -> dict[str, str]:
    """Local only: a rule on each custom bus copying every event to a queue `<bus>-tap`, so
    a developer or a test can see what was published (moto delivers rules' SQS targets).
    Nothing like it is deployed; in AWS, consumers add their own rules. Returns bus -> URL."""
    sqs, events = clients("sqs"), clients("events")
    taps = {}
    for res in template.get("Resources", {}).values():
        if res.get("Type") != "AWS::Events::EventBus":
            continue
        bus = resolve(res["Properties"]["Name"], {}, region, stage)
        queue = f"{bus}-tap"
        url = sqs.create_queue(QueueName=queue)["QueueUrl"]
        events.put_rule(
            Name=queue,
            EventBusName=bus,
            EventPattern=json.dumps({"account": [ACCOUNT_ID]}),
            State="ENABLED",
        )
        events.put_targets(
            Rule=queue,
            EventBusName=bus,
            Targets=[{"Id": "tap", "Arn": f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{queue}"}],
        )
        taps[bus] = url
    return taps


# API Gateway's own answers have no emulator resource: local/api_server.py serves them from the
# same definitions
SERVED_BY_LOCAL_API = frozenset({"AWS::ApiGateway::GatewayResponse"})


def condition_holds(template: Mapping[str, Any], name: str | None) -> bool:
    """Whether a resource's `Condition` holds with the parameters' defaults (the local stack
    passes none): `Fn::Equals` of `Ref`s and literals, as infra/resources.json writes them (the
    egress VPC, off by default, is not created locally)."""
    if name is None:
        return True
    defaults = {k: p.get("Default") for k, p in template.get("Parameters", {}).items()}

    def value(v: Any) -> Any:
        return defaults[v["Ref"]] if isinstance(v, dict) and set(v) == {"Ref"} else v

    expression = template["Conditions"][name]
    if set(expression) != {"Fn::Equals"}:
        raise UnsupportedResource(f"condition {name}: only Fn::Equals is evaluated locally")
    left, right = expression["Fn::Equals"]
    return bool(value(left) == value(right))


def provision(
    template: Mapping[str, Any], clients: Callable[[str], Any], region: str, stage: str = ""
) -> dict[str, Resolved]:
    """Create every typed resource, in dependency order; return what each resolves to."""
    pending = {
        name: res
        for name, res in template.get("Resources", {}).items()
        if "Type" in res
        and res["Type"] not in SERVED_BY_LOCAL_API
        and condition_holds(template, res.get("Condition"))
    }
    for name, res in pending.items():
        if res["Type"] not in CREATORS:
            raise UnsupportedResource(
                f"{name}: {res['Type']} has no local provisioning; add it to local/provision.py"
            )
    # Fragments of Chalice's own resources (functions) do not exist locally; a reference to
    # one (an alarm on a function's errors) resolves to its logical name, its Arn to a
    # function ARN ending in that name (a subscription's endpoint).
    done: dict[str, Resolved] = {
        name: Resolved(name, {"Arn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"})
        for name, res in template.get("Resources", {}).items()
        if "Type" not in res
    }
    while pending:
        progressed = False
        for name in list(pending):
            res = pending[name]
            try:
                props = resolve(res.get("Properties", {}), done, region, stage)
            except _Unresolved:
                continue
            done[name] = CREATORS[res["Type"]](clients, props, region)
            del pending[name]
            progressed = True
        if not progressed:
            raise UnsupportedResource(
                "circular or dangling references among: " + ", ".join(pending)
            )
    return {name: r for name, r in done.items() if "Type" in template["Resources"][name]}


def function_environment(
    template: Mapping[str, Any], done: Mapping[str, Resolved], region: str, stage: str = ""
) -> dict[str, str]:
    """The environment every function gets in AWS (the template's Globals), resolved locally."""
    variables = (
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    resolved = {}
    for name, value in variables.items():
        try:
            resolved[name] = str(resolve(value, done, region, stage))
        except _Unresolved:  # Chalice's own resources (the REST API): the stack sets these
            continue
    return resolved
