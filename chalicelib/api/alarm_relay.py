"""CloudWatch alarms to people: the relay subscribed to the alerts topics, and the banner.

`relay_alarms` is a plain Lambda function (Chalice `lambda_function`); infra/resources.json
subscribes it to `AlertsP0Topic`, `AlertsP1Topic` and `AlertsP2Topic` (one function, three
subscriptions and their invoke permissions). Each SNS record carrying a CloudWatch alarm's
state change goes through `domain/alarms.relay_alarm`; the priority is the topic's. Other
messages on the topics (OrderHub's own notices) are ignored. A record whose notice no route
took raises, so Lambda retries the invocation (SNS invokes asynchronously: two retries).

`GET /ops/banners`: the metric table's banner alarms now in ALARM (the oversell rate), for
the console to show above every page.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from chalice import Blueprint

from chalicelib.api.http import api_errors, json_response
from chalicelib.deps import container
from chalicelib.domain.alarms import (
    AlarmMessageInvalid,
    banner_alarm,
    banners,
    parse_alarm_message,
    relay_alarm,
)
from chalicelib.observability import logger, metrics

bp = Blueprint(__name__)
DEFAULT_PRIORITY = "P1"  # a topic the settings do not name (should not happen)


def topic_priority(topic_arn: str, topics: dict[str, str]) -> str:
    """P0/P1/P2 for the alerts topic's ARN (the functions' ORDERHUB_ALERTS_*_TOPIC_ARN)."""
    for priority, arn in topics.items():
        if arn == topic_arn and priority.startswith("P"):
            return priority
    name = topic_arn.rsplit(":", 1)[-1]
    suffix = name.rsplit("-", 1)[-1].upper()
    return suffix if suffix in ("P0", "P1", "P2") else DEFAULT_PRIORITY


@bp.lambda_function(name="relay_alarms")
def relay_alarms(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Alarm state changes from the alerts topics into notices (once per real change)."""
    deps = container()
    settings = deps.settings
    relayed = []
    for record in event.get("Records") or []:
        sns = record.get("Sns") or {}
        try:
            change = parse_alarm_message(str(sns.get("Message") or ""))
        except AlarmMessageInvalid as exc:  # a retry cannot fix it: say so and go on
            logger().error("unreadable alarm message", extra={"reason": str(exc)})
            metrics().add_metric(name="AlarmMessagesUnreadable", unit="Count", value=1)
            continue
        if change is None:
            continue  # an OrderHub notice published to the topic: its routes had it already
        priority = topic_priority(str(sns.get("TopicArn") or ""), dict(settings.notify_topics))
        change = replace(change, stage=settings.stage)  # its name is `orderhub-{stage}-...`
        result = relay_alarm(
            change, priority, deps.alarm_states, deps.notifier, settings.link_base_url
        )
        logger().info("alarm relayed", extra=result.to_dict())
        if result.outcome in ("announced", "recovered"):
            metrics().add_metric(name="AlarmNoticesSent", unit="Count", value=1)
        relayed.append(result.to_dict())
    return {"relayed": relayed}


@bp.route("/ops/banners", methods=["GET"])
@api_errors
def handle_banners() -> Any:
    """The banners the console shows: metric-table alarms now in ALARM (oversell rate)."""
    deps = container()
    stage = deps.settings.stage
    states = deps.alarm_states.all()
    return json_response({"banners": banners(states, lambda name: banner_alarm(name, stage))})
